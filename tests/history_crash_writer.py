"""Writes history rows until killed; prints each row id once its last write has committed.

Run by tests/test_history.py, which kills it with SIGKILL mid-loop: `python history_crash_writer.py HOME`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from identifai_mcp.history import HistoryStore

# Big enough that a commit takes a while, so the kill is likely to land inside one.
RESULT = {"status": "done", "results": {"images": [{"note": "x" * 4000, "index": i} for i in range(8)]}}


def main(home: str) -> None:
    with HistoryStore.open(Path(home)) as store:
        while True:
            row = store.begin("file", "/videos/clip.mp4", "clip.mp4", {"frames": 5}, "frames=5")
            store.submitted(row, f"crash-{row}", f"hash-{row}")
            store.save_result(f"crash-{row}", RESULT, status="done", classification="human", confidence=0.9)
            print(row, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
