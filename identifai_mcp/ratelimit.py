"""Client-side rate limiting: stay under identifAI's per-key limits instead of collecting 429s.

identifAI allows, per API key, GET 2/s and 60/min, POST 1/s and 30/min (R-RATE). One
`RateLimiter` holds a group of sliding windows per request kind ("GET", "POST"); `acquire(kind)`
returns once every window of that kind has room, and records the request. Callers queue in
arrival order (FIFO), and a caller cancelled while queued leaves no trace.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence

import anyio

from identifai_mcp.settings import RateLimits

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Added to every window: our send time and the server's arrival time differ by network jitter,
# so a request exactly one period after the oldest one can still land inside the server's window.
SAFETY_MARGIN = 0.05


class Slot:
    """One admitted request. Its time counts from when it was really sent, once that is known.

    The connection may take a while to open, and a request spaced by the limiter from its
    admission could still reach identifAI too soon after the previous one: call `sent()` when
    the request leaves (the client does, from httpcore's trace), `done()` when it is over.
    """

    __slots__ = ("_clock", "_marked", "at")

    def __init__(self, at: float, clock: Clock) -> None:
        self.at, self._clock, self._marked = at, clock, False

    def sent(self) -> None:
        if not self._marked:
            self._marked = True
            self.at = max(self.at, self._clock())

    def done(self) -> None:
        """Without a `sent()`, the end of the request is the safe (latest) guess."""
        self.sent()


class _Window:
    """At most `limit` requests in any `period` seconds."""

    def __init__(self, limit: float, period: float) -> None:
        if limit <= 0 or period <= 0:
            raise ValueError("a rate limit needs a positive count and period")
        # A fractional limit (2.5/s) becomes the stricter whole one (2 per 0.8 s).
        self.limit = max(1, math.floor(limit))
        self.period = period * self.limit / limit
        self.slots: list[Slot] = []

    def ready_at(self, now: float, margin: float) -> float:
        self.slots = [s for s in self.slots if s.at > now - self.period]
        if len(self.slots) < self.limit:
            return -math.inf
        # Free again once the limit-th most recent request is one period old.
        times = sorted(s.at for s in self.slots)
        return times[len(times) - self.limit] + self.period + margin


class _Group:
    def __init__(self, windows: Sequence[tuple[float, float]]) -> None:
        self.windows = [_Window(limit, period) for limit, period in windows]
        self.blocked_until = -math.inf
        self.lock = anyio.Lock()

    def ready_at(self, now: float, margin: float) -> float:
        return max([self.blocked_until, *(w.ready_at(now, margin) for w in self.windows)])


class RateLimiter:
    """Several sliding windows per request kind, shared by every caller of one API key."""

    def __init__(
        self,
        limits: Mapping[str, Sequence[tuple[float, float]]],
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        margin: float = SAFETY_MARGIN,
    ) -> None:
        """`limits` maps a kind to (count, period seconds) pairs, e.g. {"GET": [(2, 1), (60, 60)]}."""
        self._groups = {kind.upper(): _Group(windows) for kind, windows in limits.items()}
        self._clock = clock or anyio.current_time
        self._sleep = sleep or anyio.sleep
        self._margin = margin

    @classmethod
    def from_settings(cls, limits: RateLimits, **kwargs: object) -> RateLimiter:
        """The documented GET and POST limits, or the ones configured instead."""
        return cls(
            {
                "GET": [(limits.get_per_second, 1.0), (limits.get_per_minute, 60.0)],
                "POST": [(limits.post_per_second, 1.0), (limits.post_per_minute, 60.0)],
            },
            **kwargs,  # type: ignore[arg-type]
        )

    async def acquire(self, kind: str) -> Slot:
        """Wait until a request of `kind` may be sent; it counts as sent now until `Slot.sent()`."""
        group = self._groups.get(kind.upper())
        if group is None:
            return Slot(self._clock(), self._clock)
        # The lock is fair (FIFO) and is held while sleeping, so callers leave in arrival order.
        # A caller cancelled while waiting releases it without having recorded anything.
        async with group.lock:
            while True:
                now = self._clock()
                delay = group.ready_at(now, self._margin) - now
                if delay <= 0:
                    slot = Slot(now, self._clock)
                    for window in group.windows:
                        window.slots.append(slot)
                    return slot
                await self._sleep(delay)

    def defer(self, kind: str, seconds: float) -> None:
        """Send nothing of `kind` for `seconds`: identifAI said 429, maybe with Retry-After."""
        group = self._groups.get(kind.upper())
        if group is not None and seconds > 0:
            group.blocked_until = max(group.blocked_until, self._clock() + seconds)

    def delay(self, kind: str) -> float:
        """Seconds a request of `kind` sent now would have to wait (0 when it could go at once)."""
        group = self._groups.get(kind.upper())
        if group is None:
            return 0.0
        now = self._clock()
        return max(0.0, group.ready_at(now, self._margin) - now)
