"""Streamable HTTP, for real: uvicorn on loopback, the SDK's own Client over HTTP, the fake identifAI.

Covers the deployment story of the README: the documented `serve --transport http` command, the
/health route, DNS-rebinding protection with allowed hosts, stateless replicas behind a load
balancer, and shared mode (bound beyond loopback) with per-request keys and per-key history.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from fakeserver import API_KEY, fake, fake_server, make_settings, write_video  # noqa: F401
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from identifai_mcp import __version__
from identifai_mcp.fake import FakeIdentifai
from identifai_mcp.settings import Settings
from identifai_mcp.transport import http_app, transport_security

pytestmark = pytest.mark.anyio

ERAS = ["auto", "legacy"]  # 2026-07-28 and the 2025-11-25 handshake
TOOLS = {
    "classify_video_file", "classify_video_url", "get_result", "get_results_batch",
    "override", "get_credits", "inspect_video_file", "extract_frames",
}
ROOT = Path(__file__).resolve().parent.parent


# -- helpers ----------------------------------------------------------------------------------


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(
        app, lifespan="on", log_level="warning", access_log=False, timeout_graceful_shutdown=1,
    ))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="mcp-http", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the MCP HTTP server did not start")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive(), "the MCP HTTP server did not stop"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_client(headers: dict[str, str] | None = None, transport: httpx2.AsyncBaseTransport | None = None) -> Any:
    return httpx2.AsyncClient(headers=headers, transport=transport, timeout=httpx2.Timeout(20.0, read=60.0))


@asynccontextmanager
async def mcp_over_http(url: str, mode: str, *, headers: dict[str, str] | None = None,
                        transport: httpx2.AsyncBaseTransport | None = None) -> AsyncIterator[Client]:
    """The SDK's Client over Streamable HTTP, with optional extra headers or a routing transport."""
    async with http_client(headers, transport) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


async def call(client: Client, name: str, args: dict[str, Any] | None = None, **kw: Any) -> Any:
    with anyio.fail_after(30):
        return await client.call_tool(name, args or {}, **kw)


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


@pytest.fixture(params=ERAS)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(fake: FakeIdentifai, tmp_path: Path) -> Settings:
    return make_settings(fake, home=tmp_path / "home", wait_seconds=5)


@pytest.fixture
def server_url(settings: Settings) -> Iterator[str]:
    with running(http_app(settings)) as url:
        yield url


# -- the basics, on both protocol eras --------------------------------------------------------


async def test_sdk_client_over_http_lists_tools_and_calls_them_with_progress(
    server_url: str, fake: FakeIdentifai, mode: str
) -> None:
    fake.configure(polls_until_done=2)
    with anyio.fail_after(60):
        async with Client(f"{server_url}/mcp", mode=mode) as client:
            assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS

            credits = await call(client, "get_credits")
            assert credits.is_error is False, text_of(credits)
            assert credits.structured_content == {"available_credits": 1000, "total_spent": 0}
            assert "1000 available" in text_of(credits)

            seen: list[tuple[float, float | None, str | None]] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append((progress, total, message))

            result = await call(client, "classify_video_url",
                                {"url": "https://videos.example/artificial.mp4", "frames": 5, "wait_seconds": 10},
                                progress_callback=on_progress)
            assert result.is_error is False, text_of(result)
            report = result.structured_content
            assert report["status"] == "done"
            assert report["verdict"]["classification"] == "artificial"
            assert report["summary"] in text_of(result)
            # Progress notifications travel over the HTTP response stream, increasing.
            assert len(seen) >= 2, seen
            values = [p for p, _, _ in seen]
            assert values == sorted(values) and len(set(values)) == len(values), seen
            assert all(message for _, _, message in seen)


