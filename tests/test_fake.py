"""The fake identifAI answers as the docs say identifAI does (raw HTTP, no client of ours)."""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fakeserver import API_KEY, fake, fake_server  # noqa: F401

from identifai_mcp.fake import FakeIdentifai, url_hash, video_bytes
from identifai_mcp.fake.results import HEURISTICS

JSON = {"X-Api-Key": API_KEY, "Accept": "application/json"}


@pytest.fixture
async def http(fake: FakeIdentifai) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.base_url, headers=JSON) as session:
        yield session


async def upload(
    http: httpx.AsyncClient,
    content: bytes | None = None,
    *,
    name: str = "clip.mp4",
    content_type: str = "video/mp4",
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    files = {"video": (name, video_bytes() if content is None else content, content_type)}
    return await http.post("/api/classification_video", files=files, data=data or {}, headers=headers)


async def identifier_of(http: httpx.AsyncClient, **kwargs: Any) -> str:
    response = await upload(http, **kwargs)
    assert response.status_code == 200, response.text
    return str(response.json()["identifier"])


async def result(http: httpx.AsyncClient, identifier: str) -> dict[str, Any]:
    response = await http.get(f"/api/classification_video/{identifier}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# -- submission ----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("accept", "json_answer"),
    [("application/json", True), ("text/plain", False), ("*/*", False), ("text/html, application/json;q=0.9", False),
     ("application/json, text/plain;q=0.5", True)],
)  # fmt: skip
async def test_submit_answers_json_only_when_json_is_preferred(
    http: httpx.AsyncClient, accept: str, json_answer: bool
) -> None:
    response = await upload(http, headers={"Accept": accept})
    assert response.status_code == 200
    if json_answer:
        assert response.headers["content-type"] == "application/json"
        assert len(response.json()["identifier"]) == 64
    else:
        assert response.headers["content-type"].startswith("text/plain")
        assert len(response.text) == 64 and int(response.text, 16) >= 0


@pytest.mark.anyio
async def test_a_submission_without_a_video_part_is_a_field_error(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/classification_video", files={"image": ("a.mp4", video_bytes(), "video/mp4")})
    assert (response.status_code, response.json()) == (400, {"video": ["The video field is required."]})
    response = await http.post("/api/classification_video", data={"frames": "10"})
    assert response.json() == {"video": ["The video field is required."]}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "content_type"),
    [(video_bytes(), "image/png"), (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "video/mp4"), (b"%PDF-1.7 ...", "video/mp4"),
     (b"<html><body>hi</body></html>", "video/mp4"), (b'{"a": 1}', "video/mp4"), (b"", "video/mp4")],
)  # fmt: skip
async def test_what_is_not_a_video_is_refused_in_the_documented_words(
    http: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await upload(http, content, content_type=content_type)
    assert (response.status_code, response.json()) == (400, {"error": "The uploaded file format is not supported."})


@pytest.mark.anyio
async def test_an_upload_over_the_size_limit_gets_the_documented_message(
    http: httpx.AsyncClient, fake: FakeIdentifai
) -> None:
    fake.configure(max_video_bytes=1000)
    response = await upload(http, video_bytes(size=2000))
    assert response.status_code == 400 and "exceeds the maximum allowed size" in response.json()["error"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("frames", "7", "The selected frames is invalid."),
        ("frames", "ten", "The selected frames is invalid."),
        ("with_audio", "yes", "The with audio field must be true or false."),
        ("no_cache", "maybe", "The no cache field must be true or false."),
        ("key_frames_method", "random", "The selected key frames method is invalid."),
        ("ref_id", "r" * 256, "The ref id field must not be greater than 255 characters."),
    ],
)
async def test_options_are_validated_laravel_style(
    http: httpx.AsyncClient, field: str, value: str, message: str
) -> None:
    response = await upload(http, data={field: value})
    assert (response.status_code, response.json()) == (400, {field: [message]})


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["iframe", "iframes", "flow", "color"])
async def test_both_spellings_of_the_iframes_method_are_accepted(http: httpx.AsyncClient, method: str) -> None:
    response = await upload(http, data={"key_frames": "true", "key_frames_method": method, "with_tampering": "1"})
    assert response.status_code == 200


