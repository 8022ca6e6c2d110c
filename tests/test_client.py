from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import re
import socket
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fakeserver import API_KEY, client, fake, fake_server, make_settings, write_video  # noqa: F401

from identifai_mcp import __version__
from identifai_mcp.client import BATCH_SIZE, IdentifaiClient
from identifai_mcp.errors import (
    ApiError,
    ApiUnreachable,
    BadRequest,
    ConfigError,
    FileRefused,
    Forbidden,
    IdentifaiError,
    InputError,
    MalformedResponse,
    MissingApiKey,
    NoCredits,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    UploadInterrupted,
)
from identifai_mcp.fake import FakeIdentifai
from identifai_mcp.models import ClassifyOptions
from identifai_mcp.settings import RateLimits, Settings

NO_OPTIONS = ClassifyOptions()


class Relay(httpx.AsyncBaseTransport):
    """Real HTTP to the fake, with one thing changed on the way out."""

    def __init__(self, *, connect_failures: int = 0, accept: str | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.connect_failures, self.accept, self.attempts = connect_failures, accept, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.accept is not None:
            request.headers["Accept"] = self.accept
        if self.connect_failures > 0:
            self.connect_failures -= 1
            async for _ in request.stream:  # part of the body was read before the failure:
                break  # the retry must start the file (and its hash) again from byte 0
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def mock_client(handler: Any, **settings: Any) -> IdentifaiClient:
    values = {"api_key": API_KEY, "base_url": "http://identifai.test", "max_retries": 0, **settings}
    return IdentifaiClient(Settings(**values), transport=httpx.MockTransport(handler))


async def submitted(client: IdentifaiClient, tmp_path: Path, name: str = "clip.mp4", marker: str = "") -> str:
    return (await client.submit_file(write_video(tmp_path, name, marker), NO_OPTIONS)).identifier


# -- headers, keys ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_call_sends_accept_json_the_key_and_the_user_agent(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    identifier = await submitted(client, tmp_path)
    await client.get_result(identifier)
    await client.get_results([identifier])
    await client.get_credits()
    await client.submit_url("https://example.com/a.mp4", NO_OPTIONS)
    assert len(fake.requests) == 5
    for request in fake.requests:
        assert request.headers["accept"] == "application/json"
        assert request.headers["x-api-key"] == API_KEY
        assert request.headers["user-agent"] == f"identifai-mcp/{__version__}"


@pytest.mark.anyio
async def test_a_missing_key_fails_at_call_time_and_sends_nothing(fake: FakeIdentifai) -> None:
    api = IdentifaiClient(make_settings(fake, api_key=None))  # constructing it is fine
    async with api:
        with pytest.raises(MissingApiKey):
            await api.get_credits()
    assert fake.requests == []


@pytest.mark.anyio
async def test_the_api_key_argument_overrides_the_settings_key(fake: FakeIdentifai) -> None:
    async with IdentifaiClient(make_settings(fake, api_key="wrong"), api_key=API_KEY) as api:
        await api.get_credits()
    assert fake.requests[0].headers["x-api-key"] == API_KEY


@pytest.mark.anyio
async def test_a_key_that_cannot_be_a_header_is_refused_without_echoing_it(fake: FakeIdentifai) -> None:
    async with IdentifaiClient(make_settings(fake), api_key="sk-secret\nX-Evil: 1") as api:
        with pytest.raises(ConfigError) as caught:
            await api.get_credits()
    assert "sk-secret" not in caught.value.describe()


@pytest.mark.anyio
async def test_for_key_uses_the_other_key_with_its_own_account(fake: FakeIdentifai, client: IdentifaiClient) -> None:
    fake.configure(api_key=(API_KEY, "second-key"))
    fake.set_credits(7, key="second-key")
    other = client.for_key("second-key")
    assert (await other.get_credits()).available_credits == 7
    await other.aclose()  # leaves the shared pool open for its parent
    assert (await client.get_credits()).available_credits == 1000
    assert [r.headers["x-api-key"] for r in fake.requests] == ["second-key", API_KEY]


@pytest.mark.anyio
async def test_each_key_has_its_own_rate_limiter_and_the_same_key_shares_one(fake: FakeIdentifai) -> None:
    fake.configure(api_key=(API_KEY, "second-key"))
    one_a_minute = RateLimits(get_per_second=1, get_per_minute=1, post_per_second=1, post_per_minute=1)
    async with IdentifaiClient(make_settings(fake, rate_limits=one_a_minute)) as api:
        with anyio.fail_after(5):
            await api.get_credits()
            await api.for_key("second-key").get_credits()  # not held back by the first key's call
        with anyio.move_on_after(0.3) as held:
            await api.for_key(API_KEY).get_credits()  # the first key's minute is used up
    assert held.cancelled_caught
    assert len(fake.requests) == 2


# -- submit --------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("clip.mp4", "video/mp4"),
        ("Holiday Clip.MOV", "video/quicktime"),
        ("a.mkv", "video/x-matroska"),
        ("a.webm", "video/webm"),
        ("a.avi", "video/x-msvideo"),
        ("no-extension", "video/mp4"),
        ("weird.bin", "video/mp4"),
    ],
)
async def test_the_upload_is_a_video_part_with_a_video_type_and_the_basename(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path, name: str, content_type: str
) -> None:
    path = write_video(tmp_path, name, size=10_000)
    submission = await client.submit_file(path, NO_OPTIONS)
    upload = fake.requests[0].file
    assert upload is not None
    assert (upload.name, upload.filename, upload.content_type) == ("video", name, content_type)
    assert submission.name == name and submission.size == 10_000
    assert submission.identifier == fake.requests[0].identifier