async def test_health_route_answers_json(server_url: str) -> None:
    async with http_client() as http:
        with anyio.fail_after(10):
            response = await http.get(f"{server_url}/health")
            # Load balancers probe by IP or by an internal name: the health route accepts any Host.
            probed = await http.get(f"{server_url}/health", headers={"Host": "10.0.0.7:8000"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok", "name": "identifai-mcp", "version": __version__}
    assert probed.status_code == 200


# -- DNS-rebinding protection and allowed hosts ------------------------------------------------


async def test_foreign_host_is_refused_with_421_and_an_allowed_host_passes(fake: FakeIdentifai, tmp_path: Path) -> None:
    settings = make_settings(fake, home=tmp_path / "home", allowed_hosts=("mcp.example.com",))
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    with running(http_app(settings)) as url:
        async with http_client() as http:
            with anyio.fail_after(20):
                evil = await http.post(f"{url}/mcp", json=body, headers={**accept, "Host": "evil.example"})
                evil_port = await http.post(f"{url}/mcp", json=body, headers={**accept, "Host": "evil.example:80"})
                # A page on another site cannot drive the server from the user's browser.
                evil_origin = await http.post(f"{url}/mcp", json=body,
                                              headers={**accept, "Origin": "https://evil.example"})
        assert evil.status_code == 421 and "Invalid Host header" in evil.text
        assert evil_port.status_code == 421
        assert evil_origin.status_code == 403

        for host in ("mcp.example.com", "mcp.example.com:443"):
            headers = {"Host": host, "Origin": "https://mcp.example.com"}
            with anyio.fail_after(30):
                async with mcp_over_http(f"{url}/mcp", "auto", headers=headers) as client:
                    assert {t.name for t in (await client.list_tools()).tools} == TOOLS
                    credits = await call(client, "get_credits")
                    assert credits.is_error is False, text_of(credits)


def test_allowed_hosts_come_from_the_environment_too() -> None:
    settings = Settings.from_env({"IDENTIFAI_MCP_ALLOWED_HOSTS": " mcp.example.com , api.example.org:8443 "})
    assert settings.allowed_hosts == ("mcp.example.com", "api.example.org:8443")
    security = transport_security(settings)
    assert security.enable_dns_rebinding_protection is True
    assert {"mcp.example.com", "mcp.example.com:*", "api.example.org:8443"} <= set(security.allowed_hosts)
    assert "api.example.org:*" not in security.allowed_hosts  # a given port is kept exact
    assert not any("evil" in h for h in security.allowed_hosts)
    # Loopback names stay allowed, with and without a port.
    assert {"127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"} <= set(security.allowed_hosts)


# -- the documented command, as a process -------------------------------------------------------


async def test_documented_serve_command_runs_streamable_http(fake: FakeIdentifai, tmp_path: Path) -> None:
    """`identifai-mcp serve --transport http --host 127.0.0.1 --port N --allowed-host NAME`, as in the README."""
    port = free_port()
    env = {
        **os.environ,
        "IDENTIFAI_API_KEY": API_KEY,
        "IDENTIFAI_BASE_URL": fake.base_url,
        "IDENTIFAI_MCP_HOME": str(tmp_path / "home"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "identifai_mcp", "serve", "--transport", "http",
               "--host", "127.0.0.1", "--port", str(port), "--allowed-host", "mcp.example.com"]
    log = tmp_path / "server.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=err)
    try:
        url = f"http://127.0.0.1:{port}"
        async with http_client() as http:
            with anyio.fail_after(30):
                while True:
                    assert proc.poll() is None, f"the server exited: {log.read_text(errors='replace')}"
                    try:
                        health = await http.get(f"{url}/health")
                        break
                    except httpx2.TransportError:
                        await anyio.sleep(0.05)
                assert health.status_code == 200 and health.json()["version"] == __version__
                refused = await http.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                          headers={"Host": "evil.example",
                                                   "Accept": "application/json, text/event-stream"})
                assert refused.status_code == 421
        for mode, headers in (("auto", None), ("legacy", {"Host": "mcp.example.com"})):
            with anyio.fail_after(30):
                async with mcp_over_http(f"{url}/mcp", mode, headers=headers) as client:
                    assert {t.name for t in (await client.list_tools()).tools} == TOOLS
                    credits = await call(client, "get_credits")
                    assert credits.is_error is False and "1000 available" in text_of(credits)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stdout is not None
        stdout = proc.stdout.read()
        proc.stdout.close()
    assert stdout == b"", "HTTP mode writes nothing to stdout"
    logged = log.read_text(errors="replace")
    assert API_KEY not in logged
    assert f"http://127.0.0.1:{port}/mcp" in logged  # says where it serves


# -- stateless: replicas behind a load balancer -------------------------------------------------


class RoundRobin(httpx2.AsyncBaseTransport):
    """A tiny load balancer in the client: alternates replicas, tool calls strictly A, B, A, B, ..."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.inner = httpx2.AsyncHTTPTransport()
        self.turn = {"tools/call": 0, "other": 0}
        self.served: list[tuple[int, str, str | None]] = []  # (port, method, tool name)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        method, tool = "", None
        if request.method == "POST":
            body = await request.aread()
            try:
                message = json.loads(body)
                method = message.get("method", "") if isinstance(message, dict) else ""
                tool = (message.get("params") or {}).get("name") if method == "tools/call" else None
            except ValueError:
                pass
        kind = "tools/call" if method == "tools/call" else "other"
        port = self.ports[self.turn[kind] % len(self.ports)]
        self.turn[kind] += 1
        self.served.append((port, method or request.method, tool))
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_two_replicas_serve_one_client_alternately(fake: FakeIdentifai, tmp_path: Path, mode: str) -> None:
    # Two independent replicas: separate processes in production, separate apps and homes here.
    fake.configure(polls_until_done=3)
    replica_a = make_settings(fake, home=tmp_path / "a", wait_seconds=5)
    replica_b = make_settings(fake, home=tmp_path / "b", wait_seconds=5)
    with running(http_app(replica_a)) as url_a, running(http_app(replica_b)) as url_b:
        port_a, port_b = (int(u.rsplit(":", 1)[1]) for u in (url_a, url_b))
        balancer = RoundRobin([port_a, port_b])
        with anyio.fail_after(60):
            async with mcp_over_http(f"{url_a}/mcp", mode, transport=balancer) as client:
                # Submitted on A without waiting: pending, with an identifier.
                submitted = await call(client, "classify_video_url",
                                       {"url": "https://videos.example/human.mp4", "wait_seconds": 0})
                assert submitted.is_error is False, text_of(submitted)
                assert submitted.structured_content["status"] == "pending"
                identifier = submitted.structured_content["identifier"]
                # Picked up on B, which never saw the submission: nothing lives in a session.
                result = await call(client, "get_result", {"identifier": identifier, "wait_seconds": 10})
                assert result.is_error is False, text_of(result)
                assert result.structured_content["status"] == "done"
                assert result.structured_content["verdict"]["classification"] == "human"
                for _ in range(2):  # and on, A then B
                    credits = await call(client, "get_credits")
                    assert credits.is_error is False, text_of(credits)
    calls = [(port, tool) for port, method, tool in balancer.served if method == "tools/call"]
    assert calls == [(port_a, "classify_video_url"), (port_b, "get_result"),
                     (port_a, "get_credits"), (port_b, "get_credits")]
    assert {port for port, _, _ in balancer.served} == {port_a, port_b}
    assert len(fake.calls("POST", "/api/video_fromurl")) == 1  # submitted once, never again


# -- shared mode: bound beyond loopback ----------------------------------------------------------


@pytest.fixture
def shared_fake(fake: FakeIdentifai) -> FakeIdentifai:
    fake.configure(api_key=("key-a", "key-b"))
    return fake


async def test_shared_mode_needs_a_key_per_request_and_keeps_history_per_key(
    shared_fake: FakeIdentifai, tmp_path: Path, mode: str
) -> None:
    settings = make_settings(shared_fake, home=tmp_path / "home", api_key=None)
    video = write_video(tmp_path, "clip.mp4", "human")
    with running(http_app(settings, host="0.0.0.0")) as url:  # shared semantics, served on loopback here
        with anyio.fail_after(60):
            async with mcp_over_http(f"{url}/mcp", mode) as anonymous:
                refused = await call(anonymous, "get_credits")
                assert refused.is_error is True
                assert "No identifAI API key" in text_of(refused)

            async with mcp_over_http(f"{url}/mcp", mode, headers={"X-Identifai-Api-Key": "key-a"}) as alice:
                submitted = await call(alice, "classify_video_url",
                                       {"url": "https://videos.example/alice-artificial.mp4", "wait_seconds": 5})
                assert submitted.is_error is False, text_of(submitted)
                alice_id = submitted.structured_content["identifier"]
                alice_history = json.loads((await alice.read_resource("identifai://history")).contents[0].text)
                assert [row["identifier"] for row in alice_history["items"]] == [alice_id]
                # Local files are off on a shared server, whatever the path.
                for tool, args in (("classify_video_file", {"path": str(video)}),
                                   ("inspect_video_file", {"path": str(video)}),
                                   ("extract_frames", {"path": str(video)})):
                    result = await call(alice, tool, args)
                    assert result.is_error is True, tool
                    assert "Local files are off" in text_of(result), tool

            async with mcp_over_http(f"{url}/mcp", mode, headers={"X-Identifai-Api-Key": "key-b"}) as bob:
                credits = await call(bob, "get_credits")
                assert credits.structured_content == {"available_credits": 1000, "total_spent": 0}
                bob_history = json.loads((await bob.read_resource("identifai://history")).contents[0].text)
                assert bob_history["items"] == []
                listed = [str(r.uri) for r in (await bob.list_resources()).resources]
                assert f"identifai://videos/{alice_id}" not in listed

    # Each request reached identifAI with its own caller's key, and no key leaked between them.
    keys = {r.headers.get("x-api-key") for r in shared_fake.requests}
    assert keys == {"key-a", "key-b"}
    assert shared_fake.account("key-a")[1] > 0 and shared_fake.account("key-b")[1] == 0
    assert not list((tmp_path / "home").rglob("*key-a*"))


async def test_shared_mode_allows_local_files_only_when_the_operator_says_so(
    shared_fake: FakeIdentifai, tmp_path: Path
) -> None:
    settings = make_settings(shared_fake, home=tmp_path / "home", api_key=None, allow_local_files=True)
    video = write_video(tmp_path, "clip.mp4", "human")
    with running(http_app(settings, host="0.0.0.0")) as url:
        with anyio.fail_after(60):
            async with mcp_over_http(f"{url}/mcp", "auto", headers={"X-Identifai-Api-Key": "key-a"}) as client:
                result = await call(client, "classify_video_file", {"path": str(video), "wait_seconds": 5})
                assert result.is_error is False, text_of(result)
                assert result.structured_content["verdict"]["classification"] == "human"
    uploads = shared_fake.calls("POST", "/api/classification_video")
    assert [u.headers.get("x-api-key") for u in uploads] == ["key-a"]


def test_loopback_http_is_not_shared_and_beyond_loopback_is() -> None:
    from identifai_mcp.transport import is_loopback

    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.7", "mcp.example.com", ""):
        assert not is_loopback(host), host


async def test_shared_mode_lists_and_completes_only_the_callers_own_results(
    shared_fake: FakeIdentifai, tmp_path: Path
) -> None:
    from mcp.types import ResourceTemplateReference

    # The operator's key is the fallback for callers without a header.
    settings = make_settings(shared_fake, home=tmp_path / "home", api_key="key-a")
    template = ResourceTemplateReference(type="ref/resource", uri="identifai://videos/{identifier}")
    with running(http_app(settings, host="0.0.0.0")) as url:
        with anyio.fail_after(60):
            async with mcp_over_http(f"{url}/mcp", "auto") as anonymous:
                submitted = await call(anonymous, "classify_video_url",
                                       {"url": "https://videos.example/anon-human.mp4", "wait_seconds": 5})
                other_id = submitted.structured_content["identifier"]
            async with mcp_over_http(f"{url}/mcp", "auto", headers={"X-Identifai-Api-Key": "key-b"}) as bob:
                mine = await call(bob, "classify_video_url",
                                  {"url": "https://videos.example/bob-human.mp4", "wait_seconds": 5})
                my_id = mine.structured_content["identifier"]
                listed = [str(r.uri) for r in (await bob.list_resources()).resources]
                completed = (await bob.complete(template, argument={"name": "identifier", "value": ""})).completion
    assert f"identifai://videos/{other_id}" not in listed
    assert other_id not in completed.values
    assert f"identifai://videos/{my_id}" in listed and my_id in completed.values
