"""Waiting for classifications within a time budget, one poll serving every concurrent wait.

A `Poller` belongs to one client (one API key). While several waits are running, a poll is a
*round*: whichever waiter is due first leads it and fetches every identifier being waited on,
with one batch call (the client splits above 100); the others join the round in flight, or
take its result when it is fresher than their own last one. No background task exists: a round
lives inside its leader, and a leader that is cancelled hands over to whoever still waits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import anyio
import anyio.lowlevel

from identifai_mcp.client import IdentifaiClient
from identifai_mcp.errors import BadRequest, NotFound
from identifai_mcp.models import VideoClassification
from identifai_mcp.settings import Settings

POLL_BACKOFF = 1.5  # each wait between polls is this much longer, up to interval_max
# A poll that starts before the deadline may overrun it by this much; the first fetch is unbounded.
LAST_POLL_GRACE = 5.0

Phase = Literal["queued", "analysing", "done", "errored"]
OnUpdate = Callable[[VideoClassification | None, str], Awaitable[None]]
# What a round learned about one identifier: the result, NotFound (a 404), or absent (None) when
# a batch simply left it out, which says less than a 404.
_Outcome = VideoClassification | NotFound | None


@dataclass(eq=False)
class _Round:
    ids: set[str]
    done: anyio.Event = field(default_factory=anyio.Event)
    sealed: bool = False
    started: float = 0.0
    abandoned: bool = False  # the leader was cancelled: whoever waits must poll again
    error: Exception | None = None
    found: dict[str, _Outcome] = field(default_factory=dict)


def phase(result: VideoClassification | None) -> Phase:
    """The progress word for a wait's latest result (None: identifAI does not know it yet)."""
    if result is None:
        return "queued"
    return {"pending": "analysing", "done": "done", "errored": "errored"}[result.state]  # type: ignore[return-value]


class Poller:
    """Polls identifAI for the waits of one client, sharing batch calls between them."""

    def __init__(self, client: IdentifaiClient, *, interval: float = 3.0, interval_max: float = 10.0) -> None:
        self._client = client
        self._interval = max(0.0, interval)
        self._interval_max = max(interval_max, self._interval)
        self._watching: Counter[str] = Counter()
        self._latest: dict[str, tuple[float, _Outcome]] = {}
        self._round: _Round | None = None

    @classmethod
    def from_settings(cls, client: IdentifaiClient, settings: Settings) -> Poller:
        return cls(client, interval=settings.poll_interval, interval_max=settings.poll_interval_max)

    async def wait(
        self,
        identifier: str,
        *,
        budget: float,
        on_update: OnUpdate | None = None,
        expect_exists: bool = False,
    ) -> VideoClassification | None:
        """Fetch once, then poll while pending until `budget` seconds are spent; return the latest.

        A pending result at the end of the budget is returned, not raised. None means identifAI
        never knew the identifier, which only `expect_exists=True` (just submitted) tolerates.
        Raises: NotFound for an unknown identifier, or any other IdentifaiError of the client.
        """
        identifier = identifier.strip()
        deadline = anyio.current_time() + max(0.0, budget)
        self._watching[identifier] += 1
        try:
            fetched_at, outcome = await self._fresh(identifier, since=None)
            result = await self._settle(identifier, outcome, expect_exists, None)
            await _report(on_update, result)
            interval = self._interval
            while (result is None or result.state == "pending") and anyio.current_time() < deadline:
                await anyio.sleep(max(0.0, min(fetched_at + interval, deadline) - anyio.current_time()))
                with anyio.move_on_after(max(0.0, deadline - anyio.current_time()) + LAST_POLL_GRACE) as scope:
                    fetched_at, outcome = await self._fresh(identifier, since=fetched_at)
                    result = await self._settle(identifier, outcome, expect_exists, result)
                if scope.cancelled_caught:
                    break
                await _report(on_update, result)
                interval = min(interval * POLL_BACKOFF, self._interval_max)
            return result
        finally:
            self._watching[identifier] -= 1
            if self._watching[identifier] <= 0:
                del self._watching[identifier]
                self._latest.pop(identifier, None)

    async def _settle(
        self, identifier: str, outcome: _Outcome, expect_exists: bool, previous: VideoClassification | None
    ) -> VideoClassification | None:
        """Turn a round's outcome into this wait's result, or raise NotFound."""
        if isinstance(outcome, VideoClassification):
            return outcome
        if expect_exists:
            # Just submitted: identifAI may not list it yet. Not knowing it means "not started".
            return previous
        if isinstance(outcome, NotFound):
            raise outcome
        # Left out of a batch: only a single GET tells "unknown" (404) from "not listed yet".
        return await self._client.get_result(identifier)

    async def _fresh(self, identifier: str, *, since: float | None) -> tuple[float, _Outcome]:
        """An outcome fetched after `since`: another wait's round if there was one, else a new poll."""
        latest = self._latest.get(identifier)
        if since is not None and latest is not None and latest[0] > since:
            return latest
        while True:
            current = self._round
            if current is None:
                return await self._lead(identifier)
            if not current.sealed:
                current.ids.add(identifier)
            await current.done.wait()
            if identifier in current.ids and not current.abandoned:
                if current.error is not None:
                    raise current.error
                return current.started, current.found.get(identifier)
            # That round was not for us, or its leader was cancelled: poll again (maybe leading).

    async def _lead(self, identifier: str) -> tuple[float, _Outcome]:
        current = self._round = _Round({identifier})
        try:
            # Waits that fall due at the same moment are runnable now: let them join this round.
            await anyio.lowlevel.checkpoint()
            current.ids |= self._watching.keys()
            current.sealed = True
            current.started = anyio.current_time()
            current.found = await self._fetch(sorted(current.ids))
        except Exception as exc:
            current.error = exc
            raise
        except BaseException:
            current.abandoned = True
            raise
        finally:
            if self._round is current:
                self._round = None
            current.done.set()
        for polled in current.ids & self._watching.keys():
            self._latest[polled] = (current.started, current.found.get(polled))
        return current.started, current.found.get(identifier)

    async def _fetch(self, ids: Sequence[str]) -> dict[str, _Outcome]:
        if len(ids) > 1:
            try:
                results = await self._client.get_results(ids)
            except (NotFound, BadRequest):
                pass  # a batch refused over one unknown identifier: ask one by one instead
            else:
                wanted = set(ids)
                # Pre-1.1 results may carry only the hash, which was then the identifier.
                return {key: r for r in results if (key := r.identifier or r.hash or "") in wanted}
        found: dict[str, _Outcome] = {}
        failures: list[Exception] = []

        async def one(identifier: str) -> None:
            try:
                found[identifier] = await self._client.get_result(identifier)
            except NotFound as exc:
                found[identifier] = exc
            except Exception as exc:  # raised below as itself, not wrapped in an ExceptionGroup
                failures.append(exc)
                tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            for identifier in ids:
                tg.start_soon(one, identifier)
        if failures:
            raise failures[0]
        return found


async def _report(on_update: OnUpdate | None, result: VideoClassification | None) -> None:
    if on_update is not None:
        await on_update(result, phase(result))


async def wait_for_result(
    client: IdentifaiClient,
    identifier: str,
    *,
    budget: float,
    interval: float = 3.0,
    interval_max: float = 10.0,
    on_update: OnUpdate | None = None,
    expect_exists: bool = False,
) -> VideoClassification | None:
    """One wait with a poller of its own, for callers that never wait on two jobs at once."""
    poller = Poller(client, interval=interval, interval_max=interval_max)
    return await poller.wait(identifier, budget=budget, on_update=on_update, expect_exists=expect_exists)