@pytest.mark.anyio
async def test_the_hash_is_the_sha256_of_the_file_and_matches_what_arrived(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    path = write_video(tmp_path, size=3 * 1024 * 1024 + 17)  # several read chunks, and a ragged end
    submission = await client.submit_file(path, NO_OPTIONS)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert submission.hash == expected
    assert fake.requests[0].file.sha256 == expected  # type: ignore[union-attr]
    assert fake.jobs[0].facts.hash == expected


@pytest.mark.anyio
async def test_only_the_options_that_are_set_are_sent_with_booleans_as_true_false(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    options = ClassifyOptions(
        frames=30, key_frames=True, key_frames_method="color", with_morphing=False, no_cache=True, ref_id="case-7"
    )
    await client.submit_file(write_video(tmp_path), options)
    await client.submit_file(write_video(tmp_path, "b.mp4"), NO_OPTIONS)
    await client.submit_url("https://example.com/v.mp4", ClassifyOptions(with_audio=True))
    first, second, third = (r.form for r in fake.requests)
    assert first == {
        "frames": "30",
        "key_frames": "true",
        "key_frames_method": "color",
        "with_morphing": "false",
        "no_cache": "true",
        "ref_id": "case-7",
    }
    assert second == {}
    assert third == {"file_url": "https://example.com/v.mp4", "with_audio": "true"}


@pytest.mark.anyio
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_upload_progress_rises_to_the_file_size(
    client: IdentifaiClient, tmp_path: Path, asynchronous: bool
) -> None:
    size = 2 * 1024 * 1024 + 5
    seen: list[tuple[int, int]] = []

    def sync_progress(sent: int, total: int) -> None:
        seen.append((sent, total))

    async def async_progress(sent: int, total: int) -> None:
        seen.append((sent, total))

    progress = async_progress if asynchronous else sync_progress
    await client.submit_file(write_video(tmp_path, size=size), NO_OPTIONS, on_progress=progress)
    assert seen[-1] == (size, size)
    assert [s for s, _ in seen] == sorted(s for s, _ in seen) and len(seen) >= 3


@pytest.mark.anyio
async def test_the_upload_streams_in_constant_memory(client: IdentifaiClient, tmp_path: Path) -> None:
    path = tmp_path / "big.mp4"
    with path.open("wb") as f:
        f.write(write_video(tmp_path, "head.mp4").read_bytes())
        f.truncate(48 * 1024 * 1024)  # sparse: cheap to make, still 48 MiB to read and send
    tracemalloc.start()
    try:
        await client.submit_file(path, NO_OPTIONS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 * 1024 * 1024  # client and fake together: a few chunks, never the file


@pytest.mark.anyio
async def test_the_caller_may_name_the_part_and_its_type(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    path = write_video(tmp_path, "clip.webm")  # MP4 bytes under a WebM name, sniffed by the caller
    submission = await client.submit_file(path, NO_OPTIONS, name="Holiday.mp4", content_type="video/mp4")
    upload = fake.requests[0].file
    assert upload is not None and (upload.filename, upload.content_type) == ("Holiday.mp4", "video/mp4")
    assert submission.name == "Holiday.mp4"


@pytest.mark.anyio
async def test_a_file_swapped_after_its_check_is_refused_and_not_sent(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    path = write_video(tmp_path, "clip.mp4")
    checked = path.stat()
    secret = tmp_path / "secret.key"
    secret.write_bytes(b"-----BEGIN PRIVATE KEY-----")
    path.unlink()
    path.symlink_to(secret)
    with pytest.raises(FileRefused, match="changed after it was checked"):
        await client.submit_file(path, NO_OPTIONS, identity=(checked.st_dev, checked.st_ino))
    assert fake.requests == []


@pytest.mark.anyio
async def test_what_is_not_a_regular_file_is_refused_without_blocking(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with anyio.fail_after(5):
        for path in (fifo, tmp_path):
            with pytest.raises(FileRefused, match="not a regular file"):
                await client.submit_file(path, NO_OPTIONS)
    assert fake.requests == []


@pytest.mark.anyio
async def test_a_json_less_accept_gets_a_plain_text_identifier_that_still_parses(
    fake: FakeIdentifai, tmp_path: Path
) -> None:
    async with IdentifaiClient(make_settings(fake), transport=Relay(accept="*/*")) as api:
        submission = await api.submit_file(write_video(tmp_path), NO_OPTIONS)
    assert submission.identifier == fake.jobs[0].facts.identifier


@pytest.mark.anyio
@pytest.mark.parametrize("body", ['"abcdef0123456789"', "  abcdef0123456789\n", "'abcdef0123456789'"])
async def test_quoted_or_padded_plain_text_identifiers_are_cleaned(tmp_path: Path, body: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"Content-Type": "text/plain"})

    async with mock_client(handler) as api:
        assert (await api.submit_url("https://example.com/v.mp4", NO_OPTIONS)).identifier == "abcdef0123456789"


@pytest.mark.anyio
async def test_an_unreadable_file_is_an_input_error_and_nothing_is_sent(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match=r"missing\.mp4"):
        await client.submit_file(tmp_path / "missing.mp4", NO_OPTIONS)
    assert fake.requests == []


@pytest.mark.anyio
async def test_a_file_that_is_not_a_video_gets_identifais_own_message(client: IdentifaiClient, tmp_path: Path) -> None:
    path = tmp_path / "photo.mp4"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(BadRequest, match=re.escape("The uploaded file format is not supported.") + "$") as caught:
        await client.submit_file(path, NO_OPTIONS)
    assert caught.value.status == 400 and not isinstance(caught.value, NoCredits)


@pytest.mark.anyio
async def test_no_credits_is_its_own_error(client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path) -> None:
    fake.set_credits(0)
    with pytest.raises(NoCredits, match="no enough credits") as caught:
        await client.submit_file(write_video(tmp_path), NO_OPTIONS)
    assert caught.value.hint


@pytest.mark.anyio
async def test_a_repeat_upload_is_the_same_job_unless_no_cache(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    path = write_video(tmp_path)
    first = await client.submit_file(path, ClassifyOptions(frames=5))
    again = await client.submit_file(path, ClassifyOptions(frames=5))
    assert again.identifier == first.identifier and fake.account() == (999, 1)
    fresh = await client.submit_file(path, ClassifyOptions(frames=5, no_cache=True))
    assert fresh.identifier != first.identifier and fake.account() == (998, 2)


@pytest.mark.anyio
async def test_submit_url_sends_file_url_and_a_bad_url_gets_field_errors(
    client: IdentifaiClient, fake: FakeIdentifai
) -> None:
    submission = await client.submit_url("https://cdn.example.com/clip.mp4", ClassifyOptions(frames=5))
    assert submission.identifier == fake.jobs[0].facts.identifier
    with pytest.raises(BadRequest) as caught:
        await client.submit_url("not a url", NO_OPTIONS)
    assert caught.value.field_errors == {"file_url": ["The file url field must be a valid URL."]}
    assert str(caught.value) == "The file url field must be a valid URL."


# -- results -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_get_result_reads_a_pending_then_done_job(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    fake.configure(polls_until_done=1)
    identifier = await submitted(client, tmp_path, "clip.mp4", marker="artificial")
    pending = await client.get_result(identifier)
    assert pending.state == "pending" and pending.verdict is None and pending.api_version is None
    done = await client.get_result(identifier)
    assert done.state == "done" and done.verdict is not None and done.verdict.classification == "artificial"
    assert len(done.frames) == 10 and done.api_version == "1.1.0"


@pytest.mark.anyio
async def test_an_unknown_identifier_is_not_found_and_named(client: IdentifaiClient) -> None:
    with pytest.raises(NotFound, match="nope-nope"):
        await client.get_result("nope-nope")


@pytest.mark.anyio
async def test_identifiers_cannot_escape_their_path_segment(client: IdentifaiClient, fake: FakeIdentifai) -> None:
    with pytest.raises(NotFound):
        await client.get_result("../../user/credits")
    assert fake.requests[0].path.startswith("/api/classification_video/")
    with pytest.raises(InputError):
        await client.get_result("  ")


@pytest.mark.anyio
async def test_get_results_splits_dedupes_and_keeps_the_apis_order(
    client: IdentifaiClient, fake: FakeIdentifai
) -> None:
    known = [(await client.submit_url(f"https://example.com/{i}.mp4", NO_OPTIONS)).identifier for i in range(3)]
    unknown = [f"unknown-{i:04d}" for i in range(205)]
    asked = [known[2], *unknown[:150], known[0], *unknown[150:], known[1], known[2], unknown[0]]
    results = await client.get_results(asked)
    batches = fake.calls("GET", "/api/classifications_video")
    sizes = sorted(len([k for k, _ in r.query if k == "identifiers[]"]) for r in batches)
    assert sizes == [8, BATCH_SIZE, BATCH_SIZE]  # 208 distinct identifiers
    # Within a call, the API's order (submission order here), not ours.
    assert [r.identifier for r in results] == [known[2], known[0], known[1]] or {r.identifier for r in results} == set(
        known
    )
    assert sum(len(r.query) for r in batches) == 208


@pytest.mark.anyio
async def test_get_results_of_one_batch_returns_what_the_api_returns_in_its_order(
    client: IdentifaiClient, fake: FakeIdentifai
) -> None:
    known = [(await client.submit_url(f"https://example.com/{i}.mp4", NO_OPTIONS)).identifier for i in range(3)]
    results = await client.get_results([known[2], "missing-one", known[0], known[1], known[0]])
    assert [r.identifier for r in results] == known  # the fake answers in submission order
    assert fake.calls("GET", "/api/classifications_video")[0].query == [
        ("identifiers[]", i) for i in [known[2], "missing-one", known[0], known[1]]
    ]


@pytest.mark.anyio
async def test_get_results_of_nothing_asks_nothing(client: IdentifaiClient, fake: FakeIdentifai) -> None:
    assert await client.get_results([]) == []
    assert fake.requests == []


@pytest.mark.anyio
async def test_credits(client: IdentifaiClient, fake: FakeIdentifai) -> None:
    fake.set_credits(159)
    credits = await client.get_credits()
    assert (credits.available_credits, credits.total_spent) == (159, 0)


@pytest.mark.anyio
@pytest.mark.parametrize("shape", ["middle", "old"])
async def test_older_result_shapes_parse(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path, shape: str
) -> None:
    fake.configure(shape=shape, polls_until_done=1)
    submission = await client.submit_file(write_video(tmp_path, marker="human"), ClassifyOptions(with_audio=True))
    if shape == "old":
        assert submission.identifier == submission.hash  # the old API answered with the hash
    assert (await client.get_result(submission.identifier)).state == "pending"
    done = await client.get_result(submission.identifier)
    assert done.state == "done" and done.status is None and len(done.frames) == 10
    assert all(frame.results for frame in done.frames)
    if shape == "middle":
        assert done.audios[0].clips and done.audios[0].chunk_details
        assert done.verdict is not None and done.verdict.classification == "human"
    [batched] = await client.get_results([submission.identifier, "other-identifier"])
    assert batched.hash == submission.hash


# -- override ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_override_takes_the_hash_and_shows_up_in_results(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    submission = await client.submit_file(write_video(tmp_path), NO_OPTIONS)
    await client.get_result(submission.identifier)
    outcome = await client.override(submission.hash, "human")
    assert (outcome.classification, outcome.type, outcome.hash) == ("human", "video", submission.hash)
    assert fake.requests[-1].json == {"classification": "human"}
    assert fake.requests[-1].headers["content-type"] == "application/json"
    assert (await client.get_result(submission.identifier)).force_classification == "human"
    with pytest.raises(BadRequest, match=re.escape("You have already submitted a report for this content.") + "$"):
        await client.override(submission.hash, "artificial")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("classification", "message", "fields"),
    [
        ("", "The classification field is required.", True),
        ("maybe", "The selected classification is invalid.", True),
    ],
)
async def test_override_validation_errors_carry_field_errors(
    client: IdentifaiClient, tmp_path: Path, classification: str, message: str, fields: bool
) -> None:
    submission = await client.submit_file(write_video(tmp_path), NO_OPTIONS)
    with pytest.raises(BadRequest) as caught:
        await client.override(submission.hash, classification)  # type: ignore[arg-type]
    assert str(caught.value) == message
    assert caught.value.field_errors == {"classification": [message]}


@pytest.mark.anyio
async def test_override_of_unknown_or_unfinished_content_says_why(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    with pytest.raises(BadRequest, match=re.escape("You haven't got any request for this content.") + "$"):
        await client.override("0" * 64, "human")
    fake.configure(polls_until_done=5)
    submission = await client.submit_file(write_video(tmp_path), NO_OPTIONS)
    with pytest.raises(BadRequest, match=re.escape("This video was not classified yet.") + "$"):
        await client.override(submission.hash, "human")


# -- error mapping -------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("key", "error", "message"),
    [("wrong-key", Unauthorized, "Unauthorized"), ("forbidden-key", Forbidden, "Forbidden")],
)
async def test_rejected_keys_map_to_their_errors_and_are_never_echoed(
    fake: FakeIdentifai, tmp_path: Path, key: str, error: type[ApiError], message: str
) -> None:
    async with IdentifaiClient(make_settings(fake, api_key=key)) as api:
        for call in (api.get_credits(), api.submit_file(write_video(tmp_path), NO_OPTIONS)):
            with pytest.raises(error) as caught:
                await call
            assert str(caught.value) == message and caught.value.hint
            assert key not in caught.value.describe() and key not in repr(caught.value)


def _respond(status: int, **kwargs: Any) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, **kwargs)

    return handler


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "kwargs", "error", "message"),
    [
        (400, {"json": {"error": "Bad frames."}}, BadRequest, "Bad frames."),
        (422, {"json": {"message": "The video field is required. (and 1 more error)",
                        "errors": {"video": ["The video field is required."],
                                   "frames": ["The selected frames is invalid."]}}},
         BadRequest, "The video field is required. The selected frames is invalid."),
        (400, {"json": {"error": "Not enough credits for 30 frames"}}, NoCredits, "Not enough credits for 30 frames"),
        (404, {"json": {"message": "Not Found"}}, NotFound, "Not Found"),
        (409, {"json": {"error": "Conflict here"}}, ApiError, "Conflict here"),
        (429, {"json": {"message": "Too Many Attempts."}}, RateLimited, "Too Many Attempts."),
        (500, {"json": {"message": "Server Error"}}, ServerError, "Server Error"),
        (502, {"text": "<html><body>" + "x" * 5000 + "</body></html>", "headers": {"Content-Type": "text/html"}},
         ServerError, "identifAI answered HTTP 502 with an HTML page"),
        (503, {"text": "upstream connect error"}, ServerError, "identifAI answered HTTP 503: upstream connect error"),
        (500, {"json": {"error": "e" * 1000}}, ServerError, "e" * 239 + "…"),
        (418, {"content": b""}, ApiError, "identifAI answered HTTP 418 with an empty body"),
    ],
)  # fmt: skip
async def test_every_error_status_is_mapped_once_with_the_apis_own_words(
    status: int, kwargs: dict[str, Any], error: type[ApiError], message: str
) -> None:
    async with mock_client(_respond(status, **kwargs)) as api:
        with pytest.raises(error) as caught:
            await api.get_credits()
    assert type(caught.value) is error
    assert str(caught.value) == message and caught.value.status == status


@pytest.mark.anyio
async def test_laravel_field_errors_are_kept_on_bad_request(fake: FakeIdentifai, client: IdentifaiClient) -> None:
    body = {"video": ["The video field is required."], "frames": ["The selected frames is invalid."]}
    async with mock_client(_respond(400, json=body)) as api:
        with pytest.raises(BadRequest) as caught:
            await api.submit_url("https://example.com/v.mp4", NO_OPTIONS)
    assert caught.value.field_errors == body


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "path"),
    [('{"available_credits": "lots"}', "/api/user/credits"), ("[1, 2]", "/api/classification_video/abc"),
     ('{"verdict": "artificial"}', "/api/classification_video/abc"), ('{"a": 1}', "/api/classifications_video")],
)  # fmt: skip
async def test_wrong_typed_success_bodies_are_malformed_never_validation_errors(body: str, path: str) -> None:
    async with mock_client(_respond(200, text=body, headers={"Content-Type": "application/json"})) as api:
        with pytest.raises(MalformedResponse):
            if path == "/api/user/credits":
                await api.get_credits()
            elif path.endswith("abc"):
                await api.get_result("abc")
            else:
                await api.get_results(["abc", "def"])


