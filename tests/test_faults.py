"""Every fault the fake identifAI can inject, end to end through the MCP server (and the CLI).

On a GET the fault is absorbed within the budget and the tool still returns the report. On a
submission it becomes one clear error, the history keeps a row saying what is known, nothing is
uploaded twice unless identifAI provably refused it before processing (a 429), and the server
answers the next call.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fakeserver import API_KEY, fake, fake_server, make_settings, write_video  # noqa: F401
from mcp import Client

from identifai_mcp.cli import main
from identifai_mcp.fake import FakeIdentifai
from identifai_mcp.history import HistoryEntry, HistoryStore
from identifai_mcp.server import build_server
from identifai_mcp.service import key_scope

pytestmark = pytest.mark.anyio

READ_TIMEOUT = 0.5
SLOW = READ_TIMEOUT + 0.4  # a "slow" answer arrives after the client gave up waiting for it
SUBMIT_PATHS = {"classify_video_file": "/api/classification_video", "classify_video_url": "/api/video_fromurl"}
SINGLE_GET = "/api/classification_video/"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def settings(fake_server: FakeIdentifai, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("faults-home")
    return make_settings(fake_server, home=home, read_timeout=READ_TIMEOUT, max_retries=2, wait_seconds=5)


@pytest.fixture(scope="module")
async def mcp_client(settings: Any) -> AsyncIterator[Client]:
    """One server for the module, as in real use: each fault must leave it able to serve the next."""
    async with Client(build_server(settings)) as client:
        yield client


@pytest.fixture
def video(tmp_path: Path) -> Path:
    # Content of its own, so that the module's shared history never answers from an earlier test.
    return write_video(tmp_path, "clip.mp4", f"artificial {tmp_path.name}")


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"https://cdn.example.com/{tmp_path.name}/human.mp4"


async def call(client: Client, name: str, args: dict[str, Any]) -> Any:
    with anyio.fail_after(15):
        return await client.call_tool(name, args)


def text_of(result: Any) -> str:
    return result.content[0].text


def rows(settings: Any, source: str | Path) -> list[HistoryEntry]:
    """This test's rows (by their source), newest first."""
    with HistoryStore.open(settings.home) as store:
        entries, _ = store.scoped(key_scope(API_KEY)).list(limit=1000)
    return [e for e in entries if e.source == str(source)]


async def assert_alive(client: Client) -> None:
    result = await call(client, "get_credits", {})
    assert not result.is_error, text_of(result)


def source_of(tool: str, video: Path, url: str) -> str:
    return str(video) if tool == "classify_video_file" else url


def submit_args(tool: str, video: Path, url: str, **extra: Any) -> dict[str, Any]:
    key = "path" if tool == "classify_video_file" else "url"
    return {key: source_of(tool, video, url), **extra}


# -- GETs: absorbed within the budget ---------------------------------------------------------------

GET_FAULTS = [  # a fault, or a storm of 429s, then the next try works (max_retries=2)
    pytest.param({"fault": "500", "times": 1}, id="500"),
    pytest.param({"fault": "502", "times": 1}, id="502"),
    pytest.param({"fault": "503", "times": 1}, id="503"),
    pytest.param({"fault": "html-502", "times": 1}, id="html-502"),
    pytest.param({"fault": "html-200", "times": 1}, id="html-200"),
    pytest.param({"fault": "429", "times": 2}, id="429-storm-without-retry-after"),
    pytest.param({"fault": "429", "times": 2, "retry_after": 0.2}, id="429-storm-with-retry-after"),
    pytest.param({"fault": "reset", "times": 1}, id="reset"),
    pytest.param({"fault": "cut", "times": 1}, id="cut"),
    pytest.param({"fault": "truncated", "times": 1}, id="truncated"),
    pytest.param({"fault": "slow", "times": 1, "delay": SLOW}, id="slow"),
]


@pytest.mark.parametrize("fault", GET_FAULTS)
async def test_get_faults_are_absorbed_and_the_classify_tool_still_returns_the_report(
    mcp_client: Client, fake: FakeIdentifai, video: Path, fault: dict[str, Any], settings: Any
) -> None:
    fault = dict(fault)
    kind = fault.pop("fault")
    fake.inject(kind, method="GET", path_prefix=SINGLE_GET, **fault)
    started = anyio.current_time()
    result = await call(mcp_client, "classify_video_file", {"path": str(video), "wait_seconds": 5})
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "done"
    assert result.structured_content["verdict"]["classification"] == "artificial"
    assert anyio.current_time() - started < 5
    assert len(fake.calls("POST")) == 1
    assert [r.fault for r in fake.calls("GET", SINGLE_GET)][: fault["times"]] == [kind] * fault["times"]
    assert [r.status for r in rows(settings, video)] == ["done"]


