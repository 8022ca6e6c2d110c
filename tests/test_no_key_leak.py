"""The API key never leaves the process: not in tool results, resources, CLI output, log records,
the history database, exception texts or HTTP responses, even when identifAI (or something in
between) echoes it back.

Every output of a representative session is collected into `Outputs` and scanned for the key in
its plain, URL-encoded and bytes forms.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import anyio
import httpx
import httpx2
import pytest
from fakeserver import fake, fake_server, make_settings, write_video  # noqa: F401
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from identifai_mcp.cli import main
from identifai_mcp.client import IdentifaiClient
from identifai_mcp.errors import IdentifaiError, MalformedResponse
from identifai_mcp.fake import FakeIdentifai
from identifai_mcp.models import ClassifyOptions
from identifai_mcp.redact import install_log_redaction, register_secret
from identifai_mcp.server import build_server
from identifai_mcp.service import Service
from identifai_mcp.transport import http_app

pytestmark = pytest.mark.anyio

KEY = "sk-LEAKCHECK-9f8e7d6c5b4a"
HEADER_KEY = "sk-LEAKCHECK-header-7a6b5c4d3e"  # a per-request key, shared HTTP mode
FORMS = [KEY, quote(KEY, safe=""), quote_plus(KEY), HEADER_KEY]


class Outputs:
    """Everything a session let out, to be scanned for the key at the end."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, value: Any) -> None:
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        elif not isinstance(value, str):
            value = json.dumps(value, default=repr, ensure_ascii=False)
        self.items.append((where, value))

    def add_result(self, where: str, result: Any) -> None:
        for block in result.content:
            self.add(where, block.model_dump_json())
        self.add(where, result.structured_content)

    def add_exception(self, where: str, exc: BaseException) -> None:
        self.add(where, repr(exc))
        self.add(where, str(exc))
        self.add(where, "".join(traceback.format_exception(exc)))
        if isinstance(exc, IdentifaiError):
            self.add(where, exc.describe())

    def assert_clean(self, *, at_least: int = 10) -> None:
        assert len(self.items) >= at_least, "the scan must have seen something"
        for where, text in self.items:
            for form in FORMS:
                assert form not in text, f"the key leaked through {where}: {text[:300]!r}"


