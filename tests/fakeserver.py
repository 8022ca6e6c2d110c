"""Shared pytest helpers: one fake identifAI on loopback per session, reset before every test.

In a test module:

    from fakeserver import API_KEY, client, fake, fake_server, make_settings, write_video  # noqa: F401

`fake` is the running FakeIdentifai, reset to fast defaults (no rate limits, jobs done at the
first GET); change knobs with `fake.configure(...)` or `fake.reset(...)`. `client` is an
IdentifaiClient on it with near-unlimited client-side limits and short poll intervals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from identifai_mcp.client import IdentifaiClient
from identifai_mcp.fake import FakeIdentifai, run_fake, video_bytes
from identifai_mcp.settings import RateLimits, Settings

API_KEY = "test-key"
UNLIMITED = RateLimits(get_per_second=1000, get_per_minute=100_000, post_per_second=1000, post_per_minute=100_000)
FAST = {"api_key": API_KEY, "rate_limits": None, "polls_until_done": 0}


def make_settings(fake: FakeIdentifai, **overrides: Any) -> Settings:
    """Settings pointing at the fake: fast polls, short timeouts, few retries."""
    values: dict[str, Any] = {
        "api_key": API_KEY,
        "base_url": fake.base_url,
        "rate_limits": UNLIMITED,
        "poll_interval": 0.01,
        "poll_interval_max": 0.05,
        "connect_timeout": 5.0,
        "read_timeout": 5.0,
        "max_retries": 3,
    }
    values.update(overrides)
    return Settings(**values)


def write_video(directory: Path, name: str = "clip.mp4", marker: str = "", size: int = 4096) -> Path:
    """A small file the fake accepts as video, with `marker` in its first bytes."""
    path = directory / name
    path.write_bytes(video_bytes(marker, size))
    return path


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeIdentifai]:
    with run_fake(**FAST) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeIdentifai) -> FakeIdentifai:
    fake_server.reset(**FAST)
    return fake_server


@pytest.fixture
async def client(fake: FakeIdentifai) -> AsyncIterator[IdentifaiClient]:
    async with IdentifaiClient(make_settings(fake)) as api:
        yield api