@pytest.mark.parametrize("fault", [f for f in GET_FAULTS if f.id in ("html-200", "429-storm-with-retry-after",
                                                                      "reset", "slow")])
async def test_get_faults_are_absorbed_by_get_result(
    mcp_client: Client, fake: FakeIdentifai, url: str, fault: dict[str, Any]
) -> None:
    submitted = await call(mcp_client, "classify_video_url", {"url": url, "wait_seconds": 0})
    identifier = submitted.structured_content["identifier"]
    fault = dict(fault)
    fake.inject(fault.pop("fault"), method="GET", path_prefix=SINGLE_GET, **fault)
    result = await call(mcp_client, "get_result", {"identifier": identifier, "wait_seconds": 3})
    assert not result.is_error, text_of(result)
    assert result.structured_content["identifier"] == identifier
    assert result.structured_content["verdict"]["classification"] == "human"


@pytest.mark.parametrize("kind", ["503", "reset", "html-200"])
async def test_batch_get_faults_are_absorbed(mcp_client: Client, fake: FakeIdentifai, url: str, kind: str) -> None:
    ids = []
    for name in ("human-1", "artificial-2"):
        r = await call(mcp_client, "classify_video_url", {"url": f"{url}/{name}.mp4", "wait_seconds": 0})
        ids.append(r.structured_content["identifier"])
    fake.inject(kind, times=2, method="GET", path_prefix="/api/classifications_video")
    result = await call(mcp_client, "get_results_batch", {"identifiers": ids})
    assert not result.is_error, text_of(result)
    assert result.structured_content["missing"] == []
    assert {r["identifier"] for r in result.structured_content["results"]} == set(ids)


async def test_a_get_storm_longer_than_the_retries_is_a_clear_error_and_the_server_lives(
    mcp_client: Client, fake: FakeIdentifai, url: str
) -> None:
    submitted = await call(mcp_client, "classify_video_url", {"url": url, "wait_seconds": 0})
    fake.inject("503", times=3, method="GET")
    result = await call(mcp_client, "get_result", {"identifier": submitted.structured_content["identifier"]})
    assert result.is_error
    assert text_of(result).endswith("Service Unavailable. identifAI had an internal problem; try again in a minute.")
    await assert_alive(mcp_client)


async def test_polls_failing_after_an_accepted_upload_return_pending_with_the_identifier(
    mcp_client: Client, fake: FakeIdentifai, video: Path, settings: Any
) -> None:
    fake.inject("502", times=50, method="GET", path_prefix=SINGLE_GET)
    result = await call(mcp_client, "classify_video_file", {"path": str(video), "wait_seconds": 2})
    assert not result.is_error, text_of(result)
    report = result.structured_content
    identifier = fake.calls("POST")[0].identifier
    assert report["status"] == "pending" and report["identifier"] == identifier
    assert report["next_step"]["arguments"]["identifier"] == identifier
    assert "checking its result failed: Bad Gateway" in text_of(result)
    assert any("Bad Gateway" in w for w in report["warnings"])
    assert [(r.status, r.identifier) for r in rows(settings, video)] == [("pending", identifier)]
    assert len(fake.calls("POST")) == 1
    await assert_alive(mcp_client)


# -- submissions: one clear error, a row that says what is known, no second upload ----------------

SUBMIT_FAULTS = [
    pytest.param("500", {}, "Server Error. identifAI had an internal problem", id="500"),
    pytest.param("502", {}, "Bad Gateway. identifAI had an internal problem", id="502"),
    pytest.param("503", {}, "Service Unavailable. identifAI had an internal problem", id="503"),
    pytest.param("html-502", {}, "identifAI answered HTTP 502 with an HTML page", id="html-502"),
    pytest.param("html-200", {}, "identifAI answered HTTP 200 with an HTML page, which holds no identifier", id="html-200"),
    pytest.param("reset", {}, "The connection to identifAI failed during the request", id="reset"),
    pytest.param("reset", {"after": True}, "it may or may not have been received", id="reset-after-charging"),
    pytest.param("cut", {}, "The connection to identifAI failed during the request", id="cut"),
    pytest.param("truncated", {}, "which holds no identifier", id="truncated"),
    pytest.param("429", {"retry_after": 3600}, "Too Many Attempts.", id="429-retry-after-too-long-to-sleep"),
]
SUBMIT_HINTS = {
    "500": "try again in a minute", "502": "try again in a minute", "503": "try again in a minute",
    "html-502": "try again in a minute", "html-200": "cannot read", "reset": "would charge again",
    "cut": "would charge again", "truncated": "cannot read", "429": "rate limit",
}