@pytest.fixture
def outputs() -> Outputs:
    return Outputs()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at every level, and the logging setup put back afterwards (the CLI changes it)."""
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "httpx", "httpcore", "uvicorn.access", "mcp")}
    filters = {h: list(h.filters) for h in [*root.handlers, logging.lastResort] if h is not None}
    factory = logging.getLogRecordFactory()
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "mcp", "identifai_mcp"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog
    logging.setLogRecordFactory(factory)
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)
    for handler, saved in filters.items():
        handler.filters[:] = saved


def add_logs(outputs: Outputs, caplog: pytest.LogCaptureFixture) -> None:
    outputs.add("caplog.text", caplog.text)
    for record in caplog.records:
        outputs.add(f"log record {record.name}", record.getMessage())
        outputs.add(f"log args {record.name}", repr(record.args))
        if record.exc_info:
            outputs.add(f"log traceback {record.name}", "".join(traceback.format_exception(*record.exc_info)))
        if record.exc_text:
            outputs.add(f"log exc_text {record.name}", record.exc_text)


def add_home(outputs: Outputs, home: Path) -> None:
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name.startswith("history.sqlite3") for p in files)
    for path in files:
        outputs.add(f"file {path.name}", path.read_bytes())


# -- the MCP server against the fake ---------------------------------------------------------------


async def test_a_whole_mcp_session_never_shows_the_key(
    fake: FakeIdentifai, tmp_path: Path, outputs: Outputs, logs: pytest.LogCaptureFixture
) -> None:
    fake.reset(api_key=KEY, rate_limits=None, polls_until_done=1)
    home = tmp_path / "home"
    settings = make_settings(fake, api_key=KEY, home=home, read_timeout=1.0, max_retries=1)
    outputs.add("settings repr", repr(settings))
    outputs.add("settings dump", settings.model_dump_json())
    video = write_video(tmp_path, "clip.mp4", "artificial")
    server = build_server(settings)
    async with Client(server) as client:
        async def tool(name: str, args: dict[str, Any]) -> Any:
            with anyio.fail_after(15):
                result = await client.call_tool(name, args)
            outputs.add_result(f"tool {name}", result)
            return result

        report = (await tool("classify_video_file", {"path": str(video), "wait_seconds": 3})).structured_content
        url_report = (await tool("classify_video_url", {"url": "https://cdn.example.com/human.mp4", "wait_seconds": 0})).structured_content
        await tool("get_result", {"identifier": url_report["identifier"], "wait_seconds": 2, "detail": "frames"})
        await tool("get_results_batch", {"identifiers": [report["identifier"], url_report["identifier"], "f" * 64]})
        await tool("override", {"identifier": report["identifier"], "classification": "human"})
        await tool("get_credits", {})
        await tool("inspect_video_file", {"path": str(video)})
        # failures: bad input, an unknown identifier, an interrupted upload, a throttled GET, a server error
        await tool("get_result", {"identifier": "../" + KEY})
        await tool("get_result", {"identifier": "e" * 64})
        fake.inject("reset", method="POST")
        await tool("classify_video_url", {"url": "https://cdn.example.com/lost.mp4"})
        fake.inject("429", times=2, method="GET", path_prefix="/api/user/credits")
        await tool("get_credits", {})
        fake.inject("500", method="POST")
        await tool("classify_video_file", {"path": str(video), "no_cache": True})
        for uri in ("identifai://history", f"identifai://videos/{report['identifier']}",
                    f"identifai://videos/{report['identifier']}/summary"):
            outputs.add(f"resource {uri}", [c.model_dump_json() for c in (await client.read_resource(uri)).contents])
        outputs.add("resources/list", (await client.list_resources()).model_dump_json())
        outputs.add("tools/list", (await client.list_tools()).model_dump_json())
        prompt = await client.get_prompt("explain_result", {"identifier": report["identifier"]})
        outputs.add("prompt", prompt.model_dump_json())
        outputs.add("server state repr", repr(server.state()))
    add_logs(outputs, logs)
    add_home(outputs, home)
    outputs.assert_clean()


async def test_a_rejected_key_is_reported_without_being_shown(
    fake: FakeIdentifai, tmp_path: Path, outputs: Outputs, logs: pytest.LogCaptureFixture
) -> None:
    fake.reset(api_key="the-key-identifai-knows", rate_limits=None, polls_until_done=0)
    settings = make_settings(fake, api_key=KEY, home=tmp_path / "home")
    async with Client(build_server(settings)) as client:
        for name, args in (("get_credits", {}), ("classify_video_url", {"url": "https://cdn.example.com/a.mp4"}),
                           ("get_result", {"identifier": "a" * 64})):
            result = await client.call_tool(name, args)
            assert result.is_error
            assert "identifAI rejected the API key: check IDENTIFAI_API_KEY" in result.content[0].text
            outputs.add_result(name, result)
    async with IdentifaiClient(settings) as api:
        with pytest.raises(IdentifaiError) as info:
            await api.get_credits()
        outputs.add_exception("client 401", info.value)
    add_logs(outputs, logs)
    add_home(outputs, tmp_path / "home")
    outputs.assert_clean()


def echoing(request: httpx.Request) -> httpx.Response:
    """A misbehaving API (or proxy) that quotes the key back in every kind of error body."""
    key = request.headers.get("x-api-key", "")
    path = request.url.path
    if path == "/api/user/credits":
        return httpx.Response(401, json={"error": f"Invalid API key {key}", "key": key})
    if path == "/api/video_fromurl":
        return httpx.Response(400, json={"file_url": [f"not allowed for key {quote(key, safe='')}"]})
    if path == "/api/classification_video":
        return httpx.Response(403, text=f"key {key} is suspended")
    if path.endswith("/override"):
        return httpx.Response(502, html=f"<html><body>upstream said {key}</body></html>")
    if path == "/api/classifications_video":
        return httpx.Response(429, json={"message": f"Too many requests for {key}"}, headers={"Retry-After": "3600"})
    if path.startswith("/api/classification_video/"):
        return httpx.Response(200, text=f"welcome {key}")  # not JSON: only the edges' redaction hides it
    return httpx.Response(500, json={"message": f"crash while handling X-Api-Key: {key}"})


async def test_error_bodies_that_echo_the_key_never_reach_the_agent(
    tmp_path: Path, outputs: Outputs, logs: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(FakeIdentifai(), base_url="http://identifai.invalid", api_key=KEY, home=tmp_path / "home",
                             max_retries=0)
    video = write_video(tmp_path, "clip.mp4", "human")
    async with Client(build_server(settings, transport=httpx.MockTransport(echoing))) as client:
        for name, args in (
            ("get_credits", {}),
            ("classify_video_url", {"url": "https://cdn.example.com/a.mp4"}),
            ("classify_video_file", {"path": str(video)}),
            ("override", {"hash": "b" * 64, "classification": "human"}),
            ("get_results_batch", {"identifiers": ["a" * 64, "b" * 64]}),
            ("get_result", {"identifier": "c" * 64}),
        ):
            result = await client.call_tool(name, args)
            assert result.is_error, name
            outputs.add_result(name, result)
    assert "identifAI answered HTTP 200: welcome " in result.content[0].text
    add_logs(outputs, logs)
    add_home(outputs, tmp_path / "home")
    outputs.assert_clean()


async def test_client_exceptions_for_echoed_error_statuses_hold_no_key(outputs: Outputs) -> None:
    settings = make_settings(FakeIdentifai(), base_url="http://identifai.invalid", api_key=KEY, max_retries=0)
    async with IdentifaiClient(settings, transport=httpx.MockTransport(echoing)) as api:
        calls = [
            api.get_credits, lambda: api.submit_url("https://cdn.example.com/a.mp4", ClassifyOptions()),
            lambda: api.override("b" * 64, "human"), lambda: api.get_results(["a" * 64]),
        ]
        for call in calls:
            with pytest.raises(IdentifaiError) as info:
                await call()
            outputs.add_exception(type(info.value).__name__, info.value)
    outputs.assert_clean()


async def test_client_exception_for_an_echoing_success_body_holds_no_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=f"welcome {request.headers['x-api-key']}")

    settings = make_settings(FakeIdentifai(), base_url="http://identifai.invalid", api_key=KEY, max_retries=0)
    async with IdentifaiClient(settings, transport=httpx.MockTransport(handler)) as api:
        with pytest.raises(MalformedResponse) as info:
            await api.get_credits()
    assert KEY not in repr(info.value) and "identifAI answered HTTP 200: welcome " in str(info.value)


async def test_service_and_client_reprs_hold_no_key(fake: FakeIdentifai, tmp_path: Path, outputs: Outputs) -> None:
    settings = make_settings(fake, api_key=KEY, home=tmp_path / "home")
    async with Service.open(settings) as service:
        other = service.for_key(HEADER_KEY)
        for name, obj in (("service", service), ("per-key service", other), ("client", service.client),
                          ("per-key client", other.client), ("poller", service.poller)):
            outputs.add(name, repr(obj))
            outputs.add(name, str(obj))
        outputs.add("settings", str(settings))
        outputs.add("settings json", settings.model_dump_json())
        outputs.add("settings dict", repr(settings.model_dump()))
    outputs.assert_clean(at_least=5)


# -- the CLI ------------------------------------------------------------------------------------------


def test_cli_output_and_logs_never_show_the_key(
    fake: FakeIdentifai, tmp_path: Path, outputs: Outputs, logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake.reset(api_key=KEY, rate_limits=None, polls_until_done=0)
    home = tmp_path / "cli-home"
    monkeypatch.setenv("IDENTIFAI_API_KEY", KEY)
    monkeypatch.setenv("IDENTIFAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("IDENTIFAI_MCP_HOME", str(home))
    video = write_video(tmp_path, "clip.mp4", "artificial")

    def run(*argv: str) -> int:
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        outputs.add(f"cli stdout {argv[:2]}", out)
        outputs.add(f"cli stderr {argv[:2]}", err)
        return code

    assert run("--debug", "classify", str(video), "--json", "--wait", "0") == 0
    report = json.loads(outputs.items[-2][1])
    assert run("classify", "https://cdn.example.com/human.mp4", "--wait", "0") == 0
    assert run("--debug", "result", report["identifier"], "--json") == 0
    assert run("results", report["identifier"], "f" * 64) == 0
    assert run("override", "--identifier", report["identifier"], "human", "--json") == 0
    assert run("credits", "--json") == 0
    assert run("history", "--json") == 0
    assert run("history") == 0
    assert run("inspect", str(video)) == 1  # the fake's tiny MP4 has no frames FFmpeg can read
    # failures, with and without --debug
    assert run("--debug", "result", "../" + KEY) == 1
    fake.inject("reset", method="POST")
    assert run("--debug", "classify", "https://cdn.example.com/lost.mp4") == 1
    fake.configure(api_key="another-key")
    assert run("credits") == 1
    assert run("--debug", "credits") == 1
    assert "identifAI rejected the API key" in outputs.items[-1][1]
    add_logs(outputs, logs)
    add_home(outputs, home)
    outputs.assert_clean()


# -- logging set up by others (uvicorn configures its own handlers when serving HTTP) --------------


def test_a_handler_added_after_redaction_was_installed_never_sees_the_key(logs: pytest.LogCaptureFixture) -> None:
    import io

    register_secret(KEY)
    install_log_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    log = logging.getLogger("leakcheck.uvicorn-like")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.error("Invalid HTTP request header: X-Identifai-Api-Key %s", KEY)
        try:
            raise RuntimeError(f"Exception in ASGI application for {quote(KEY, safe='')}")
        except RuntimeError:
            log.exception("request failed")
        log.info("%s - %s %s", "127.0.0.1:5000", "POST", "/mcp")  # an access line: left as it was
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert KEY not in text and quote(KEY, safe="") not in text
    assert "[REDACTED]" in text and "RuntimeError: Exception in ASGI application for [REDACTED]" in text
    assert "127.0.0.1:5000 - POST /mcp" in text


# -- the HTTP transport: responses as the client receives them -------------------------------------


class Recording(httpx2.AsyncBaseTransport):
    """Keeps every response's status line, headers and body."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, outputs: Outputs) -> None:
        self.inner, self.outputs = inner, outputs

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.outputs.add(f"http {request.url.path} headers", repr(list(response.headers.items())))
        self.outputs.add(f"http {request.url.path} body", body)
        return httpx2.Response(response.status_code, headers=response.headers, content=body, request=request)


