"""A run stops when the store says so: a cancel requested by any process, or its session ended."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.exceptions import Conflict
from orchestratex.orchestrator._watch import CANCEL_REQUESTED
from orchestratex.providers import GenerationRequest
from orchestratex.records import SessionStatus
from orchestratex.stores import MemoryStore, SQLiteStore, Store

from ..helpers import NO_WAIT, catalog

_judged = [0]


async def _slow(request: GenerationRequest) -> str:
    """Slow calls, and judges whose scores keep improving but never reach the threshold: a run that goes on."""
    await asyncio.sleep(0.05)
    if request.purpose != "judge":
        return "an answer"
    _judged[0] += 1
    return json.dumps({"score": min(9.9, 1 + _judged[0] * 0.05), "feedback": "better, go on"})


def _orchestrator(store: Store) -> Orchestrator:
    _judged[0] = 0
    orch = Orchestrator(
        providers=[FunctionProvider(_slow)],
        catalog=catalog("a", "b"),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        store=store,
    )
    orch.cancel_check_s = 0.05
    return orch


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> Store:
    return MemoryStore() if request.param == "memory" else SQLiteStore(":memory:")


async def test_a_cancel_requested_in_the_store_ends_the_run_cancelled(store: Store) -> None:
    async with _orchestrator(store) as orch:
        session = await orch.create_session(cost_limit=1.0)
        doc = await orch.prepare("Keep refining", session=session, max_iterations=50, evaluation_threshold=10)
        run = asyncio.create_task(orch.drive(doc))
        for _ in range(3000):  # (once it has stored an iteration: 0.3 s was not always enough on a loaded runner)
            if (await store.get_orchestration(doc.id)).iterations or run.done():
                break
            await asyncio.sleep(0.01)
        assert await store.request_cancel(doc.id)
        result = await asyncio.wait_for(run, 30)  # the caller did not cancel: it gets the result, no CancelledError
        assert result.status == "cancelled" and result.stop_reason == "cancelled"
        assert 0 < result.iterations < 50
        assert result.events[-1].type == "orchestration_failed"
        stored = await store.get_session(session.id)
        assert stored.reserved_cost == 0
        assert stored.total_cost == result.total_cost
        assert not await store.request_cancel(doc.id)  # it has ended


async def test_ending_the_session_in_the_store_stops_its_runs(store: Store) -> None:
    async with _orchestrator(store) as orch:
        session = await orch.create_session()
        docs = [await orch.prepare("Keep refining", session=session, max_iterations=50, evaluation_threshold=10)]
        docs.append(await orch.prepare("And this", session=session, max_iterations=50, evaluation_threshold=10))
        runs = [asyncio.create_task(orch.drive(d)) for d in docs]
        await asyncio.sleep(0.2)
        await store.set_session_status(session.id, "cancelled")
        results = await asyncio.wait_for(asyncio.gather(*runs), 5)
        assert [r.status for r in results] == ["cancelled", "cancelled"]
        assert {r.orchestration.error for r in results} == {
            f"its session {session.id} is cancelled: orchestrations run only in an active session"
        }
        assert await store.count_active_orchestrations("local") == 0


async def test_a_run_cancelled_through_the_store_says_so(store: Store) -> None:
    async with _orchestrator(store) as orch:
        doc = await orch.prepare("Keep refining", max_iterations=50, evaluation_threshold=10)
        run = asyncio.create_task(orch.drive(doc))
        await asyncio.sleep(0.2)
        assert await store.request_cancel(doc.id)
        result = await asyncio.wait_for(run, 5)
        assert result.status == "cancelled"
        assert result.orchestration.error is not None and "Store.request_cancel" in result.orchestration.error
        assert (await store.get_orchestration(doc.id)).error == result.orchestration.error
        assert result.events[-1].error == result.orchestration.error  # type: ignore[union-attr]


@pytest.mark.parametrize("status", ["completed", "cancelled"])
async def test_a_stale_session_object_of_an_ended_session_is_refused_as_its_id_is(
    store: Store, status: SessionStatus
) -> None:
    async with _orchestrator(store) as orch:
        session = await orch.create_session(cost_limit=1.0)
        await store.set_session_status(session.id, status)  # elsewhere: `session` still says active
        expected = f"session {session.id} is {status}: orchestrations start only in an active session"
        with pytest.raises(Conflict) as by_id:
            await orch.run("Hello", session=session.id)
        with pytest.raises(Conflict) as by_object:
            await orch.run("Hello", session=session)
        assert str(by_id.value) == str(by_object.value) == expected
        with pytest.raises(Conflict, match=expected):
            async with orch.run_stream("Hello", session=session) as stream:
                async for _ in stream:
                    pass
        # no call was made and nothing was spent; what `Store.start` stored says why it ended
        docs = await store.list_orchestrations(session_id=session.id)
        assert [(d.status, d.error, d.total_cost, d.iterations[0].phase) for d in docs] == [
            ("cancelled", expected, 0.0, "selected")
        ] * 2
        assert _judged[0] == 0 and (await store.get_session(session.id)).reserved_cost == 0


class _SlowEnd(MemoryStore):
    """A store whose writes after `start` answer late, as on a loaded machine or a distant database: the cancel
    watcher asks about a run (every 0.05 s here) while its refused start is being ended."""

    async def commit_step(self, *args: Any, **kwargs: Any) -> bool:
        await asyncio.sleep(0.2)
        return await super().commit_step(*args, **kwargs)


@pytest.mark.parametrize("status", ["completed", "cancelled"])
async def test_a_stale_session_refused_by_a_slow_store_keeps_the_reason_its_start_gave(status: SessionStatus) -> None:
    """The watcher found the refused run's session ended too, and re-worded why: the caller of a stale `Session` got
    `Conflict("its session … is cancelled: orchestrations run only in an active session")` instead of the message
    the same call by id gets (under load, `test_a_stale_session_object_of_an_ended_session_is_refused_as_its_id_is`
    failed about one run in a few)."""
    store = _SlowEnd()
    async with _orchestrator(store) as orch:
        session = await orch.create_session(cost_limit=1.0)
        await store.set_session_status(session.id, status)
        expected = f"session {session.id} is {status}: orchestrations start only in an active session"
        with pytest.raises(Conflict) as refused:
            await orch.run("Hello", session=session)
        assert str(refused.value) == expected
        (doc,) = await store.list_orchestrations(session_id=session.id)
        assert (doc.status, doc.error) == ("cancelled", expected)


async def test_a_caller_cancelling_its_own_run_still_gets_cancelled_error(store: Store) -> None:
    async with _orchestrator(store) as orch:
        run = asyncio.create_task(orch.run("Keep refining", max_iterations=50, evaluation_threshold=10))
        await asyncio.sleep(0.2)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        (session,) = await store.list_sessions("local")
        (doc,) = await store.list_orchestrations(session_id=session.id)
        assert doc.status == "cancelled"


async def test_a_cancelled_run_says_how_many_calls_it_abandoned_in_flight(store: Store) -> None:
    """A call in flight when its run is cancelled may be billed by its provider: it is not counted (its cost is not
    known), but the orchestration says so, as a suspended one does (`abandoned_calls`)."""
    started = asyncio.Event()

    async def slow_answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 9, "feedback": "fine"})
        if "Take your time" in request.messages[-1].content:
            started.set()
            await asyncio.sleep(30)
        return "an answer"

    orch = Orchestrator(
        providers=[FunctionProvider(slow_answer)], catalog=catalog("a", "b"), retry=NO_WAIT, store=store
    )
    async with orch:
        run = asyncio.create_task(orch.run("Take your time", max_iterations=1))
        await started.wait()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        (session,) = await store.list_sessions("local")
        (doc,) = await store.list_orchestrations(session_id=session.id)
        assert doc.status == "cancelled" and doc.abandoned_calls == 1 and doc.total_cost == 0
        quick = await orch.run("No call in flight this time", max_iterations=1, max_output_tokens=16)
        assert quick.orchestration.abandoned_calls is None


@pytest.mark.parametrize("instant", [True, False], ids=["answers-at-once", "slow"])
async def test_cancel_ends_a_prepared_run_that_no_task_drives_before_any_call(instant: bool) -> None:
    # cancel(id) of a `prepare`d run returned False and left it `pending`: a later `resume_pending` ran it and paid
    calls: list[str] = []

    def answer(request: GenerationRequest) -> str:
        calls.append(request.purpose)
        return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "an answer"

    async with (
        Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b"), retry=NO_WAIT)
        if instant
        else _orchestrator(MemoryStore())
    ) as orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        prepared = await orch.prepare("Explain QUIC", session=session)
        assert await orch.cancel(prepared.id) is True
        ended = await orch.store.get_orchestration(prepared.id)
        assert (ended.status, ended.stop_reason, ended.total_cost, ended.iterations) == (
            "cancelled",
            "cancelled",
            0,
            [],
        )
        events = [e.type for e in await orch.store.list_events(session.id) if e.orchestration_id == prepared.id]
        assert events == ["orchestration_started", "orchestration_failed"]
        assert await orch.cancel(prepared.id) is False  # ended
        assert await orch.resume_pending() == []
        assert (await orch.drive(prepared.id)).status == "cancelled"
        assert calls == [] and (await orch.store.get_session(session.id)).total_cost == 0
        assert await orch.cancel("0" * 24) is False and await orch.cancel("not-an-id") is False


def _instant(request: GenerationRequest) -> str:
    """Models that answer at once (a FunctionProvider, a cached answer): a run ends before the cancel watcher asks."""
    _judged[0] += int(request.purpose == "judge")
    return json.dumps({"score": 3, "feedback": "go on"}) if request.purpose == "judge" else "an answer"


@pytest.mark.parametrize("status", ["completed", "cancelled"])
@pytest.mark.parametrize("how", ["drive", "start", "resume_pending"])
async def test_a_prepared_run_whose_session_ended_before_it_is_driven_makes_no_call(
    store: Store, status: SessionStatus, how: str
) -> None:
    # Before: `prepare` (a job queued), the session ended (`completed`, to stop its spending), then `drive`/`start`
    # (or a server's `resume_pending`) ran it to its end and paid for it, when its models answered before the cancel
    # watcher's first question to the store (at once with a MemoryStore); `run` given the session was refused
    async with _orchestrator(store) as orch:
        orch.providers = [FunctionProvider(_instant)]
        session = await orch.create_session(cost_limit=1.0)
        doc = await orch.prepare("Hello", session=session, max_iterations=3)
        await store.set_session_status(session.id, status)
        expected = f"session {session.id} is {status}: orchestrations start only in an active session"
        if how == "drive":
            with pytest.raises(Conflict, match=expected):
                await orch.drive(doc.id)
        elif how == "start":
            with pytest.raises(Conflict, match=expected):
                await orch.start(doc)
        else:
            assert await orch.resume_pending() == []  # (refused, as a run another process claimed)
        stored = await store.get_orchestration(doc.id)
        assert (stored.status, stored.error, stored.total_cost) == ("cancelled", expected, 0.0)
        assert _judged[0] == 0 and not stored.iterations
        assert (await store.get_session(session.id)).total_cost == 0


class _Died(BaseException):
    """The process dies while a call is in flight (a SIGKILL, in one process)."""


async def test_a_run_left_running_whose_session_ended_is_not_resumed_into_new_calls() -> None:
    # Before: the run resuming it made its calls (and paid) before the cancel watcher's first question
    store = MemoryStore()
    calls: list[str] = []
    dead = True

    def fn(request: GenerationRequest) -> str:
        calls.append(request.purpose)
        if dead and request.purpose == "generate" and calls.count("generate") == 2:
            raise _Died
        return _instant(request)

    def make() -> Orchestrator:
        return Orchestrator(
            providers=[FunctionProvider(fn)], catalog=catalog("a", "b"), retry=NO_WAIT, store=store, lease_ttl_s=0.2
        )

    await store.open()
    session = await make().create_session(cost_limit=1.0)
    with pytest.raises(_Died):
        await make().run("Hello", session=session, max_iterations=3)
    await store.set_session_status(session.id, "completed")
    dead, before = False, len(calls)
    await asyncio.sleep(0.25)  # (the dead process's lease expires)
    [result] = await make().resume_pending()
    assert (result.status, result.orchestration.error) == (
        "cancelled",
        f"its session {session.id} is completed: orchestrations run only in an active session",
    )
    assert len(calls) == before


@pytest.mark.parametrize("left", ["handed-back", "died"])
async def test_a_run_cancelled_while_no_process_drove_it_is_resumed_into_no_call(left: str, tmp_path: Path) -> None:
    # Before: a run handed back (`suspend`, a worker's stop) or left by a process that died, then cancelled through the
    # store by another process, was resumed by the next worker's `resume_pending` as any other: its first call (the next
    # answer) went out before the cancel watcher's first question stopped it, left in `abandoned_calls`, which the
    # provider may bill
    calls: list[str] = []

    async def answer(request: GenerationRequest) -> str:
        calls.append(request.purpose)
        if left == "died" and calls.count("generate") == 2:
            raise _Died
        await asyncio.sleep(0.02)
        return json.dumps({"score": 3, "feedback": "go on"}) if request.purpose == "judge" else "an answer"

    def worker(store: Store) -> Orchestrator:
        return Orchestrator(
            providers=[FunctionProvider(answer)], catalog=catalog("a", "b"), retry=NO_WAIT, store=store, lease_ttl_s=0.2
        )

    path = tmp_path / "runs.db"
    async with worker(SQLiteStore(path)) as first:
        session = await first.create_session()  # (no cost limit: no reservation in the store before a call)
        doc = await first.prepare("Keep refining", session=session, max_iterations=10, evaluation_threshold=10)
        task = first.start(doc)
        if left == "died":
            with pytest.raises(_Died):
                await task
        else:
            while "judge" not in calls:
                await asyncio.sleep(0.01)
            assert await first.suspend(doc.id)
            with pytest.raises(asyncio.CancelledError):
                await task
    async with SQLiteStore(path) as other:  # another process cancels it
        assert (await other.get_orchestration(doc.id)).status == "running"
        assert await other.request_cancel(doc.id)
    before = len(calls)
    await asyncio.sleep(0.3)  # (the lease of a process that died expires)
    async with worker(SQLiteStore(path)) as second:
        [result] = await second.resume_pending()
    assert (result.status, result.orchestration.error) == ("cancelled", CANCEL_REQUESTED)
    assert calls[before:] == [] and result.orchestration.abandoned_calls is None
    assert result.events[-1].type == "orchestration_failed"
