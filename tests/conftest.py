from __future__ import annotations

import logging
from collections.abc import Iterator

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


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    # cli.main() sets up logging as the real program does; undo it so tests stay independent.
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    filters = {h: list(h.filters) for h in handlers}
    yield
    root.setLevel(level)
    root.handlers[:] = handlers
    for handler, kept in filters.items():
        handler.filters[:] = kept


# Every API key the tests use. No test's captured stdout, stderr, log or failure text may hold one:
# the key is redacted in one place, and this is where that promise is checked for the whole suite.
TEST_SECRETS = ("test-key", "sk-LEAKCHECK-9f8e7d6c5b4a")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    # Captured output only: an assertion that compares headers may show the key in its own diff.
    leaked = [s for s in TEST_SECRETS if any(s in content for _, content in report.sections)]
    if leaked and not report.failed:
        report.outcome = "failed"
        report.longrepr = f"an API key used by the tests appeared in this test's captured output ({report.when})"
    return report