@pytest.fixture
async def http_session(fake: FakeIdentifai, tmp_path: Path) -> AsyncIterator[Any]:
    fake.reset(api_key=(KEY, HEADER_KEY), rate_limits=None, polls_until_done=0)
    settings = make_settings(fake, api_key=KEY, home=tmp_path / "http-home")
    app = http_app(settings, host="0.0.0.0")
    async with app.router.lifespan_context(app):
        yield app


@pytest.mark.parametrize("header_key", [None, HEADER_KEY], ids=["operator-key", "request-key"])
async def test_http_responses_never_carry_the_key(
    http_session: Any, fake: FakeIdentifai, tmp_path: Path, outputs: Outputs, logs: pytest.LogCaptureFixture,
    header_key: str | None,
) -> None:
    headers = {"X-Identifai-Api-Key": header_key} if header_key else {}
    transport = Recording(httpx2.ASGITransport(app=http_session), outputs)
    http = httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000", headers=headers)
    async with http, Client(streamable_http_client("http://127.0.0.1:8000/mcp", http_client=http)) as client:
        ok = await client.call_tool("classify_video_url", {"url": "https://cdn.example.com/human.mp4", "wait_seconds": 1})
        assert not ok.is_error, ok.content[0].text
        await client.call_tool("get_result", {"identifier": ok.structured_content["identifier"]})
        await client.call_tool("get_credits", {})
        await client.read_resource("identifai://history")
        await client.list_resources()
        fake.configure(api_key="rotated-key")  # now identifAI rejects the key: a 401 to report
        rejected = await client.call_tool("get_credits", {})
        assert rejected.is_error and "rejected the API key" in rejected.content[0].text
    health = await httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000").get("/health")
    assert health.status_code == 200
    add_logs(outputs, logs)
    add_home(outputs, tmp_path / "http-home")
    outputs.assert_clean()