@pytest.mark.parametrize("tool", list(SUBMIT_PATHS))
@pytest.mark.parametrize(("kind", "options", "message"), SUBMIT_FAULTS)
async def test_submit_fault_is_one_clear_error_with_a_failed_row_and_no_second_upload(
    mcp_client: Client, fake: FakeIdentifai, video: Path, url: str, settings: Any,
    tool: str, kind: str, options: dict[str, Any], message: str,
) -> None:
    fake.inject(kind, method="POST", path_prefix=SUBMIT_PATHS[tool], **options)
    result = await call(mcp_client, tool, submit_args(tool, video, url))
    text = text_of(result)
    assert result.is_error
    assert message in text and SUBMIT_HINTS[kind] in text
    assert "Traceback" not in text and 'File "' not in text
    assert len(fake.calls("POST")) == 1, "a submission that may have reached identifAI is never sent again"
    [row] = rows(settings, source_of(tool, video, url))
    assert row.status == "failed" and row.error and message in row.error
    if tool == "classify_video_file":
        assert row.hash == hashlib.sha256(video.read_bytes()).hexdigest(), "what is known: the file's hash"
    await assert_alive(mcp_client)


@pytest.mark.parametrize(("tool", "retry_after"), [
    pytest.param("classify_video_file", None, id="file-without-retry-after"),
    pytest.param("classify_video_file", 0.2, id="file-with-retry-after"),
    pytest.param("classify_video_url", 0.2, id="url-with-retry-after"),
])
async def test_a_429_storm_on_submit_is_retried_because_identifai_refused_it_unprocessed(
    mcp_client: Client, fake: FakeIdentifai, video: Path, url: str, settings: Any, tool: str,
    retry_after: float | None,
) -> None:
    fake.inject("429", times=2, method="POST", retry_after=retry_after)
    result = await call(mcp_client, tool, submit_args(tool, video, url, wait_seconds=5))
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "done"
    assert [r.status for r in fake.calls("POST")] == [429, 429, 200]
    assert fake.account(API_KEY)[1] > 0 and len(fake.jobs) == 1, "charged once"
    assert [r.status for r in rows(settings, source_of(tool, video, url))] == ["done"]


@pytest.mark.parametrize("tool", list(SUBMIT_PATHS))
async def test_a_429_storm_longer_than_the_retries_fails_clearly_and_charges_nothing(
    mcp_client: Client, fake: FakeIdentifai, video: Path, url: str, settings: Any, tool: str
) -> None:
    fake.inject("429", times=3, method="POST", retry_after=0.1)
    result = await call(mcp_client, tool, submit_args(tool, video, url))
    assert result.is_error
    assert text_of(result).endswith(
        "Too Many Attempts. identifAI's rate limit was reached: wait a few seconds and try again."
    )
    assert len(fake.calls("POST")) == 3 and fake.account(API_KEY) == (1000, 0) and not fake.jobs
    [row] = rows(settings, source_of(tool, video, url))
    assert row.status == "failed" and "Too Many Attempts" in (row.error or "")
    await assert_alive(mcp_client)


async def test_a_slow_answer_to_an_upload_is_awaited_not_abandoned(
    mcp_client: Client, fake: FakeIdentifai, video: Path, settings: Any
) -> None:
    # identifAI answers an upload only once the file is stored: past read_timeout is still fine.
    fake.inject("slow", method="POST", delay=SLOW)
    result = await call(mcp_client, "classify_video_file", {"path": str(video)})
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "done"
    assert len(fake.calls("POST")) == 1
    assert [r.status for r in rows(settings, video)] == ["done"]