# -- faults and retries --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["500", "502", "503", "html-502", "html-200", "reset", "cut", "truncated", "429"])
async def test_gets_recover_from_a_passing_fault_by_retrying(
    client: IdentifaiClient, fake: FakeIdentifai, fault: str
) -> None:
    fake.inject(fault, times=2, retry_after=0)
    with anyio.fail_after(10):
        credits = await client.get_credits()
    assert credits.available_credits == 1000
    assert [r.fault for r in fake.requests] == [fault, fault, None]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ("500", ServerError, "Server Error"),
        ("502", ServerError, "Bad Gateway"),
        ("503", ServerError, "Service Unavailable"),
        ("html-502", ServerError, "identifAI answered HTTP 502 with an HTML page"),
        ("html-200", MalformedResponse, "identifAI answered HTTP 200 with an HTML page instead of JSON."),
        ("reset", ApiUnreachable, "The connection to identifAI failed (RemoteProtocolError)."),
        ("cut", ApiUnreachable, "The connection to identifAI failed (RemoteProtocolError)."),
        ("truncated", MalformedResponse, "instead of JSON"),
        ("429", RateLimited, "Too Many Attempts."),
    ],
)
async def test_gets_give_up_after_max_retries_with_the_mapped_error(
    fake: FakeIdentifai, fault: str, error: type[IdentifaiError], message: str
) -> None:
    fake.inject(fault, times=10, retry_after=0)
    async with IdentifaiClient(make_settings(fake, max_retries=1)) as api:
        with anyio.fail_after(10), pytest.raises(error) as caught:
            await api.get_credits()
    assert message in str(caught.value) and API_KEY not in caught.value.describe()
    assert len(fake.requests) == 2


