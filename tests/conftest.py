from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # No test may touch the real user data directory or a real key.
    monkeypatch.setenv("IDENTIFAI_MCP_HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("IDENTIFAI_API_KEY", raising=False)
    monkeypatch.delenv("IDENTIFAI_ALLOWED_DIRS", raising=False)