async def test_a_slow_answer_to_a_url_submission_is_a_clear_error_not_a_second_submission(
    mcp_client: Client, fake: FakeIdentifai, url: str, settings: Any
) -> None:
    fake.inject("slow", method="POST", delay=SLOW)
    result = await call(mcp_client, "classify_video_url", {"url": url})
    assert result.is_error
    assert "The connection to identifAI failed during the request (ReadTimeout)" in text_of(result)
    assert "would charge again" in text_of(result)
    await assert_alive(mcp_client)
    with anyio.fail_after(2):
        while not fake.calls("POST"):  # the fake logs the late answer once it has sent it
            await anyio.sleep(0.05)
    assert len(fake.calls("POST")) == 1
    [row] = rows(settings, url)
    assert row.status == "failed" and "ReadTimeout" in (row.error or "")


async def test_a_lost_answer_after_charging_leaves_a_failed_row_then_a_retry_reuses_identifai_s_job(
    mcp_client: Client, fake: FakeIdentifai, video: Path, settings: Any
) -> None:
    fake.inject("cut", method="POST")
    failed = await call(mcp_client, "classify_video_file", {"path": str(video)})
    assert failed.is_error and "Check get_credits or the dashboard" in text_of(failed)
    spent = fake.account(API_KEY)[1]
    again = await call(mcp_client, "classify_video_file", {"path": str(video), "wait_seconds": 5})
    assert not again.is_error, text_of(again)
    assert fake.account(API_KEY)[1] == spent, "identifAI's cache answered the repeat without charging"
    assert [r.status for r in rows(settings, video)] == ["done", "failed"]


# -- the CLI: one line on stderr, no traceback without --debug --------------------------------------


@pytest.fixture
def cli_env(fake: FakeIdentifai, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import logging

    monkeypatch.setenv("IDENTIFAI_API_KEY", API_KEY)
    monkeypatch.setenv("IDENTIFAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("IDENTIFAI_MCP_HOME", str(tmp_path / "cli-home"))
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "httpx", "httpcore", "uvicorn.access")}
    filters = {h: list(h.filters) for h in [*root.handlers, logging.lastResort] if h is not None}
    factory = logging.getLogRecordFactory()  # main() installs redaction on the root logger
    yield tmp_path / "cli-home"
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)
    for handler, saved in filters.items():
        handler.filters[:] = saved
    logging.setLogRecordFactory(factory)


@pytest.mark.parametrize(("kind", "message"), [
    ("503", "identifai-mcp: Service Unavailable. identifAI had an internal problem; try again in a minute.\n"),
    ("html-200", "identifai-mcp: identifAI answered HTTP 200 with an HTML page, which holds no identifier. "),
    ("reset", "identifai-mcp: The connection to identifAI failed during the request (RemoteProtocolError)"),
])
def test_cli_submit_fault_is_one_line_on_stderr(
    cli_env: Path, fake: FakeIdentifai, video: Path, capsys: pytest.CaptureFixture[str], kind: str, message: str
) -> None:
    fake.inject(kind, method="POST")
    assert main(["classify", str(video), "--wait", "0"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(message) and err.count("\n") == 1
    assert "Traceback" not in err
    with HistoryStore.open(cli_env) as store:
        assert [e.status for e in store.scoped(key_scope(API_KEY)).list()[0]] == ["failed"]
    assert main(["credits"]) == 0


def test_cli_get_fault_is_absorbed(
    cli_env: Path, fake: FakeIdentifai, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["classify", "https://cdn.example.com/cli/human.mp4", "--wait", "0", "--json"]) == 0
    identifier = fake.calls("POST")[0].identifier
    capsys.readouterr()
    fake.inject("reset", method="GET")
    assert main(["result", identifier]) == 0
    out, err = capsys.readouterr()
    assert "human" in out and err == ""


def test_cli_process_prints_no_traceback_on_a_fault_without_debug(fake: FakeIdentifai, video: Path, tmp_path: Path) -> None:
    """A real process, so that log output reaches stderr as it would for a user."""
    env = {**os.environ, "IDENTIFAI_API_KEY": API_KEY, "IDENTIFAI_BASE_URL": fake.base_url,
           "IDENTIFAI_MCP_HOME": str(tmp_path / "proc-home")}
    fake.inject("cut", method="POST")
    done = subprocess.run([sys.executable, "-m", "identifai_mcp", "classify", str(video), "--wait", "0"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("identifai-mcp: The connection to identifAI failed during the request")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