@pytest.mark.anyio
async def test_a_slow_answer_times_out_and_the_get_is_retried(fake: FakeIdentifai) -> None:
    fake.inject("slow", delay=1.0)
    async with IdentifaiClient(make_settings(fake, read_timeout=0.2)) as api:
        with anyio.fail_after(5):
            await api.get_credits()
    assert len(fake.requests) == 2


@pytest.mark.anyio
async def test_an_answer_that_stays_slow_is_unreachable_after_the_retries(fake: FakeIdentifai) -> None:
    fake.inject("slow", times=5, delay=1.0)
    async with IdentifaiClient(make_settings(fake, read_timeout=0.2, max_retries=1)) as api:
        with anyio.fail_after(5), pytest.raises(ApiUnreachable, match=r"timed out \(ReadTimeout\)") as caught:
            await api.get_credits()
    assert not isinstance(caught.value, UploadInterrupted) and len(fake.requests) == 2


@pytest.mark.anyio
async def test_a_slow_answer_to_a_submission_is_an_interrupted_upload_not_a_retry(fake: FakeIdentifai) -> None:
    fake.inject("slow", delay=1.0)
    async with IdentifaiClient(make_settings(fake, read_timeout=0.2)) as api:
        with anyio.fail_after(5), pytest.raises(UploadInterrupted, match="ReadTimeout"):
            await api.submit_url("https://example.com/v.mp4", NO_OPTIONS)
    assert len(fake.requests) == 1 and len(fake.jobs) == 1  # identifAI did get it