@pytest.mark.anyio
async def test_a_large_upload_is_hashed_as_it_streams(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    content = video_bytes() + os.urandom(5 * 1024 * 1024)
    await upload(http, content, name="big.mp4")
    seen = fake.requests[0].file
    assert seen is not None and seen.sha256 == hashlib.sha256(content).hexdigest() and seen.size == len(content)
    assert len(seen.head) == 64 * 1024  # only the first bytes are kept


@pytest.mark.anyio
async def test_submit_from_url_needs_a_valid_file_url(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    missing = await http.post("/api/video_fromurl", files={"frames": (None, "5")})
    assert (missing.status_code, missing.json()) == (400, {"file_url": ["The file url field is required."]})
    bad = await http.post("/api/video_fromurl", files={"file_url": (None, "ftp://x")})
    assert bad.json() == {"file_url": ["The file url field must be a valid URL."]}
    ok = await http.post("/api/video_fromurl", files={"file_url": (None, "https://example.com/x/clip.mp4")})
    assert ok.status_code == 200
    assert fake.jobs[0].facts.name == "clip.mp4" and fake.jobs[0].facts.hash == url_hash(
        "https://example.com/x/clip.mp4"
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("key", "status", "body"),
    [("nope", 401, {"error": "Unauthorized"}), ("", 401, {"error": "Unauthorized"}),
     ("forbidden-key", 403, {"error": "Forbidden"})],
)  # fmt: skip
async def test_keys_are_checked_on_every_route(
    fake: FakeIdentifai, key: str, status: int, body: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url, headers={"X-Api-Key": key, "Accept": "application/json"}) as h:
        for response in (
            await upload(h),
            await h.get("/api/user/credits"),
            await h.get("/api/classification_video/x"),
            await h.get("/api/classifications_video", params={"identifiers[]": "x"}),
            await h.post("/api/classification_video/abc/override", json={"classification": "human"}),
        ):
            assert (response.status_code, response.json()) == (status, body)


@pytest.mark.anyio
async def test_unknown_routes_and_methods_answer_like_laravel(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/nothing")).status_code == 404
    assert (await http.get("/api/classification_video")).status_code == 405


# -- credits and caching -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_credits_are_charged_by_frames_once_per_distinct_analysis(
    http: httpx.AsyncClient, fake: FakeIdentifai
) -> None:
    first = await identifier_of(http, data={"frames": "30"})
    assert (await http.get("/api/user/credits")).json() == {"available_credits": 994, "total_spent": 6}
    assert await identifier_of(http, data={"frames": "30", "ref_id": "other"}) == first  # cached: free
    assert await identifier_of(http, data={"frames": "5"}) != first  # other options: another job
    fresh = await identifier_of(http, data={"frames": "30", "no_cache": "true"})
    assert fresh != first
    assert (await http.get("/api/user/credits")).json() == {"available_credits": 987, "total_spent": 13}


@pytest.mark.anyio
async def test_without_credits_a_submission_is_refused(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    fake.set_credits(1)
    response = await upload(http)  # frames 10 costs 2
    assert (response.status_code, response.json()) == (
        400,
        {"error": "The user has no enough credits to perform the operation."},
    )


# -- jobs and results ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_job_is_new_for_n_polls_then_done(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    fake.configure(polls_until_done=2)
    identifier = await identifier_of(http)
    for _ in range(2):
        pending = await result(http, identifier)
        assert (pending["status"], pending["verdict"], pending["api_version"]) == ("new", None, None)
    done = await result(http, identifier)
    assert (done["status"], done["api_version"], done["identifier"]) == ("done", "1.1.0", identifier)


@pytest.mark.anyio
async def test_a_job_can_finish_after_some_seconds_instead(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    fake.configure(polls_until_done=1000, seconds_until_done=0.2)
    identifier = await identifier_of(http)
    assert (await result(http, identifier))["status"] == "new"
    await anyio.sleep(0.25)
    assert (await result(http, identifier))["status"] == "done"


@pytest.mark.anyio
@pytest.mark.parametrize("unknown", ["404", "pending"])
async def test_a_job_not_yet_visible_is_unknown_in_the_configured_way(
    http: httpx.AsyncClient, fake: FakeIdentifai, unknown: str
) -> None:
    fake.configure(hidden_polls=1, unknown=unknown)
    identifier = await identifier_of(http)
    first = await http.get(f"/api/classification_video/{identifier}")
    if unknown == "404":
        assert first.status_code == 404 and "error" in first.json()
    else:
        assert first.status_code == 200 and first.json()["status"] == "new"
    assert (await result(http, identifier))["status"] == "done"


@pytest.mark.anyio
async def test_the_batch_route_omits_unknowns_and_answers_in_its_own_order(
    http: httpx.AsyncClient, fake: FakeIdentifai
) -> None:
    a = await identifier_of(http, content=video_bytes("a"))
    b = await identifier_of(http, content=video_bytes("b"))
    response = await http.get(
        "/api/classifications_video", params=[("identifiers[]", b), ("identifiers[]", "zzz"), ("identifiers[]", a)]
    )
    assert [r["identifier"] for r in response.json()] == [a, b]
    indexed = await http.get("/api/classifications_video", params=[("identifiers[0]", b)])
    assert [r["identifier"] for r in indexed.json()] == [b]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "message"),
    [([], "The identifiers field is required."), ([("identifiers", "a")], "The identifiers field must be an array."),
     ([("identifiers[]", str(i)) for i in range(101)], "The identifiers field must not have more than 100 items.")],
)  # fmt: skip
async def test_the_batch_route_validates_its_identifiers(
    http: httpx.AsyncClient, params: list[tuple[str, str]], message: str
) -> None:
    response = await http.get("/api/classifications_video", params=params)
    assert (response.status_code, response.json()) == (400, {"identifiers": [message]})


@pytest.mark.anyio
async def test_results_are_deterministic_and_internally_consistent(
    http: httpx.AsyncClient, fake: FakeIdentifai
) -> None:
    content = video_bytes("seed-1")
    first = await result(http, await identifier_of(http, content=content))
    again = await result(http, await identifier_of(http, content=content, data={"no_cache": "true"}))
    assert first["identifier"] != again["identifier"] and first["verdicts"] == again["verdicts"]
    assert first["hash"] == hashlib.sha256(content).hexdigest()
    frames = first["results"]["images"]
    assert len(frames) == 10 and {v["heuristic"] for v in first["verdicts"]} == set(HEURISTICS)
    assert first["verdict"] == next(v for v in first["verdicts"] if v["heuristic"] == "AverageExcludeObsolete")
    assert first["verdict"]["count"] == 10 and first["verdict"]["unknown"] is False

    # The video's Average is the mean of the frames' Average, and each frame's of its models.
    def p(v: dict[str, Any]) -> float:
        return v["confidence"] if v["classification"] == "artificial" else 1 - v["confidence"]

    frame_avgs = [p(next(v for v in f["verdicts"] if v["heuristic"] == "Average")) for f in frames]
    video_avg = next(v for v in first["verdicts"] if v["heuristic"] == "Average")
    assert p(video_avg) == pytest.approx(statistics.fmean(frame_avgs))
    for frame in frames:
        scores = [next(c["score"] for c in r["classification"] if c["label"] == "artificial") for r in frame["results"]]
        assert p(next(v for v in frame["verdicts"] if v["heuristic"] == "Average")) == pytest.approx(
            statistics.fmean(scores)
        )
        assert "count" not in frame["verdict"] and [r["model"] for r in frame["results"]] == frame["verdict"]["models"]
    assert "is_nsfw" not in first and first["results"]["audios"] == []


@pytest.mark.anyio
async def test_options_shape_the_result(http: httpx.AsyncClient) -> None:
    data = {"frames": "5", "with_morphing": "true", "with_audio": "true", "with_nsfw": "true"}
    body = await result(http, await identifier_of(http, data=data))
    frames = body["results"]["images"]
    assert len(frames) == 5 and all("morphing" in [r["model"] for r in f["results"]] for f in frames)
    assert all(f["details"][0]["detections"][0]["box"] for f in frames)
    assert isinstance(body["is_nsfw"], bool)
    [audio] = body["results"]["audios"]
    assert audio["details"]["clips"] and audio["results"][0]["model"] == "Phantom"
    keyframes = await result(http, await identifier_of(http, data={"frames": "30", "key_frames": "true"}))
    assert 15 <= len(keyframes["results"]["images"]) <= 30
    plain = await result(http, await identifier_of(http, content=video_bytes("other")))
    assert all("morphing" not in [r["model"] for r in f["results"]] for f in plain["results"]["images"])


@pytest.mark.anyio
@pytest.mark.parametrize("label", ["human", "artificial"])
async def test_an_outcome_can_be_forced_by_name_or_by_hash(
    http: httpx.AsyncClient, fake: FakeIdentifai, label: str
) -> None:
    named = await result(http, await identifier_of(http, name=f"{label}-clip.mp4"))
    assert {v["classification"] for v in named["verdicts"]} == {label}
    content = video_bytes("by-hash")
    fake.set_outcome(hashlib.sha256(content).hexdigest(), label)
    by_hash = await result(http, await identifier_of(http, content=content))
    assert {v["classification"] for v in by_hash["verdicts"]} == {label}


@pytest.mark.anyio
async def test_c2pa_forces_artificial_unless_prevented(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    content = video_bytes("signed")
    fake.set_outcome(hashlib.sha256(content).hexdigest(), "human", c2pa=True)
    forced = await result(http, await identifier_of(http, content=content))
    assert forced["results"]["images"][0]["c2pa"]["validation_state"] == "Valid"
    assert forced["verdict"]["classification"] == "artificial" and forced["verdict"]["confidence"] == 1.0
    kept = await result(http, await identifier_of(http, content=content, data={"prevent_c2pa_forces": "true"}))
    assert kept["verdict"]["classification"] == "human" and kept["results"]["images"][0]["c2pa"]


@pytest.mark.anyio
async def test_unreachable_urls_and_corrupt_files_end_errored(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    response = await http.post("/api/video_fromurl", files={"file_url": (None, "https://unreachable.example/v.mp4")})
    body = await result(http, response.json()["identifier"])
    assert body["status"] == "errored" and body["errors"] and body["verdict"] is None
    corrupt = await result(http, await identifier_of(http, name="corrupt.mp4"))
    assert corrupt["status"] == "errored"


@pytest.mark.anyio
async def test_older_shapes(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    fake.configure(shape="old")
    old_id = await identifier_of(http, data={"with_audio": "true"})
    old = await result(http, old_id)
    assert old_id == old["hash"] and set(old) == {"hash", "name", "results"}
    assert isinstance(old["results"]["images"][0], list) and old["results"]["images"][0][0]["model"] == "V01"
    fake.configure(shape="middle")
    middle = await result(http, await identifier_of(http, content=video_bytes("m"), data={"with_audio": "true"}))
    assert "status" not in middle and "api_version" not in middle and "identifier" in middle
    assert "status" not in middle["results"]["images"][0]
    assert middle["results"]["audios"][0]["chunk_details"] and "details" not in middle["results"]["audios"][0]


# -- override ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_override_answers_every_documented_case(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    async def override(digest: str, body: Any) -> httpx.Response:
        return await http.post(f"/api/classification_video/{digest}/override", json=body)

    content = video_bytes("to-override")
    digest = hashlib.sha256(content).hexdigest()
    fake.configure(polls_until_done=1)
    no_request = await override(digest, {"classification": "human"})
    assert no_request.json() == {"error": "You haven't got any request for this content."}
    identifier = await identifier_of(http, content=content)
    assert (await override(digest, {"classification": "human"})).json() == {
        "error": "This video was not classified yet."
    }
    assert (await override(digest, {})).json() == {"classification": ["The classification field is required."]}
    assert (await override(digest, {"classification": "fake"})).json() == {
        "classification": ["The selected classification is invalid."]
    }
    await result(http, identifier)
    await result(http, identifier)
    ok = await override(digest, {"classification": "artificial"})
    assert (ok.status_code, ok.json()) == (201, {"classification": "artificial", "type": "video", "hash": digest})
    again = await override(digest, {"classification": "human"})
    assert (again.status_code, again.json()) == (
        400,
        {"error": "You have already submitted a report for this content."},
    )
    assert (await result(http, identifier))["force_classification"] == "artificial"


# -- rate limits and faults ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_rate_limits_are_per_key_and_answer_429_with_retry_after(
    http: httpx.AsyncClient, fake: FakeIdentifai
) -> None:
    fake.reset(api_key=(API_KEY, "k2"))  # the documented defaults: GET 2/s
    answers = [(await http.get("/api/user/credits")).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    limited = await http.get("/api/user/credits")
    assert limited.json() == {"message": "Too Many Attempts."} and int(limited.headers["Retry-After"]) >= 1
    assert (await http.get("/api/user/credits", headers={"X-Api-Key": "k2"})).status_code == 200
    assert fake.throttled == 2 and fake.peak("GET", 1.0) == 2


@pytest.mark.anyio
async def test_faults_strike_matching_requests_the_given_number_of_times(
    http: httpx.AsyncClient, fake: FakeIdentifai
) -> None:
    fake.inject("503", times=2, path_prefix="/api/user", method="GET")
    assert (await http.get("/api/classification_video/x")).status_code == 404  # other path: untouched
    assert [(await http.get("/api/user/credits")).status_code for _ in range(3)] == [503, 503, 200]
    fake.inject("429", retry_after=7)
    limited = await http.get("/api/user/credits")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    fake.inject("html-200")
    assert (await http.get("/api/user/credits")).text.startswith("<!DOCTYPE html>")
    fake.inject("truncated")
    truncated = await http.get("/api/user/credits")
    assert truncated.status_code == 200 and truncated.text.startswith('{"available')
    with pytest.raises(ValueError):
        truncated.json()
    with pytest.raises(ValueError, match="unknown fault"):
        fake.inject("explode")


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["reset", "cut"])
async def test_connection_faults_drop_the_connection(http: httpx.AsyncClient, fake: FakeIdentifai, fault: str) -> None:
    fake.inject(fault)
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get("/api/user/credits")
    assert (await http.get("/api/user/credits")).status_code == 200


@pytest.mark.anyio
async def test_a_fault_after_processing_keeps_the_side_effects(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    fake.inject("reset", after=True)
    with pytest.raises(httpx.RemoteProtocolError):
        await upload(http)
    assert len(fake.jobs) == 1 and fake.account() == (998, 2)
    fake.inject("500")
    assert (await upload(http, video_bytes("x"))).status_code == 500
    assert len(fake.jobs) == 1


@pytest.mark.anyio
async def test_a_slow_answer_arrives_late(http: httpx.AsyncClient, fake: FakeIdentifai) -> None:
    fake.inject("slow", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        await http.get("/api/user/credits", timeout=0.1)


# -- running by hand -----------------------------------------------------------------------------


def test_it_runs_from_the_command_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "identifai_mcp.fake", "--port", str(port), "--api-key", "hand-key", "--quiet"]
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path) as proc:
        try:
            assert proc.stderr is not None
            assert proc.stderr.readline().strip() == f"fake identifAI on http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/api/user/credits", headers={"X-Api-Key": "hand-key"})
                    break
                except httpx.TransportError:
                    anyio.run(anyio.sleep, 0.05)
            assert response.json() == {"available_credits": 1000, "total_spent": 0}
        finally:
            proc.terminate()
            proc.wait(timeout=10)
