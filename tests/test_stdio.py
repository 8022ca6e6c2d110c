"""The server as MCP clients launch it: a subprocess speaking stdio, on both protocol eras."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from fakeserver import API_KEY, fake, fake_server, write_video  # noqa: F401
from mcp import Client, StdioServerParameters

from identifai_mcp.fake import FakeIdentifai

pytestmark = pytest.mark.anyio


def server_params(fake: FakeIdentifai, home: Path, *args: str, **env: str) -> StdioServerParameters:
    environ = {
        **os.environ,
        "IDENTIFAI_API_KEY": API_KEY,
        "IDENTIFAI_BASE_URL": fake.base_url,
        "IDENTIFAI_MCP_HOME": str(home),
        "IDENTIFAI_WAIT_SECONDS": "10",
        **env,
    }
    return StdioServerParameters(command=sys.executable, args=["-m", "identifai_mcp", *args], env=environ)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_real_client_over_stdio_classifies_reads_and_overrides(
    fake: FakeIdentifai, tmp_path: Path, mode: str
) -> None:
    video = write_video(tmp_path, "clip.mp4", "human")
    with anyio.fail_after(60):
        async with Client(server_params(fake, tmp_path / "home"), mode=mode) as client:
            assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
            progress: list[Any] = []

            async def on_progress(p: float, total: float | None, message: str | None) -> None:
                progress.append((p, message))

            by_file = await client.call_tool("classify_video_file", {"path": str(video)}, progress_callback=on_progress)
            assert not by_file.is_error, by_file.content[0].text
            assert by_file.structured_content["verdict"]["classification"] == "human"
            assert progress, "progress notifications reach a stdio client"
            by_url = await client.call_tool("classify_video_url", {"url": "https://cdn.example.com/artificial.mp4"})
            assert by_url.structured_content["verdict"]["classification"] == "artificial"
            ids = [by_file.structured_content["identifier"], by_url.structured_content["identifier"]]
            one = await client.call_tool("get_result", {"identifier": ids[0]})
            assert one.structured_content["status"] == "done"
            many = await client.call_tool("get_results_batch", {"identifiers": ids})
            assert len(many.structured_content["results"]) == 2
            fixed = await client.call_tool("override", {"identifier": ids[1], "classification": "human"})
            assert fixed.structured_content["classification"] == "human"
            credits = await client.call_tool("get_credits", {})
            assert "available" in credits.content[0].text
            history = json.loads((await client.read_resource("identifai://history")).contents[0].text)
            assert {row["identifier"] for row in history["items"]} >= set(ids)
            prompt = await client.get_prompt("verify_video", {"source": str(video)})
            assert str(video) in prompt.messages[0].content.text
            bad = await client.call_tool("get_result", {"identifier": "no such thing"})
            assert bad.is_error
            assert not (await client.call_tool("get_credits", {})).is_error


async def test_history_survives_a_restart(fake: FakeIdentifai, tmp_path: Path) -> None:
    video = write_video(tmp_path, "again.mp4", "artificial")
    home = tmp_path / "home"
    with anyio.fail_after(60):
        async with Client(server_params(fake, home)) as client:
            first = await client.call_tool("classify_video_file", {"path": str(video)})
            identifier = first.structured_content["identifier"]
        posts = len(fake.calls("POST"))
        async with Client(server_params(fake, home)) as client:
            resources = [str(r.uri) for r in (await client.list_resources()).resources]
            assert f"identifai://videos/{identifier}" in resources
            again = await client.call_tool("classify_video_file", {"path": str(video)})
            assert again.structured_content["source"] == "history"
            assert len(fake.calls("POST")) == posts, "a restarted server does not upload the same file again"


def test_stdout_carries_nothing_but_protocol(fake: FakeIdentifai, tmp_path: Path) -> None:
    """Drive the server by hand and check every stdout line is a JSON-RPC message."""
    params = server_params(fake, tmp_path / "home", "--debug")
    video = write_video(tmp_path, "clip.mp4", "human")
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "classify_video_file", "arguments": {"path": str(video)}, "_meta": {"progressToken": "p"}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
            "name": "classify_video_file", "arguments": {"path": "/etc/passwd"}}},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "nope", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 6, "method": "resources/read", "params": {"uri": "identifai://videos/zzz"}},
    ]
    errfile = (tmp_path / "stderr.txt").open("w+")
    proc = subprocess.Popen(
        [params.command, *params.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errfile,
        text=True, env=params.env,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
    proc.stdin.flush()
    # Keep stdin open until every request is answered: EOF ends the session.
    lines, pending = [], {1, 2, 3, 4, 5, 6}
    timer = threading.Timer(60, proc.kill)
    timer.start()
    try:
        while pending:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            message = json.loads(line)  # raises on any stray output
            pending.discard(message.get("id"))
        proc.stdin.close()
        rest = proc.stdout.read()
        proc.wait(timeout=30)
    finally:
        timer.cancel()
    errfile.seek(0)
    stderr = errfile.read()
    lines += [line for line in rest.splitlines() if line.strip()]
    assert lines, stderr[-2000:]
    parsed = [json.loads(line) for line in lines]  # raises on any stray output
    assert all(m.get("jsonrpc") == "2.0" for m in parsed)
    answered = {m["id"] for m in parsed if "id" in m}
    assert {1, 2, 3, 4, 5, 6} <= answered
    assert any(m.get("method") == "notifications/progress" for m in parsed)
    assert "DEBUG" in stderr, "logs go to stderr"


def test_cli_help_and_version_exit_zero() -> None:
    for args in (["--help"], ["--version"], ["classify", "--help"]):
        proc = subprocess.run([sys.executable, "-m", "identifai_mcp", *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "identifai-mcp" in proc.stdout
