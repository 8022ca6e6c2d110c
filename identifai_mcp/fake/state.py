"""What the fake identifAI knows: its configuration, its jobs and what it was sent."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from identifai_mcp.fake import results
from identifai_mcp.fake.multipart import FileSink

DEFAULT_RATE_LIMITS: dict[str, list[tuple[float, float]]] = {
    "GET": [(2, 1.0), (60, 60.0)],
    "POST": [(1, 1.0), (30, 60.0)],
}
FAULTS = frozenset({"500", "502", "503", "html-200", "html-502", "reset", "cut", "slow", "truncated", "429"})


@dataclass(frozen=True)
class FakeConfig:
    """Every knob of the fake; see the package docstring for what each one does."""

    api_key: str | tuple[str, ...] = "test-key"
    forbidden_key: str | None = "forbidden-key"
    credits: float = 1000
    polls_until_done: int = 1
    seconds_until_done: float | None = None
    hidden_polls: int = 0
    unknown: str = "404"  # "404" | "pending"
    shape: str = "current"  # "current" | "middle" | "old"
    heuristic: str = "AverageExcludeObsolete"
    rate_limits: Mapping[str, Sequence[tuple[float, float]]] | None = field(default_factory=lambda: DEFAULT_RATE_LIMITS)
    retry_after_header: bool = True
    max_video_bytes: int = 5 * 1024**3

    def __post_init__(self) -> None:
        if self.unknown not in ("404", "pending") or self.shape not in ("current", "middle", "old"):
            raise ValueError("unknown must be '404' or 'pending'; shape 'current', 'middle' or 'old'")

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.api_key,) if isinstance(self.api_key, str) else tuple(self.api_key)


@dataclass
class FakeRequest:
    """One request as the fake received it, for assertions."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival
    generation: int = field(default=0, repr=False)
    status: int = 0
    form: dict[str, str] = field(default_factory=dict)
    file: FileSink | None = None
    json: Any = None
    fault: str | None = None
    identifier: str | None = None  # the one a submit answered with
    counted: bool = False  # went through the rate limiter (authorised, not an injected fault)


@dataclass
class Job:
    facts: results.JobFacts
    key: str
    created: float
    source: str  # "file" | "url"
    polls: int = 0
    finished: bool = False
    result: dict[str, Any] | None = None


@dataclass
class Fault:
    kind: str
    times: int
    path_prefix: str | None
    method: str | None
    retry_after: float | str | None
    delay: float
    after: bool


@dataclass
class Account:
    credits: float
    spent: float = 0


def url_hash(url: str) -> str:
    """The hash the fake gives a video submitted by URL (it never downloads anything)."""
    return hashlib.sha256(f"url:{url}".encode()).hexdigest()


def outcome_from(markers: str, source: str) -> results.Outcome:
    """Outcomes named in a file's name or first bytes, or in a URL."""
    errored = None
    if "unreachable" in markers and source == "url":
        errored = "The file could not be downloaded from the given URL."
    elif "errored" in markers or "corrupt" in markers:
        errored = "The video could not be decoded."
    label = "artificial" if "artificial" in markers else "human" if "human" in markers else None
    return results.Outcome(label, errored, "c2pa" in markers, True if "nsfw" in markers else None)
