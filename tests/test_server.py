"""The MCP server through the SDK's own in-memory Client, on both protocol eras, against the fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fakeserver import API_KEY, fake, fake_server, make_settings, write_video  # noqa: F401
from mcp import Client
from mcp.types import PromptReference, ResourceTemplateReference

from identifai_mcp.fake import FakeIdentifai
from identifai_mcp.server import build_server

pytestmark = pytest.mark.anyio

ERAS = ["auto", "legacy"]  # 2026-07-28 and the 2025-11-25 handshake


@pytest.fixture(params=ERAS)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(fake: FakeIdentifai, tmp_path: Path) -> Any:
    return make_settings(fake, home=tmp_path / "home", wait_seconds=5)


@pytest.fixture
async def mcp_client(settings: Any, mode: str) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode=mode) as client:
        yield client


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path, "clip.mp4", "artificial")


async def call(client: Client, name: str, args: dict[str, Any], **kw: Any) -> Any:
    with anyio.fail_after(20):
        return await client.call_tool(name, args, **kw)


async def test_protocol_version_matches_the_era(mcp_client: Client, mode: str) -> None:
    assert mcp_client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")


async def test_tools_have_schemas_descriptions_and_honest_annotations(mcp_client: Client) -> None:
    tools = {t.name: t for t in (await mcp_client.list_tools()).tools}
    assert set(tools) == {
        "classify_video_file", "classify_video_url", "get_result", "get_results_batch",
        "override", "get_credits", "inspect_video_file", "extract_frames",
    }
    for name in ("get_result", "get_results_batch", "get_credits", "inspect_video_file", "extract_frames"):
        assert tools[name].annotations.read_only_hint is True, name
    for name in ("classify_video_file", "classify_video_url", "get_result", "get_results_batch", "override", "get_credits"):
        assert tools[name].annotations.open_world_hint is True, name
    assert tools["classify_video_file"].annotations.read_only_hint is False
    assert tools["override"].annotations.destructive_hint is True
    for tool in tools.values():
        assert tool.description and tool.output_schema, tool.name
    report_props = tools["classify_video_file"].output_schema["properties"]
    for field in ("identifier", "hash", "name", "ref_id", "result_url", "status", "errors", "verdict",
                  "verdicts", "frames", "c2pa", "nsfw", "audio", "forced_classification", "summary"):
        assert field in report_props
    props = tools["classify_video_file"].input_schema["properties"]
    assert "faces" in props["with_morphing"]["description"]
    assert "credits" in props["frames"]["description"]
    assert set(props) >= {"path", "frames", "key_frames", "key_frames_method", "with_morphing", "with_tampering",
                          "with_audio", "with_nsfw", "ensure_face_per_frame", "prevent_c2pa_forces", "no_cache",
                          "ref_id", "wait_seconds"}


async def test_instructions_teach_the_workflow(mcp_client: Client) -> None:
    text = mcp_client.instructions
    assert text and "pending" in text and "get_result" in text


async def test_classify_file_reports_verdict_with_progress(mcp_client: Client, video: Path, fake: FakeIdentifai) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    result = await call(mcp_client, "classify_video_file", {"path": str(video), "frames": 10}, progress_callback=on_progress)
    assert not result.is_error, result.content[0].text
    report = result.structured_content
    assert report["status"] == "done"
    assert report["verdict"]["classification"] == "artificial"
    assert report["hash"] == fake.requests[-2].file.sha256 if fake.requests[-2].file else True
    assert report["frames"]["analysed"] == 10
    assert result.content[0].text == report["summary"]
    assert "artificial" in report["summary"]
    values = [p for p, _, _ in seen]
    assert values == sorted(values) and len(set(values)) == len(values), "progress must only increase"
    messages = " ".join(m or "" for _, _, m in seen)
    assert "uploading" in messages and "done" in messages
    form = fake.calls("POST")[-1].form
    assert form == {"frames": "10"}, "only the options the caller set are sent"


async def test_second_classification_of_the_same_file_uploads_nothing(
    mcp_client: Client, video: Path, fake: FakeIdentifai
) -> None:
    first = await call(mcp_client, "classify_video_file", {"path": str(video)})
    posts = len(fake.calls("POST"))
    again = await call(mcp_client, "classify_video_file", {"path": str(video)})
    assert len(fake.calls("POST")) == posts
    assert again.structured_content["source"] == "history"
    assert again.structured_content["verdict"] == first.structured_content["verdict"]
    forced = await call(mcp_client, "classify_video_file", {"path": str(video), "no_cache": True})
    assert len(fake.calls("POST")) == posts + 1
    assert forced.structured_content["source"] == "api"


async def test_pending_after_budget_then_done_through_get_result(
    mcp_client: Client, video: Path, fake: FakeIdentifai
) -> None:
    fake.configure(polls_until_done=1000)
    result = await call(mcp_client, "classify_video_file", {"path": str(video), "wait_seconds": 0.3})
    assert not result.is_error
    report = result.structured_content
    assert report["status"] == "pending"
    assert report["next_step"]["tool"] == "get_result"
    assert report["next_step"]["arguments"]["identifier"] == report["identifier"]
    assert report["identifier"] in result.content[0].text
    fake.finish(report["identifier"])
    done = await call(mcp_client, "get_result", {"identifier": report["identifier"], "wait_seconds": 5})
    assert done.structured_content["status"] == "done"
    assert done.structured_content["verdict"]["classification"] == "artificial"


async def test_wait_zero_submits_and_returns_at_once(mcp_client: Client, video: Path, fake: FakeIdentifai) -> None:
    fake.configure(polls_until_done=5)
    result = await call(mcp_client, "classify_video_file", {"path": str(video), "wait_seconds": 0})
    assert result.structured_content["status"] == "pending"
    assert len(fake.calls("GET")) <= 1


async def test_classify_url_and_frames_detail(mcp_client: Client, fake: FakeIdentifai) -> None:
    result = await call(mcp_client, "classify_video_url", {"url": "https://cdn.example.com/human.mp4", "frames": 5})
    assert not result.is_error, result.content[0].text
    report = result.structured_content
    assert report["verdict"]["classification"] == "human"
    assert fake.calls("POST")[-1].form["file_url"] == "https://cdn.example.com/human.mp4"
    detailed = await call(mcp_client, "get_result", {"identifier": report["identifier"], "detail": "frames"})
    table = detailed.structured_content["frame_table"]
    assert table and len(table) == report["frames"]["analysed"]


async def test_social_link_is_warned_about_not_refused(mcp_client: Client) -> None:
    result = await call(mcp_client, "classify_video_url", {"url": "https://www.tiktok.com/@a/video/1"})
    assert not result.is_error
    assert result.structured_content["warnings"]
    assert "social" in result.content[0].text


async def test_batch_splits_reports_totals_and_missing(mcp_client: Client, fake: FakeIdentifai) -> None:
    ids = []
    for name in ("artificial-1", "human-2", "artificial-3"):
        r = await call(mcp_client, "classify_video_url", {"url": f"https://cdn.example.com/{name}.mp4", "wait_seconds": 0})
        ids.append(r.structured_content["identifier"])
    unknown = "0" * 64
    result = await call(mcp_client, "get_results_batch", {"identifiers": [*ids, unknown]})
    batch = result.structured_content
    assert not result.is_error
    assert batch["missing"] == [unknown]
    assert batch["totals"]["artificial"] == 2 and batch["totals"]["human"] == 1
    assert len(batch["results"]) == 3
    assert batch["table"].count("\n") >= 3


async def test_override_by_identifier_resolves_the_hash(mcp_client: Client, video: Path, fake: FakeIdentifai) -> None:
    report = (await call(mcp_client, "classify_video_file", {"path": str(video)})).structured_content
    result = await call(mcp_client, "override", {"identifier": report["identifier"], "classification": "human"})
    assert not result.is_error, result.content[0].text
    assert result.structured_content == {"classification": "human", "type": "video", "hash": report["hash"]}
    assert fake.calls("POST")[-1].path.endswith(f"/{report['hash']}/override")
    again = await call(mcp_client, "override", {"hash": report["hash"], "classification": "human"})
    assert again.is_error and "already submitted a report" in again.content[0].text


@pytest.mark.parametrize("args", [
    {"classification": "human"},
    {"classification": "human", "identifier": "a" * 64, "hash": "b" * 64},
])
async def test_override_needs_exactly_one_of_identifier_or_hash(mcp_client: Client, args: dict[str, str]) -> None:
    result = await call(mcp_client, "override", args)
    assert result.is_error and "exactly one of identifier or hash" in result.content[0].text


async def test_get_credits(mcp_client: Client, fake: FakeIdentifai) -> None:
    result = await call(mcp_client, "get_credits", {})
    assert not result.is_error
    available, spent = fake.account(API_KEY)
    assert result.structured_content["available_credits"] == available
    assert str(available) in result.content[0].text


@pytest.mark.parametrize("name,args,needle", [
    ("classify_video_file", {"path": "/no/such/file.mp4"}, "No such file"),
    ("classify_video_file", {"path": str(Path(__file__))}, "Not a video"),
    ("classify_video_file", {"path": "x.mp4", "frames": 7}, "frames"),
    ("classify_video_url", {"url": "file:///etc/passwd"}, "not supported"),
    ("get_result", {"identifier": "../../etc"}, "not a valid identifAI identifier"),
    ("get_result", {"identifier": "f" * 64}, "identifier"),
    ("get_results_batch", {"identifiers": []}, "identifiers"),
    ("get_result", {"identifier": "a" * 64, "wait_seconds": -1}, "wait_seconds"),
])
async def test_bad_input_is_a_clear_tool_error_and_the_server_survives(
    mcp_client: Client, name: str, args: dict[str, Any], needle: str
) -> None:
    result = await call(mcp_client, name, args)
    assert result.is_error
    assert needle in result.content[0].text
    assert "Traceback" not in result.content[0].text
    assert not (await call(mcp_client, "get_credits", {})).is_error


async def test_missing_key_says_how_to_set_it(fake: FakeIdentifai, tmp_path: Path, video: Path) -> None:
    settings = make_settings(fake, home=tmp_path / "h", api_key=None)
    async with Client(build_server(settings)) as client:
        result = await call(client, "classify_video_file", {"path": str(video)})
        assert result.is_error and "IDENTIFAI_API_KEY" in result.content[0].text
        # the free local tools still work without a key
        listed = await client.list_tools()
        assert listed.tools


async def test_api_errors_carry_the_api_message(mcp_client: Client, video: Path, fake: FakeIdentifai) -> None:
    fake.set_credits(0)
    result = await call(mcp_client, "classify_video_file", {"path": str(video), "no_cache": True})
    assert result.is_error and "credits" in result.content[0].text
    rows = json.loads((await mcp_client.read_resource("identifai://history?status=failed")).contents[0].text)["items"]
    assert rows and rows[0]["status"] == "failed"


async def test_resources_list_templates_and_reads(mcp_client: Client, video: Path) -> None:
    report = (await call(mcp_client, "classify_video_file", {"path": str(video)})).structured_content
    identifier = report["identifier"]
    uris = [str(r.uri) for r in (await mcp_client.list_resources()).resources]
    assert "identifai://history" in uris and f"identifai://videos/{identifier}" in uris
    templates = {t.uri_template for t in (await mcp_client.list_resource_templates()).resource_templates}
    assert {"identifai://videos/{identifier}", "identifai://videos/{identifier}/summary",
            "identifai://frames/{hash}/{index}"} <= templates
    raw = json.loads((await mcp_client.read_resource(f"identifai://videos/{identifier}")).contents[0].text)
    assert raw["identifier"] == identifier and raw["results"]["images"]
    summary = (await mcp_client.read_resource(f"identifai://videos/{identifier}/summary")).contents[0]
    assert summary.mime_type == "text/markdown" and "artificial" in summary.text
    history = json.loads((await mcp_client.read_resource("identifai://history")).contents[0].text)
    item = history["items"][0]
    assert {"identifier", "hash", "source", "name", "ref_id", "submitted_at", "status", "classification",
            "confidence"} <= set(item)
    assert item["identifier"] == identifier and item["classification"] == "artificial"


async def test_unknown_video_resource_is_not_found(mcp_client: Client) -> None:
    with pytest.raises(Exception) as info:
        await mcp_client.read_resource("identifai://videos/" + "e" * 64)
    assert "e" * 16 in str(info.value) or "not" in str(info.value).lower()


async def test_identifier_completion_comes_from_history(mcp_client: Client, video: Path) -> None:
    report = (await call(mcp_client, "classify_video_file", {"path": str(video)})).structured_content
    ref = ResourceTemplateReference(type="ref/resource", uri="identifai://videos/{identifier}")
    done = await mcp_client.complete(ref, argument={"name": "identifier", "value": report["identifier"][:6]})
    assert report["identifier"] in done.completion.values
    prompt_ref = PromptReference(type="ref/prompt", name="explain_result")
    done = await mcp_client.complete(prompt_ref, argument={"name": "identifier", "value": ""})
    assert report["identifier"] in done.completion.values


async def test_prompts_are_loaded_from_files(mcp_client: Client) -> None:
    prompts = {p.name: p for p in (await mcp_client.list_prompts()).prompts}
    assert {"verify_video", "explain_result"} <= set(prompts)
    assert [a.name for a in prompts["verify_video"].arguments] == ["source"]
    got = await mcp_client.get_prompt("verify_video", {"source": "https://e.com/{x}.mp4"})
    text = got.messages[0].content.text
    assert "https://e.com/{x}.mp4" in text and "classify_video_url" in text
    got = await mcp_client.get_prompt("explain_result", {"identifier": "abc"})
    assert "abc" in got.messages[0].content.text


async def test_cancelled_wait_keeps_the_submission(settings: Any, video: Path, fake: FakeIdentifai) -> None:
    fake.configure(polls_until_done=10_000)
    async with Client(build_server(settings.model_copy(update={"poll_interval": 0.05}))) as client:
        with anyio.move_on_after(1.0):
            await client.call_tool("classify_video_file", {"path": str(video), "wait_seconds": 30})
        history = json.loads((await client.read_resource("identifai://history")).contents[0].text)
        assert history["items"][0]["status"] == "pending"
        assert history["items"][0]["identifier"]
        assert not (await call(client, "get_credits", {})).is_error


async def test_concurrent_waits_share_one_poller(settings: Any, tmp_path: Path, fake: FakeIdentifai) -> None:
    fake.configure(polls_until_done=3)
    async with Client(build_server(settings.model_copy(update={"poll_interval": 0.2, "poll_interval_max": 0.2}))) as client:
        results: list[Any] = []

        async def one(i: int) -> None:
            r = await call(client, "classify_video_url", {"url": f"https://cdn.example.com/v{i}.mp4", "wait_seconds": 10})
            results.append(r)

        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(one, i)
    assert all(r.structured_content["status"] == "done" for r in results)
    singles = len(fake.calls("GET", "/api/classification_video/"))
    batches = len(fake.calls("GET", "/api/classifications_video"))
    assert batches >= 1
    assert singles + batches < 4 * 4, "four waits must not each poll alone"


async def test_extract_frames_links_resources_that_can_be_read(mcp_client: Client, tmp_path: Path) -> None:
    from media import make_mp4

    video = make_mp4(tmp_path / "real.mp4", seconds=1, fps=10)
    result = await call(mcp_client, "extract_frames", {"path": str(video), "frames": 3})
    assert not result.is_error, result.content[0].text
    links = [c for c in result.content if c.type == "resource_link"]
    assert len(links) == 3
    blob = (await mcp_client.read_resource(str(links[0].uri))).contents[0]
    assert blob.mime_type == "image/jpeg"
    import base64

    assert base64.b64decode(blob.blob)[:2] == b"\xff\xd8"


async def test_inspect_video_file_needs_no_key(fake: FakeIdentifai, tmp_path: Path) -> None:
    from media import make_mp4

    video = make_mp4(tmp_path / "real.mp4", seconds=1, fps=10)
    async with Client(build_server(make_settings(fake, home=tmp_path / "h", api_key=None))) as client:
        result = await call(client, "inspect_video_file", {"path": str(video)})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["c2pa"]["present"] is False
    assert "proves nothing" in result.content[0].text or "prove" in result.content[0].text


async def test_allowed_dirs_are_enforced(fake: FakeIdentifai, tmp_path: Path, video: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    settings = make_settings(fake, home=tmp_path / "h", allowed_dirs=(allowed,))
    async with Client(build_server(settings)) as client:
        result = await call(client, "classify_video_file", {"path": str(video)})
        assert result.is_error and "outside the allowed folders" in result.content[0].text
        assert not fake.calls("POST")


@pytest.mark.parametrize("which,needle", [("signed", "generated by AI"), ("tampered", "")])
async def test_classify_adds_local_provenance_to_the_report(
    mcp_client: Client, tmp_path_factory: pytest.TempPathFactory, which: str, needle: str
) -> None:
    from media import Media

    video = getattr(Media.for_session(tmp_path_factory), which)
    result = await call(mcp_client, "classify_video_file", {"path": str(video)})
    assert not result.is_error, result.content[0].text
    report = result.structured_content
    provenance = report["provenance"]
    assert provenance["c2pa"]["present"] is True
    assert provenance["c2pa"]["ai_declaration"] == "generated"
    summary = report["summary"].lower()
    assert "credentials" in summary
    if which == "tampered":
        assert provenance["c2pa"]["validation_failures"]
        assert "not validate" in summary or "broken" in summary or "fail" in summary
    else:
        assert "ai" in summary


async def test_a_slow_api_cannot_hold_a_call_past_its_budget(settings: Any, video: Path, fake: FakeIdentifai) -> None:
    quick = settings.model_copy(update={"fetch_grace": 0.5, "read_timeout": 10.0})
    async with Client(build_server(quick)) as client:
        submitted = await call(client, "classify_video_file", {"path": str(video), "wait_seconds": 0})
        identifier = submitted.structured_content["identifier"]
        fake.inject("slow", times=5, method="GET", delay=3.0)
        start = anyio.current_time()
        result = await call(client, "get_result", {"identifier": identifier})
        assert anyio.current_time() - start < 2.5
        assert result.is_error and "did not answer" in result.content[0].text
        fake.inject("slow", times=5, method="GET", delay=3.0)
        again = await call(client, "classify_video_url", {"url": "https://cdn.example.com/slow.mp4", "wait_seconds": 0})
        assert not again.is_error and again.structured_content["status"] == "pending"
        assert again.structured_content["identifier"]
