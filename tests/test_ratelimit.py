from __future__ import annotations

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from identifai_mcp.ratelimit import SAFETY_MARGIN, RateLimiter
from identifai_mcp.settings import RateLimits


class ManualClock:
    """A clock tests drive: `autojump` sleeps advance time at once; otherwise `advance()` does."""

    def __init__(self, *, autojump: bool = True) -> None:
        self.now = 0.0
        self.autojump = autojump
        self._sleepers: list[tuple[float, anyio.Event]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if self.autojump:
            self.now += seconds
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        self._sleepers.append((self.now + seconds, event))
        await event.wait()

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for item in [s for s in self._sleepers if s[0] <= self.now + 1e-9]:
            self._sleepers.remove(item)
            item[1].set()
        await wait_all_tasks_blocked()


def limiter(clock: ManualClock, limits: dict[str, list[tuple[float, float]]], margin: float = 0.0) -> RateLimiter:
    return RateLimiter(limits, clock=clock, sleep=clock.sleep, margin=margin)


def max_in_window(times: list[float], period: float) -> int:
    return max(sum(1 for u in times if t <= u < t + period) for t in times)


@pytest.mark.anyio
async def test_every_window_of_a_kind_is_enforced_at_once() -> None:
    clock = ManualClock()
    rl = limiter(clock, {"GET": [(2, 1.0), (5, 10.0)]})
    times = []
    for _ in range(8):
        await rl.acquire("GET")
        times.append(clock.now)
    assert times == [0, 0, 1, 1, 2, 10, 10, 11]
    assert max_in_window(times, 1.0) <= 2 and max_in_window(times, 10.0) <= 5


@pytest.mark.anyio
async def test_documented_defaults_allow_sixty_gets_a_minute_and_two_a_second() -> None:
    clock = ManualClock()
    rl = RateLimiter.from_settings(RateLimits(), clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(61):
        await rl.acquire("GET")
        times.append(clock.now)
    assert max_in_window(times, 1.0) <= 2
    assert max_in_window(times, 60.0) <= 60
    assert times[-1] >= 60


@pytest.mark.anyio
async def test_get_and_post_are_limited_separately() -> None:
    clock = ManualClock()
    rl = limiter(clock, {"GET": [(1, 1.0)], "POST": [(1, 1.0)]})
    await rl.acquire("GET")
    await rl.acquire("post")
    assert clock.now == 0


@pytest.mark.anyio
async def test_a_kind_without_limits_is_never_held() -> None:
    clock = ManualClock()
    rl = limiter(clock, {"GET": [(1, 1.0)]})
    for _ in range(5):
        await rl.acquire("DELETE")
    assert clock.now == 0 and rl.delay("DELETE") == 0


@pytest.mark.anyio
async def test_the_safety_margin_widens_each_window() -> None:
    clock = ManualClock()
    rl = RateLimiter({"GET": [(1, 1.0)]}, clock=clock, sleep=clock.sleep)
    await rl.acquire("GET")
    await rl.acquire("GET")
    assert clock.now == pytest.approx(1.0 + SAFETY_MARGIN)


@pytest.mark.anyio
async def test_a_fractional_limit_becomes_the_stricter_whole_one() -> None:
    clock = ManualClock()
    rl = limiter(clock, {"GET": [(0.5, 1.0)]})
    await rl.acquire("GET")
    await rl.acquire("GET")
    assert clock.now == pytest.approx(2.0)


@pytest.mark.anyio
async def test_defer_holds_back_every_caller_of_that_kind() -> None:
    clock = ManualClock()
    rl = limiter(clock, {"GET": [(10, 1.0)], "POST": [(10, 1.0)]})
    rl.defer("GET", 5.0)
    assert rl.delay("GET") == pytest.approx(5.0) and rl.delay("POST") == 0
    await rl.acquire("GET")
    assert clock.now == pytest.approx(5.0)


@pytest.mark.anyio
async def test_waiting_callers_are_served_in_arrival_order() -> None:
    clock = ManualClock()
    rl = limiter(clock, {"GET": [(1, 1.0)]})
    served: list[int] = []

    async def call(index: int) -> None:
        await rl.acquire("GET")
        served.append(index)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for index in range(10):
                tg.start_soon(call, index)
                await wait_all_tasks_blocked()
    assert served == list(range(10))


@pytest.mark.anyio
async def test_a_caller_cancelled_while_queued_takes_no_slot() -> None:
    clock = ManualClock(autojump=False)
    rl = limiter(clock, {"GET": [(1, 1.0)]})
    await rl.acquire("GET")  # t=0: the window is full until t=1
    got: list[float] = []

    async def call() -> None:
        await rl.acquire("GET")
        got.append(clock.now)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            doomed = anyio.CancelScope()
            tg.start_soon(_in_scope, doomed, rl)
            await wait_all_tasks_blocked()
            tg.start_soon(call)
            await wait_all_tasks_blocked()
            doomed.cancel()
            await wait_all_tasks_blocked()
            await clock.advance(1.0)
    # The survivor got the slot at t=1, not at t=2 behind a request that was never sent.
    assert got == [1.0]


async def _in_scope(scope: anyio.CancelScope, rl: RateLimiter) -> None:
    with scope:
        await rl.acquire("GET")
        raise AssertionError("a cancelled caller must not get a slot")
