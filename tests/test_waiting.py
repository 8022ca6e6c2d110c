from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from fakeserver import API_KEY, client, fake, fake_server, make_settings, write_video  # noqa: F401

from identifai_mcp.client import IdentifaiClient
from identifai_mcp.errors import NotFound, ServerError, Unauthorized
from identifai_mcp.fake import FakeIdentifai
from identifai_mcp.models import ClassifyOptions, VideoClassification
from identifai_mcp.waiting import Poller, wait_for_result

NO_OPTIONS = ClassifyOptions()


def poller(client: IdentifaiClient, interval: float = 0.01, interval_max: float = 0.05) -> Poller:
    return Poller(client, interval=interval, interval_max=interval_max)


async def submit(client: IdentifaiClient, name: str = "a") -> str:
    return (await client.submit_url(f"https://example.com/{name}.mp4", NO_OPTIONS)).identifier


def singles(fake: FakeIdentifai) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in fake.calls("GET", "/api/classification_video/")]


def batches(fake: FakeIdentifai) -> list[list[str]]:
    return [[v for _, v in r.query] for r in fake.calls("GET", "/api/classifications_video")]


@pytest.mark.anyio
async def test_a_finished_job_takes_one_fetch(client: IdentifaiClient, fake: FakeIdentifai) -> None:
    identifier = await submit(client)
    with anyio.fail_after(5):
        result = await poller(client).wait(identifier, budget=5)
    assert result is not None and result.state == "done"
    assert singles(fake) == [identifier]


@pytest.mark.anyio
async def test_budget_zero_is_exactly_one_fetch_and_pending_is_not_an_error(
    client: IdentifaiClient, fake: FakeIdentifai
) -> None:
    fake.configure(polls_until_done=5)
    identifier = await submit(client)
    result = await poller(client).wait(identifier, budget=0)
    assert result is not None and result.state == "pending"
    assert len(fake.calls("GET")) == 1


@pytest.mark.anyio
async def test_polls_until_done_and_reports_each_poll(client: IdentifaiClient, fake: FakeIdentifai) -> None:
    fake.configure(polls_until_done=3)
    identifier = await submit(client)
    updates: list[tuple[str | None, str]] = []

    async def on_update(result: VideoClassification | None, phase: str) -> None:
        updates.append((result.status if result else None, phase))

    with anyio.fail_after(5):
        result = await poller(client).wait(identifier, budget=5, on_update=on_update)
    assert result is not None and result.state == "done"
    assert updates == [("new", "analysing")] * 3 + [("done", "done")]
    assert len(singles(fake)) == 4


@pytest.mark.anyio
async def test_when_the_budget_runs_out_the_latest_pending_result_is_returned(
    client: IdentifaiClient, fake: FakeIdentifai
) -> None:
    fake.configure(polls_until_done=10_000)
    identifier = await submit(client)
    with anyio.fail_after(5):
        result = await poller(client, interval=0.05, interval_max=0.1).wait(identifier, budget=0.3)
    assert result is not None and result.state == "pending"
    assert 2 <= len(singles(fake)) <= 10  # backed off, and one last look at the deadline


@pytest.mark.anyio
async def test_an_errored_job_ends_the_wait(client: IdentifaiClient, fake: FakeIdentifai) -> None:
    fake.configure(polls_until_done=1)
    identifier = (await client.submit_url("https://unreachable.example.com/v.mp4", NO_OPTIONS)).identifier
    phases: list[str] = []

    async def on_update(result: VideoClassification | None, phase: str) -> None:
        phases.append(phase)

    with anyio.fail_after(5):
        result = await poller(client).wait(identifier, budget=5, on_update=on_update)
    assert result is not None and result.state == "errored" and "downloaded" in str(result.errors)
    assert phases == ["analysing", "errored"]


@pytest.mark.anyio
async def test_an_unknown_identifier_raises_not_found(client: IdentifaiClient) -> None:
    with anyio.fail_after(5), pytest.raises(NotFound, match="no-such-job"):
        await poller(client).wait("no-such-job", budget=5)


@pytest.mark.anyio
async def test_a_just_submitted_job_the_service_does_not_list_yet_is_queued_not_missing(
    client: IdentifaiClient, fake: FakeIdentifai
) -> None:
    fake.configure(hidden_polls=2, polls_until_done=1)
    identifier = await submit(client)
    phases: list[str] = []

    async def on_update(result: VideoClassification | None, phase: str) -> None:
        phases.append(phase)

    with anyio.fail_after(5):
        result = await poller(client).wait(identifier, budget=5, on_update=on_update, expect_exists=True)
    assert result is not None and result.state == "done"
    assert phases == ["queued", "queued", "analysing", "done"]


@pytest.mark.anyio
async def test_expect_exists_until_the_budget_ends_returns_none(client: IdentifaiClient) -> None:
    with anyio.fail_after(5):
        assert await poller(client).wait("not-yet-known", budget=0.1, expect_exists=True) is None


@pytest.mark.anyio
async def test_a_service_that_answers_pending_for_unknown_identifiers_waits_out_the_budget(
    client: IdentifaiClient, fake: FakeIdentifai
) -> None:
    fake.configure(unknown="pending")
    with anyio.fail_after(5):
        result = await poller(client).wait("typo-identifier", budget=0.1)
    assert result is not None and result.state == "pending"


