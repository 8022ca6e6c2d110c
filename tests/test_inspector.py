"""A real third-party client: the MCP Inspector CLI (npm @modelcontextprotocol/inspector) over stdio.

It launches `python -m identifai_mcp` the way MCP hosts do, negotiates its own protocol version
(the 2025-11-25 handshake, as of 2.12.0), lists the tools and calls get_credits against the fake
identifAI. The Inspector comes from $IDENTIFAI_TEST_INSPECTOR (.ci/run installs it and sets it), or
from a local install in .ci/node:

    npm install --prefix .ci/node @modelcontextprotocol/inspector@2.12.0

Without Node.js, or without an install, the tests are skipped and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakeserver import API_KEY, fake, fake_server  # noqa: F401

from identifai_mcp.fake import FakeIdentifai

ROOT = Path(__file__).resolve().parent.parent
LOCAL_INSTALL = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "mcp-inspector"
INSTALL_HINT = "npm install --prefix .ci/node @modelcontextprotocol/inspector@2.12.0"
TOOLS = {
    "classify_video_file", "classify_video_url", "get_result", "get_results_batch",
    "override", "get_credits", "inspect_video_file", "extract_frames",
}


def find_inspector() -> str:
    configured = os.environ.get("IDENTIFAI_TEST_INSPECTOR", "").strip()
    if configured:
        # Set on purpose (CI): a wrong path is a failure, not a reason to skip.
        path = shutil.which(configured) or configured
        assert Path(path).is_file() and os.access(path, os.X_OK), (
            f"IDENTIFAI_TEST_INSPECTOR={configured!r} is not an executable file"
        )
        return path
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the MCP Inspector CLI test needs it (.ci/run runs it when npm exists)")
    if not LOCAL_INSTALL.is_file():
        pytest.skip(f"the MCP Inspector is not installed; set IDENTIFAI_TEST_INSPECTOR or run: {INSTALL_HINT}")
    return str(LOCAL_INSTALL)


@pytest.fixture(scope="module")
def inspector() -> str:
    return find_inspector()


def run_inspector(inspector: str, fake: FakeIdentifai, home: Path, *options: str,
                  api_key: str = API_KEY) -> subprocess.CompletedProcess[str]:
    """`mcp-inspector --cli <python> -m identifai_mcp -- -e K=V ... <options>`, as in sdk-notes §4.

    The server target comes first and everything after `--` is the Inspector's; the Inspector
    gives the server only a minimal environment plus the -e variables.
    """
    command = [
        inspector, "--cli", sys.executable, "-m", "identifai_mcp", "--",
        "-e", f"IDENTIFAI_API_KEY={api_key}",
        "-e", f"IDENTIFAI_BASE_URL={fake.base_url}",
        "-e", f"IDENTIFAI_MCP_HOME={home}",
        *options,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDENTIFAI_")}
    return subprocess.run(command, capture_output=True, text=True, timeout=90, env=env, cwd=home.parent,
                          stdin=subprocess.DEVNULL)


def output(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, f"the Inspector exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return json.loads(proc.stdout)


def test_inspector_lists_the_tools(inspector: str, fake: FakeIdentifai, tmp_path: Path) -> None:
    listed = output(run_inspector(inspector, fake, tmp_path / "home", "--method", "tools/list", "--format", "json"))
    tools = {tool["name"]: tool for tool in listed["result"]["tools"]}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool["description"] and tool["inputSchema"]["type"] == "object", tool["name"]
        assert tool.get("outputSchema"), tool["name"]
    assert tools["get_credits"]["annotations"]["readOnlyHint"] is True
    assert fake.requests == [], "listing tools costs nothing and calls nobody"


def test_inspector_calls_get_credits_against_the_fake(inspector: str, fake: FakeIdentifai, tmp_path: Path) -> None:
    fake.set_credits(250)
    called = output(run_inspector(inspector, fake, tmp_path / "home",
                                  "--method", "tools/call", "--tool-name", "get_credits", "--format", "json"))
    result = called.get("result", called)
    assert result["isError"] is False
    assert result["content"][0]["text"] == "identifAI credits: 250 available, 0 spent."
    assert result["structuredContent"] == {"available_credits": 250, "total_spent": 0}
    [request] = fake.calls("GET", "/api/user/credits")
    assert request.headers.get("x-api-key") == API_KEY


def test_inspector_sees_a_bad_key_as_a_tool_error(inspector: str, fake: FakeIdentifai, tmp_path: Path) -> None:
    proc = run_inspector(inspector, fake, tmp_path / "home", "--method", "tools/call", "--tool-name", "get_credits",
                         "--format", "json", api_key="not-a-real-key")
    assert proc.returncode == 5, f"exit {proc.returncode}: {proc.stdout} {proc.stderr}"  # 5: the tool said isError
    assert "not-a-real-key" not in proc.stdout + proc.stderr, "the key is never echoed"
    assert '"code":"tool_is_error"' in proc.stderr.replace(" ", "")
    result = json.loads(proc.stdout)["result"]
    assert result["isError"] is True
    assert "rejected the API key" in result["content"][0]["text"]  # says what is wrong and what to do
