"""One watcher per orchestrator stops the runs the store says should stop; one call renews all their leases."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator, RunResult
from orchestratex.exceptions import Conflict
from orchestratex.providers import GenerationRequest
from orchestratex.records import Orchestration
from orchestratex.stores import MemoryStore, SQLiteStore, Store

from ..helpers import NO_WAIT, catalog

_STOP_FROM_ANOTHER_PROCESS = """
import asyncio, sys
from orchestratex import Orchestrator, SQLiteStore

async def main(path, oid):
    async with Orchestrator(store=SQLiteStore(path), simulate=True) as other:
        print(await other.store.request_cancel(oid))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def _answer(request: GenerationRequest) -> str:
    """'keep going' prompts are refined to the last iteration (each call 50 ms), the others end at their first
    answer (each call 20 ms)."""
    text = request.messages[-1].content
    await asyncio.sleep(0.05 if "keep going" in text or "KEEPGOING" in text else 0.02)
    if request.purpose == "judge":
        return json.dumps({"score": 5.0 if "KEEPGOING" in text else 9.0, "feedback": "go on"})
    return "KEEPGOING answer" if "keep going" in text or "KEEPGOING" in text else "QUICK answer"


class _Counting(SQLiteStore):
    """Counts the cancel and lease look-ups an orchestrator makes (overriding neither `cancel_requested` nor
    `claim`, it keeps the native one-statement versions)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: dict[str, list[int]] = {"cancel_requests": [], "renew_leases": []}

    async def cancel_requests(self, orchestration_ids: Any) -> set[str]:
        self.calls["cancel_requests"].append(len(orchestration_ids))
        return await super().cancel_requests(orchestration_ids)

    async def renew_leases(self, orchestration_ids: Any, owner: str, ttl_s: float) -> set[str]:
        self.calls["renew_leases"].append(len(orchestration_ids))
        return await super().renew_leases(orchestration_ids, owner, ttl_s)


def _orchestrator(store: Store, *, lease_ttl_s: float = 60.0) -> Orchestrator:
    orch = Orchestrator(
        providers=[FunctionProvider(_answer)],
        catalog=catalog("a", "b"),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        store=store,
        lease_ttl_s=lease_ttl_s,
    )
    orch.cancel_check_s = 0.05
    return orch


async def _running(store: Store, oid: str) -> None:
    """Wait until the orchestration has committed a step."""
    for _ in range(500):
        if (await store.get_orchestration(oid)).iterations:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{oid} never started")


async def _prepared(orch: Orchestrator, n: int, *, keep_going: int) -> list[Orchestration]:
    session = await orch.create_session(cost_limit=10.0)
    return [
        await orch.prepare(
            "keep going" if i == keep_going else f"quick {i}",
            session=session,
            max_iterations=50,
            evaluation_threshold=8,
            patience=50,
        )
        for i in range(n)
    ]


async def test_a_cancel_requested_from_another_process_stops_one_run_of_many(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    async with _Counting(path) as store, _orchestrator(store) as orch:
        docs = await _prepared(orch, 30, keep_going=7)
        runs = [orch.start(doc) for doc in docs]
        await _running(store, docs[7].id)
        other = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _STOP_FROM_ANOTHER_PROCESS,
            str(path),
            docs[7].id,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        out, _ = await asyncio.wait_for(other.communicate(), 60)
        assert out.decode().strip() == "True" and other.returncode == 0
        results: list[RunResult] = await asyncio.wait_for(asyncio.gather(*runs), 30)  # none raises
    stopped = results.pop(7)
    assert stopped.status == "cancelled" and stopped.stop_reason == "cancelled"
    assert 0 < stopped.iterations < 50
    assert stopped.events[-1].type == "orchestration_failed"
    assert [r.status for r in results] == ["completed"] * 29
    # the store was asked about the runs together
    assert max(store.calls["cancel_requests"]) > 1
    async with SQLiteStore(path) as check:
        session = await check.get_session(stopped.orchestration.session_id)
        assert session.reserved_cost == 0
        assert await check.count_active_orchestrations(session.user_id) == 0


async def test_orchestrator_cancel_stops_one_run_of_many_and_no_run_has_a_task_of_its_own(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "one.db") as store, _orchestrator(store) as orch:
        docs = await _prepared(orch, 20, keep_going=3)
        tasks_before = len(asyncio.all_tasks())
        runs = [orch.start(doc) for doc in docs]
        await _running(store, docs[3].id)
        # each run is driven in the task `start` made; one watcher and one lease keeper serve them all
        assert len(asyncio.all_tasks()) <= tasks_before + len(docs) + 2
        assert await orch.cancel(docs[3].id)
        assert runs[3].cancelled()  # `Orchestrator.cancel` cancels the task: its awaiter gets CancelledError
        results = await asyncio.wait_for(asyncio.gather(*runs[:3], *runs[4:]), 30)
        assert [r.status for r in results] == ["completed"] * 19
        stopped = await store.get_orchestration(docs[3].id)
        assert stopped.status == "cancelled" and stopped.stop_reason == "cancelled"


async def test_a_run_stopped_on_request_leaves_its_callers_task_uncancelled() -> None:
    store = MemoryStore()
    async with _orchestrator(store) as orch:
        session = await orch.create_session()

        async def caller() -> tuple[RunResult, int]:
            async with asyncio.timeout(30):  # its own cancellation is not mistaken for the timeout's
                result = await orch.run(
                    "keep going", session=session, max_iterations=50, evaluation_threshold=8, patience=50
                )
            await asyncio.sleep(0)  # no cancellation pending
            task = asyncio.current_task()
            assert task is not None
            return result, task.cancelling()

        run = asyncio.create_task(caller())
        await asyncio.sleep(0.2)
        (doc,) = await store.list_orchestrations(session_id=session.id)
        assert await store.request_cancel(doc.id)
        result, cancelling = await asyncio.wait_for(run, 10)
        assert result.status == "cancelled" and cancelling == 0


async def test_a_caller_cancelling_while_a_requested_stop_is_written_gets_cancelled_error() -> None:
    callers: list[asyncio.Task[Any]] = []

    class CallerCancelsAtTheEnd(MemoryStore):
        async def commit_step(self, orchestration: Orchestration, *args: Any, **kwargs: Any) -> bool:
            if orchestration.status == "cancelled":  # the run is writing its end after the watcher stopped it
                callers[0].cancel()
            return await super().commit_step(orchestration, *args, **kwargs)

    store = CallerCancelsAtTheEnd()
    async with _orchestrator(store) as orch:
        session = await orch.create_session()
        callers.append(
            asyncio.create_task(
                orch.run("keep going", session=session, max_iterations=50, evaluation_threshold=8, patience=50)
            )
        )
        await asyncio.sleep(0.2)
        (doc,) = await store.list_orchestrations(session_id=session.id)
        assert await store.request_cancel(doc.id)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(callers[0], 10)
        stored = await store.get_orchestration(doc.id)
        assert stored.status == "cancelled"
        assert (await store.get_session(session.id)).reserved_cost == 0


async def test_suspending_one_run_of_many_while_the_watcher_watches_them() -> None:
    store = MemoryStore()
    async with _orchestrator(store) as orch:
        docs = await _prepared(orch, 10, keep_going=0)
        runs = [orch.start(doc) for doc in docs]
        await _running(store, docs[0].id)
        assert await orch.suspend(docs[0].id)
        assert runs[0].cancelled()
        results = await asyncio.wait_for(asyncio.gather(*runs[1:]), 30)
        assert [r.status for r in results] == ["completed"] * 9
        suspended = await store.get_orchestration(docs[0].id)
        assert suspended.status == "running" and suspended.stop_reason is None
        assert await store.list_resumable() == [docs[0].id]  # its lease was given up


async def test_renewed_leases_keep_a_long_run_from_another_orchestrator(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    async with (
        _Counting(path) as store,
        SQLiteStore(path) as other_store,
        _orchestrator(store, lease_ttl_s=1.5) as orch,
        _orchestrator(other_store) as other,
    ):
        # (a ttl of 1.5 s, not 0.3: a loaded runner pausing this process longer than the ttl lets the lease lapse, as it
        # should, and `other` rightly took the run over; the keep-going run, 50 rounds of 0.1 s, outlasts the checks)
        docs = await _prepared(orch, 5, keep_going=0)
        runs = [orch.start(doc) for doc in docs]
        await _running(store, docs[0].id)
        for _ in range(8):  # 3.2 s: over twice the lease's ttl
            assert await other.resume_pending() == []
            with pytest.raises(Conflict):
                await other.drive(docs[0].id)
            await asyncio.sleep(0.4)
        assert store.calls["renew_leases"]  # (one call for all the runs every ttl / 3)
        assert await orch.cancel(docs[0].id)
        results = await asyncio.wait_for(asyncio.gather(*runs[1:]), 30)
        assert [r.status for r in results] == ["completed"] * 4
        assert (await other_store.get_orchestration(docs[0].id)).status == "cancelled"


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_run_started_with_a_stale_session_that_has_ended_is_refused_at_once(kind: str, tmp_path: Path) -> None:
    """The caller's `Session` says active, the store's has been cancelled since: the start's answer has the store's
    status, so the run ends before its first call, without waiting `cancel_check_s` (here an hour), and its caller
    gets the `Conflict` the session's id would have given."""
    store: Store = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "s.db")
    calls: list[str] = []

    async def hang(request: GenerationRequest) -> str:
        calls.append(request.purpose)
        await asyncio.Event().wait()
        return "never"

    orch = Orchestrator(providers=[FunctionProvider(hang)], catalog=catalog("a", "b"), store=store, retry=NO_WAIT)
    orch.cancel_check_s = 3600
    async with orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        await store.set_session_status(session.id, "cancelled")
        with pytest.raises(Conflict, match=f"session {session.id} is cancelled: orchestrations start only in an"):
            await asyncio.wait_for(orch.run("Hello", session=session), timeout=20)
        assert calls == []
        (doc,) = await store.list_orchestrations(session_id=session.id)
        assert doc.status == "cancelled" and doc.stop_reason == "cancelled" and doc.total_cost == 0


