"""`outcome`: a store write runs to its end despite cancellation, and its result is recorded first."""

from __future__ import annotations

import asyncio

import pytest

from orchestratex.exceptions import StoreUnavailable
from orchestratex.orchestrator import RetryPolicy
from orchestratex.orchestrator._durable import outcome, with_store_retries


async def _later(value: int, delay: float = 0.01) -> int:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    loop.call_later(delay, future.set_result, value)
    return await future


async def _now(value: int) -> int:
    return value


async def _fails_later() -> int:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    loop.call_later(0.01, future.set_exception, ValueError("the write failed"))
    return await future


async def test_a_write_that_never_suspends_needs_no_task() -> None:
    seen: list[int] = []
    tasks = len(asyncio.all_tasks())
    assert await outcome(_now(1), seen.append) == 1
    assert seen == [1] and len(asyncio.all_tasks()) == tasks


async def test_a_suspended_write_finishes_and_is_recorded_before_the_cancellation() -> None:
    seen: list[int] = []
    task = asyncio.ensure_future(outcome(_later(7), seen.append))
    await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [7]
    assert await outcome(_later(8), seen.append) == 8 and seen == [7, 8]


async def test_a_failed_write_records_nothing() -> None:
    seen: list[int] = []
    with pytest.raises(ValueError, match="the write failed"):
        await outcome(_fails_later(), seen.append)
    task = asyncio.ensure_future(outcome(_fails_later(), seen.append))
    await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):  # the cancellation wins, the error is its cause
        await task
    assert seen == []


def _cancel_every_other_task() -> None:
    """What the event loop's shutdown (`asyncio.run` leaving with tasks pending) does: cancel every task."""
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.cancel()


@pytest.mark.parametrize("ends", ["with a result", "with an error"])
async def test_a_write_that_ended_keeps_its_outcome_when_every_task_is_cancelled(ends: str) -> None:
    written: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen: list[int] = []

    async def write() -> int:
        return await written

    task = asyncio.ensure_future(outcome(write(), seen.append))
    await asyncio.sleep(0)  # the write waits in a task of its own
    if ends == "with a result":
        written.set_result(5)  # it has ended, but the task running it has not run again yet…
    else:
        written.set_exception(ValueError("the write failed"))
    _cancel_every_other_task()  # …when that task is cancelled too
    with pytest.raises(asyncio.CancelledError) as raised:
        await task
    if ends == "with a result":
        assert seen == [5]  # recorded, then the cancellation
    else:
        assert seen == [] and isinstance(raised.value.__cause__, ValueError)


async def test_a_write_still_running_when_every_task_is_cancelled_runs_to_its_end() -> None:
    seen: list[int] = []
    task = asyncio.ensure_future(outcome(_later(3), seen.append))
    await asyncio.sleep(0.001)  # the write's task has started and waits
    _cancel_every_other_task()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [3]


async def test_store_unavailable_is_retried_a_bounded_number_of_times() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    attempts = 0

    async def write() -> int:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise StoreUnavailable("locked")
        return attempts

    policy = RetryPolicy(max_attempts=3, initial_wait=0.1, max_wait=1.0, sleep=sleep)
    assert await with_store_retries(write, policy, "writing") == 3 and len(waits) == 2
    attempts = -10
    with pytest.raises(StoreUnavailable):
        await with_store_retries(write, policy, "writing")
    assert attempts == -7 and len(waits) == 4
