"""A suspended run records the calls it abandons in flight; the run resuming it makes them again and counts them in
`Orchestration.interrupted_calls`, with or without a session budget (whose reservations the suspension released)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from orchestratex import FunctionProvider, Generation, GenerationRequest, LLMJudgeEvaluator, Orchestrator
from orchestratex.events import Event
from orchestratex.records import Session, SessionSettings
from orchestratex.routing import BayesianRouter
from orchestratex.stores import MemoryStore, SQLiteStore, Store

from ..helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "suspend.db")


class _Calls:
    """A provider whose calls of purpose `hang_in` wait until released, recording every call made."""

    def __init__(self, hang_in: str | None) -> None:
        self.hang_in = hang_in
        self.made: list[str] = []
        self.waiting = asyncio.Event()
        self.base = scripted(answer_attempt, score_of_answer({1: 9.0}))

    async def __call__(self, request: GenerationRequest) -> Generation:
        self.made.append(request.purpose)
        if request.purpose == self.hang_in:
            if request.purpose == "generate" or self.made.count("judge") == 3:  # the whole step is in flight
                self.waiting.set()
            await asyncio.sleep(3600)
        return await self.base.generate(request)

    def orchestrator(self, store: Store, **options: object) -> Orchestrator:
        return Orchestrator(
            providers=[FunctionProvider(self)],
            catalog=catalog("a", "b", "c", "d", "e"),
            store=store,
            retry=NO_WAIT,
            router=BayesianRouter(explore=False),
            evaluator=LLMJudgeEvaluator(panel_size=3),
            **options,  # type: ignore[arg-type]
        )


async def _session(store: Store, cost_limit: float | None) -> Session:
    await store.open()
    return await store.create_session(Session(user_id="alice", settings=SessionSettings(cost_limit=cost_limit)))


@pytest.mark.parametrize("cost_limit", [1.0, None])
@pytest.mark.parametrize(("hang_in", "in_flight"), [("generate", 1), ("judge", 3)])
async def test_a_resumed_run_counts_each_call_its_suspended_run_abandoned(
    store: Store, cost_limit: float | None, hang_in: str, in_flight: int
) -> None:
    calls = _Calls(hang_in)
    session = await _session(store, cost_limit)
    first = calls.orchestrator(store)
    doc = await first.prepare("Hello", session=session, max_iterations=1)
    first.start(doc)
    await asyncio.wait_for(calls.waiting.wait(), 10)
    assert await first.suspend(doc.id)
    await first.aclose()
    suspended = await store.get_orchestration(doc.id)
    assert (suspended.status, suspended.abandoned_calls, suspended.interrupted_calls) == ("running", in_flight, 0)
    assert (await store.get_session(session.id)).reserved_cost == 0  # the suspension released what it held

    calls.hang_in = None
    async with calls.orchestrator(store) as second:
        [result] = await second.resume_pending()
    assert result.status == "completed" and result.final_score == 9.0
    assert calls.made.count(hang_in) == 2 * in_flight  # each made again by the resumed run
    assert result.orchestration.interrupted_calls == in_flight
    stored = await store.get_orchestration(doc.id)
    assert (stored.interrupted_calls, stored.abandoned_calls) == (in_flight, None)
    assert (await store.get_session(session.id)).reserved_cost == 0
    await store.close()


@pytest.mark.parametrize("cost_limit", [1.0, None])
async def test_a_run_suspended_between_calls_counts_none(store: Store, cost_limit: float | None) -> None:
    """Suspended while an event handler holds it after its routing decision: no call was in flight (a crash there
    would be counted as one without a budget, from the step left open; a suspension knows better)."""
    calls = _Calls(None)
    selected = asyncio.Event()

    async def hold(event: Event) -> None:
        if event.type == "model_selected":
            selected.set()
            await asyncio.sleep(3600)

    session = await _session(store, cost_limit)
    first = calls.orchestrator(store, on_event=hold)
    doc = await first.prepare("Hello", session=session, max_iterations=1)
    first.start(doc)
    await asyncio.wait_for(selected.wait(), 10)
    assert await first.suspend(doc.id)
    await first.aclose()
    assert calls.made == []
    assert (await store.get_orchestration(doc.id)).abandoned_calls == 0

    async with calls.orchestrator(store) as second:
        [result] = await second.resume_pending()
    assert result.status == "completed"
    assert result.orchestration.interrupted_calls == 0
    await store.close()


async def test_suspending_a_run_awaited_with_run_returns_it_to_its_caller_suspended(store: Store) -> None:
    # `suspend(id)` of a run awaited with `run()` cancelled the caller's own task: the caller got a CancelledError it
    # never asked for (at the top of a program `asyncio.run` died of it). It now gets the suspended run's RunResult,
    # as a stream's reader did, and `resume_pending` finishes it.
    calls = _Calls(hang_in="generate")
    orch = calls.orchestrator(store)
    session = await _session(store, 1.0)
    caller = asyncio.create_task(orch.run("Hello", session=session, max_iterations=1))
    await calls.waiting.wait()
    (oid,) = orch._tasks
    assert await orch.suspend(oid)
    result = await caller  # not a CancelledError
    assert (result.id, result.status, result.stop_reason, result.orchestration.abandoned_calls) == (
        oid,
        "running",
        None,
        1,
    )
    assert not caller.cancelled()
    calls.hang_in = None
    (resumed,) = await orch.resume_pending()
    assert (resumed.id, resumed.status, resumed.orchestration.interrupted_calls) == (oid, "completed", 1)
    await orch.aclose()


def test_suspending_a_run_sync_run_from_another_thread_returns_it_suspended(tmp_path: Path) -> None:
    # `run_sync` in a worker thread, suspended from the main thread: the worker got a bare
    # `concurrent.futures.CancelledError` traceback.
    import threading

    calls = _Calls(hang_in="generate")
    orch = calls.orchestrator(SQLiteStore(tmp_path / "suspend.db"))
    got: dict[str, object] = {}
    worker = threading.Thread(target=lambda: got.setdefault("result", orch.run_sync("Hello", max_iterations=1)))
    worker.start()
    while not orch._tasks:
        worker.join(0.01)
    (oid,) = orch._tasks

    async def suspend() -> bool:
        while not calls.waiting.is_set():
            await asyncio.sleep(0.01)
        return await orch.suspend(oid)

    assert asyncio.run(suspend())
    worker.join(10)
    result = got["result"]
    assert getattr(result, "status", None) == "running" and getattr(result, "id", None) == oid
    orch.close()


@pytest.mark.parametrize("order", [("cancel", "suspend"), ("suspend", "cancel")])
@pytest.mark.parametrize("driven", ["drive", "start"])
async def test_a_cancel_wins_over_a_suspend_asked_at_the_same_time(
    store: Store, order: tuple[str, str], driven: str
) -> None:
    # a user's cancel arriving while a graceful shutdown suspended the runs: `cancel` returned True, but the run was
    # suspended, left `running` for the next process's `resume_pending()` to carry on (and pay for)
    calls = _Calls("generate")
    orchestrator = calls.orchestrator(store)
    doc = await orchestrator.prepare("Hello", max_iterations=2)
    task = orchestrator.start(doc) if driven == "start" else asyncio.create_task(orchestrator.drive(doc))
    await asyncio.wait_for(calls.waiting.wait(), 10)
    answers = dict(zip(order, await asyncio.gather(*(getattr(orchestrator, n)(doc.id) for n in order)), strict=True))
    assert answers["cancel"] is True
    with contextlib.suppress(asyncio.CancelledError):
        await task
    stored = await orchestrator.store.get_orchestration(doc.id)
    assert (stored.status, stored.stop_reason) == ("cancelled", "cancelled")
    assert await orchestrator.resume_pending() == []
    await orchestrator.aclose()


@pytest.mark.parametrize("stop", ["cancel", "suspend"])
async def test_a_run_awaited_with_drive_or_resumed_can_be_cancelled_or_suspended(store: Store, stop: str) -> None:
    # `cancel(id)` and `suspend(id)` of a run driven by `await orchestrator.drive(id)`, or resumed by
    # `resume_pending()`, returned False and left it going (here: waiting on its model for an hour), as they knew only
    # the runs of `run` and `start`
    calls = _Calls("generate")
    orchestrator = calls.orchestrator(store)
    doc = await orchestrator.prepare("Hello", max_iterations=2)
    driving = asyncio.create_task(orchestrator.drive(doc))
    await asyncio.wait_for(calls.waiting.wait(), 10)
    assert await asyncio.wait_for(getattr(orchestrator, stop)(doc.id), 10) is True
    result = await asyncio.wait_for(driving, 10)
    assert result.status == ("cancelled" if stop == "cancel" else "running")
    if stop == "suspend":  # left for `resume_pending`, whose run is stopped the same way
        calls.waiting.clear()
        resuming = asyncio.create_task(orchestrator.resume_pending())
        await asyncio.wait_for(calls.waiting.wait(), 10)
        assert await asyncio.wait_for(orchestrator.cancel(doc.id), 10) is True
        assert [r.status for r in await asyncio.wait_for(resuming, 10)] == ["cancelled"]
    assert (await orchestrator.store.get_orchestration(doc.id)).status == "cancelled"
    await orchestrator.aclose()


class _OneJudgeAnswers(_Calls):
    """The answer comes at once; of the panel of three, the first judge answers, the other two wait."""

    async def __call__(self, request: GenerationRequest) -> Generation:
        self.made.append(request.purpose)
        if self.hang_in == "judge" and request.purpose == "judge" and self.made.count("judge") > 1:
            if self.made.count("judge") == 3:
                self.waiting.set()
            await asyncio.sleep(3600)
        return await self.base.generate(request)


@pytest.mark.parametrize("cost_limit", [1.0, None])
async def test_judges_that_had_answered_when_the_run_was_suspended_are_counted_when_asked_again(
    store: Store, cost_limit: float | None
) -> None:
    # suspended while two judges of three were still answering: the resumed run asks the whole panel again, the judge
    # that had answered too (its verdict is not kept), so it is paid twice; interrupted_calls said 2 (the two in
    # flight), though docs/guarantees.md counts each call the resumed run makes again
    calls = _OneJudgeAnswers("judge")
    session = await _session(store, cost_limit)
    first = calls.orchestrator(store)
    doc = await first.prepare("Hello", session=session, max_iterations=1)
    first.start(doc)
    await asyncio.wait_for(calls.waiting.wait(), 10)
    assert await first.suspend(doc.id)
    await first.aclose()
    suspended = await store.get_orchestration(doc.id)
    assert (suspended.status, suspended.abandoned_calls) == ("running", 3)

    calls.hang_in = None
    async with calls.orchestrator(store) as second:
        [result] = await second.resume_pending()
    assert result.status == "completed" and result.final_score == 9.0
    assert calls.made.count("judge") == 3 + 3  # the whole panel asked again
    assert result.orchestration.interrupted_calls == 3
    await store.close()