class _SlowClaim(MemoryStore):
    """A run's task waits before claiming the lease (`before`) or before going on with it (`after`)."""

    def __init__(self, when: str) -> None:
        super().__init__()
        self.when = when

    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        if self.when == "before":
            await asyncio.sleep(0.2)
        claimed = await super().claim(orchestration_id, owner, ttl_s)
        if self.when == "after":
            await asyncio.sleep(0.2)
        return claimed


@pytest.mark.parametrize("when", ["before", "after"])
async def test_cancel_of_a_run_whose_task_has_not_begun_it_ends_it_cancelled(when: str) -> None:
    """Cancelling the task before its run began ended it with nothing written: the orchestration stayed `pending`
    (its lease held, when claimed), counted among its user's active ones until resumed a lease later."""
    store = _SlowClaim(when)
    async with _orchestrator(store) as orch:
        (doc,) = await _prepared(orch, 1, keep_going=0)
        task = orch.start(doc)
        await asyncio.sleep(0.05)  # the task is claiming the lease
        assert await asyncio.wait_for(orch.cancel(doc.id), 5)
        assert task.done()
        stored = await store.get_orchestration(doc.id)
        assert stored.status == "cancelled" and stored.stop_reason == "cancelled"
        assert await store.count_active_orchestrations(doc.user_id) == 0
        assert await store.list_resumable() == []


async def test_orchestrator_cancel_of_a_run_gives_its_caller_the_result_and_returns_when_the_run_ends() -> None:
    """`run` is driven in its caller's task. `cancel(id)` from another task cancelled that task: the caller got a
    `CancelledError` it never asked for (at the top of a program, `asyncio.run` died of it), and `cancel` awaited the
    caller's whole task, so a caller that went on after the run (here: waiting for the canceller) never let `cancel`
    return. The caller now gets the cancelled `RunResult`, and `cancel` returns once the run has ended."""
    orch = _orchestrator(MemoryStore())
    ids: list[str] = []

    async def canceller() -> bool:
        while not ids:
            await asyncio.sleep(0.001)
        return await orch.cancel(ids[0])

    stopping = asyncio.create_task(canceller())
    result = await orch.run("keep going", max_iterations=5, on_event=lambda e: ids.append(e.orchestration_id))
    assert result.status == "cancelled" and result.stop_reason == "cancelled"
    assert await asyncio.wait_for(stopping, 5) is True  # (it waited for this task, which waits for it: forever)
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0
    assert (await orch.store.get_orchestration(result.id)).status == "cancelled"