@pytest.mark.anyio
async def test_three_concurrent_waits_share_batch_calls(client: IdentifaiClient, fake: FakeIdentifai) -> None:
    fake.configure(polls_until_done=4)
    identifiers = [await submit(client, name) for name in "abc"]
    results: dict[str, VideoClassification | None] = {}
    shared = poller(client)

    async def wait(identifier: str) -> None:
        results[identifier] = await shared.wait(identifier, budget=5)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for identifier in identifiers:
                tg.start_soon(wait, identifier)
    assert all(r is not None and r.state == "done" for r in results.values())
    assert singles(fake) == []
    assert len(batches(fake)) == 5  # one per poll cycle, not three
    assert all(sorted(batch) == sorted(identifiers) for batch in batches(fake))


@pytest.mark.anyio
async def test_cancelling_one_wait_leaves_the_others_polling(client: IdentifaiClient, fake: FakeIdentifai) -> None:
    fake.configure(polls_until_done=6)
    identifiers = [await submit(client, name) for name in "abc"]
    shared = poller(client, interval=0.02, interval_max=0.02)
    results: dict[str, VideoClassification | None] = {}
    doomed = anyio.CancelScope()

    async def wait(identifier: str) -> None:
        results[identifier] = await shared.wait(identifier, budget=5)

    async def cancel_first_wait_after_two_polls(result: VideoClassification | None, phase: str) -> None:
        if len(batches(fake)) >= 2:
            doomed.cancel()

    async def first() -> None:
        with doomed:
            results[identifiers[0]] = await shared.wait(
                identifiers[0], budget=5, on_update=cancel_first_wait_after_two_polls
            )

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            for identifier in identifiers[1:]:
                tg.start_soon(wait, identifier)
    assert doomed.cancelled_caught and identifiers[0] not in results
    assert all(results[i] is not None and results[i].state == "done" for i in identifiers[1:])  # type: ignore[union-attr]
    assert identifiers[0] not in batches(fake)[-1]  # no longer polled for


@pytest.mark.anyio
async def test_followers_of_a_leader_cancelled_mid_round_poll_again(
    client: IdentifaiClient, fake: FakeIdentifai
) -> None:
    fake.configure(polls_until_done=0)
    identifiers = [await submit(client, name) for name in "abc"]
    fake.inject("slow", path_prefix="/api/classifications_video", delay=0.4)
    shared = poller(client)
    results: dict[str, VideoClassification | None] = {}
    leader = anyio.CancelScope()

    async def lead() -> None:
        with leader:
            await shared.wait(identifiers[0], budget=5)

    async def follow(identifier: str) -> None:
        results[identifier] = await shared.wait(identifier, budget=5)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lead)
            for identifier in identifiers[1:]:
                tg.start_soon(follow, identifier)
            await anyio.sleep(0.15)  # all three are inside the slow batch call by now
            leader.cancel()
    assert leader.cancelled_caught
    assert set(results) == set(identifiers[1:])
    assert all(r is not None and r.state == "done" for r in results.values())
    assert len(batches(fake)) == 2 and sorted(batches(fake)[1]) == sorted(identifiers[1:])


@pytest.mark.anyio
async def test_left_out_of_a_batch_is_settled_by_a_single_get(client: IdentifaiClient, fake: FakeIdentifai) -> None:
    known = await submit(client)
    shared = poller(client)
    outcome: dict[str, object] = {}

    async def wait(identifier: str) -> None:
        try:
            outcome[identifier] = await shared.wait(identifier, budget=5)
        except NotFound as exc:
            outcome[identifier] = exc

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait, known)
            tg.start_soon(wait, "ghost-identifier")
    assert isinstance(outcome["ghost-identifier"], NotFound)
    assert isinstance(outcome[known], VideoClassification)
    assert batches(fake) and "ghost-identifier" in singles(fake)


@pytest.mark.anyio
async def test_errors_other_than_pending_propagate(fake: FakeIdentifai) -> None:
    async with IdentifaiClient(make_settings(fake, api_key="wrong-key")) as api:
        with anyio.fail_after(5), pytest.raises(Unauthorized):
            await poller(api).wait("whatever-id", budget=5)
    async with IdentifaiClient(make_settings(fake, max_retries=0)) as api:
        fake.inject("500", times=5)
        with anyio.fail_after(5), pytest.raises(ServerError):
            await poller(api).wait("whatever-id", budget=5)


@pytest.mark.anyio
async def test_one_off_wait_for_result(client: IdentifaiClient, fake: FakeIdentifai, tmp_path: Path) -> None:
    fake.configure(polls_until_done=2)
    submission = await client.submit_file(write_video(tmp_path, marker="human"), NO_OPTIONS)
    with anyio.fail_after(5):
        result = await wait_for_result(client, submission.identifier, budget=5, interval=0.01, expect_exists=True)
    assert result is not None and result.verdict is not None and result.verdict.classification == "human"
    assert API_KEY  # the key never needed repeating: the client carries it
