"""run_fake(): the fake identifAI served by uvicorn in a background thread, on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from identifai_mcp.fake.server import FakeIdentifai


@contextmanager
def run_fake(**config: Any) -> Iterator[FakeIdentifai]:
    """Serve a new FakeIdentifai on 127.0.0.1 (free port) in a thread; `fake.base_url` says where."""
    import uvicorn

    fake = FakeIdentifai(**config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            fake,
            lifespan="off",
            log_config=None,  # uvicorn's dictConfig would reset the test process's logging
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-identifai", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the fake identifAI server did not start")
        time.sleep(0.002)
    fake.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