@pytest.mark.anyio
@pytest.mark.parametrize("after", [False, True])
async def test_a_dropped_upload_is_never_resent(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path, after: bool
) -> None:
    fake.inject("reset", path_prefix="/api/classification_video", after=after)
    with pytest.raises(UploadInterrupted) as caught:
        await client.submit_file(write_video(tmp_path, size=200_000), NO_OPTIONS)
    assert caught.value.hint and len(fake.calls("POST")) == 1
    assert fake.account() == ((998, 2) if after else (1000, 0))  # charged once at most


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fault", "error"), [("500", ServerError), ("truncated", MalformedResponse), ("html-200", MalformedResponse)]
)
async def test_other_submission_failures_are_not_retried(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path, fault: str, error: type[IdentifaiError]
) -> None:
    fake.inject(fault, method="POST")
    with pytest.raises(error):
        await client.submit_file(write_video(tmp_path), NO_OPTIONS)
    assert len(fake.requests) == 1


@pytest.mark.anyio
async def test_a_429_on_submit_is_retried_because_it_was_refused_before_processing(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path
) -> None:
    fake.inject("429", times=2, method="POST", retry_after=0)
    path = write_video(tmp_path, size=300_000)
    with anyio.fail_after(10):
        submission = await client.submit_file(path, NO_OPTIONS)
    assert len(fake.calls("POST")) == 3 and len(fake.jobs) == 1
    assert submission.hash == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.anyio
