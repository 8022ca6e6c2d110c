"""Cold start: time from spawning the server to the first tools/list answer over stdio.

Compared, in the same run and venv, with a bare MCPServer that has one tool. The goal is a ratio
of at most 1.2: heavy imports (PyAV, c2pa, uvicorn) stay lazy.

    python bench/coldstart.py [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

BARE = """
from mcp.server import MCPServer
mcp = MCPServer("bare")
@mcp.tool()
def echo(text: str) -> str:
    \"\"\"Echo.\"\"\"
    return text
mcp.run()
"""


async def first_list(params: StdioServerParameters) -> float:
    start = time.perf_counter()
    async with Client(params, mode="legacy") as client:
        tools = await client.list_tools()
        assert tools.tools
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    home = tempfile.mkdtemp()
    env = {**os.environ, "IDENTIFAI_MCP_HOME": home, "IDENTIFAI_API_KEY": "bench"}
    ours = StdioServerParameters(command=sys.executable, args=["-m", "identifai_mcp"], env=env)
    bare = StdioServerParameters(command=sys.executable, args=["-c", BARE], env=env)
    times: dict[str, list[float]] = {"identifai-mcp": [], "bare MCPServer": []}
    for _ in range(args.runs):  # interleaved, so drift on a shared machine hits both alike
        times["bare MCPServer"].append(anyio.run(first_list, bare))
        times["identifai-mcp"].append(anyio.run(first_list, ours))
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["identifai-mcp"] / med["bare MCPServer"]
    lines = [
        "| server | median to first tools/list (s) | runs |",
        "| --- | --- | --- |",
        *(f"| {k} | {v:.3f} | {args.runs} |" for k, v in med.items()),
        "",
        f"Ratio identifai-mcp / bare: **{ratio:.2f}** (goal: at most 1.2).",
    ]
    print("\n".join(lines))
    out = Path(__file__).resolve().parent.parent / "docs" / "benchmarks-coldstart.md"
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