async def test_a_connect_failure_is_retried_from_the_first_byte(fake: FakeIdentifai, tmp_path: Path) -> None:
    relay = Relay(connect_failures=2)
    path = write_video(tmp_path, size=3 * 1024 * 1024)
    async with IdentifaiClient(make_settings(fake), transport=relay) as api:
        submission = await api.submit_file(path, NO_OPTIONS)
    assert relay.attempts == 3 and len(fake.requests) == 1
    assert submission.hash == hashlib.sha256(path.read_bytes()).hexdigest() == fake.requests[0].file.sha256  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_nothing_listening_is_unreachable_for_gets_and_posts(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        settings = Settings(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=1)
        async with IdentifaiClient(settings) as api:
            with pytest.raises(ApiUnreachable) as got:
                await api.get_credits()
            with pytest.raises(ApiUnreachable) as posted:
                await api.submit_file(write_video(tmp_path), NO_OPTIONS)
    assert not isinstance(posted.value, UploadInterrupted)  # provably never sent
    for caught in (got, posted):
        assert API_KEY not in caught.value.describe() and "ConnectError" in str(caught.value)


@pytest.mark.anyio
async def test_retry_after_seconds_are_waited_for(client: IdentifaiClient, fake: FakeIdentifai) -> None:
    fake.inject("429", retry_after=1)
    started = time.monotonic()
    await client.get_credits()
    assert time.monotonic() - started >= 0.9
    gap = fake.requests[1].at - fake.requests[0].at
    assert gap >= 0.9


@pytest.mark.anyio
async def test_a_retry_after_beyond_the_cap_is_handed_to_the_caller(
    client: IdentifaiClient, fake: FakeIdentifai
) -> None:
    fake.inject("429", retry_after=3600)
    with anyio.fail_after(5), pytest.raises(RateLimited) as caught:
        await client.get_credits()
    assert caught.value.retry_after == 3600 and len(fake.requests) == 1


@pytest.mark.anyio
async def test_retry_after_may_be_an_http_date() -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    async with mock_client(_respond(429, json={"message": "Too Many Attempts."}, headers={"Retry-After": when})) as api:
        with pytest.raises(RateLimited) as caught:
            await api.get_credits()
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 2


@pytest.mark.anyio
async def test_twenty_concurrent_callers_never_exceed_the_fakes_limits(fake: FakeIdentifai) -> None:
    fake.configure(rate_limits={"GET": [(10, 1.0)], "POST": [(2, 1.0)]})
    limits = RateLimits(get_per_second=10, get_per_minute=1000, post_per_second=2, post_per_minute=1000)
    async with IdentifaiClient(make_settings(fake, rate_limits=limits, max_retries=0)) as api:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(api.get_credits)
                for i in range(4):
                    tg.start_soon(api.submit_url, f"https://example.com/{i}.mp4", NO_OPTIONS)
    assert fake.throttled == 0
    assert fake.peak("GET", 1.0) <= 10 and fake.peak("POST", 1.0) <= 2


# -- logging -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_requests_are_logged_at_debug_without_the_key(
    client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="identifai_mcp.client")
    fake.inject("500", method="GET")
    identifier = await submitted(client, tmp_path)
    await client.get_results([identifier, "x" * 10])
    await client.get_credits()
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "identifai_mcp.client")
    assert "POST /api/classification_video -> 200" in text and "GET /api/classifications_video -> 500" in text
    assert "GET /api/user/credits -> 200" in text and "GET /api/classifications_video -> 200" in text
    assert API_KEY not in caplog.text and "identifiers" not in text


def test_error_bodies_are_described_not_dumped() -> None:
    # Guard for the rule "never the whole body": a JSON body without any message field.
    body = json.dumps({"unexpected": {"nested": "x" * 300}})

    async def run() -> ApiError:
        async with mock_client(_respond(500, text=body, headers={"Content-Type": "application/json"})) as api:
            try:
                await api.get_credits()
            except ApiError as exc:
                return exc
        raise AssertionError

    error = anyio.run(run)
    assert str(error) == "identifAI answered HTTP 500 Internal Server Error"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [200, 400, 502])
async def test_a_body_that_echoes_the_key_never_puts_it_in_an_error(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["x-api-key"]
        if status == 400:
            return httpx.Response(status, json={"error": f"bad key {key}", "video": [f"no {key}"]})
        return httpx.Response(status, text=f"welcome {key}")

    async with mock_client(handler) as api:
        with pytest.raises(IdentifaiError) as caught:
            await api.get_credits()
    error = caught.value
    assert API_KEY not in repr(error) and API_KEY not in error.describe() and "[REDACTED]" in str(error)
    assert API_KEY not in repr(getattr(error, "field_errors", {}))
