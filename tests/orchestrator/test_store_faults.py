"""A store write that fails transiently is all or nothing, retried with backoff, and a run that cannot get
it through ends (or stays resumable) in a state the store and its events agree on (issue #14, item 1)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from orchestratex import FunctionProvider, Generation, GenerationRequest, MemoryStore, Orchestrator, SQLiteStore
from orchestratex.events import ModelSelected
from orchestratex.exceptions import StoreError, StoreFull, StoreUnavailable
from orchestratex.orchestrator import RetryPolicy
from orchestratex.records import CallRecord, Orchestration, Session, SessionSettings, Thread
from orchestratex.routing import BayesianRouter
from orchestratex.stores import Store

from ..helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted
from ..ledger import ledger_problems
from .faults import FaultyConnection, LockHolder, io_error, limit_pages, unlimit_pages

PATIENT = RetryPolicy(max_attempts=60, initial_wait=0.02, max_wait=0.1)
NO_RETRY = RetryPolicy(max_attempts=1, initial_wait=0, max_wait=0)


def make(store: Store, provider: FunctionProvider, store_retry: RetryPolicy, **kwargs: object) -> Orchestrator:
    return Orchestrator(
        providers=[provider],
        catalog=catalog("a", "b", "c"),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        store_retry=store_retry,
        **kwargs,  # type: ignore[arg-type]
    )


def judged(scores: dict[int, float]) -> FunctionProvider:
    return scripted(answer_attempt, score_of_answer(scores))


async def test_a_failed_commit_changes_nothing_in_the_store() -> None:
    async with SQLiteStore() as store:
        session = await store.create_session(Session(user_id="u", settings=SessionSettings(cost_limit=1.0)))
        thread = await store.create_thread(Thread(session_id=session.id, user_id="u", original_prompt="p"))
        doc = await store.create_orchestration(
            Orchestration(thread_id=thread.id, session_id=session.id, user_id="u", prompt="p")
        )
        assert await store.reserve_budget(session.id, doc.id, 0.5)
        doc.status, doc.total_cost = "running", 0.25
        event = ModelSelected(
            orchestration_id=doc.id,
            thread_id=thread.id,
            session_id=session.id,
            model_name="m",
            reasoning="r",
            iteration=1,
        )
        call = CallRecord(
            orchestration_id=doc.id, session_id=session.id, user_id="u", model_name="m", role="generate", domain="d",
            cost=0.25,
        )  # fmt: skip
        faulty = FaultyConnection.install(
            store, lambda sql: io_error() if sql.startswith("INSERT INTO events") else None
        )
        with pytest.raises(StoreUnavailable, match=r"disk I/O error.*nothing was written"):
            await store.commit(doc, [event], calls=[call], spent=0.25, released=0.5)
        assert faulty.injected == 1 and event.seq == 0
        after = await store.get_session(session.id)
        assert (after.total_cost, after.reserved_cost) == (0.0, 0.5)
        assert (await store.get_orchestration(doc.id)).status == "pending"
        assert await store.list_events(session.id) == []
        assert (await store.session_analytics(session.id)).models == []

        store._conn = faulty._conn  # the fault goes away: the same commit applies once
        await store.commit(doc, [event], calls=[call], spent=0.25, released=0.5)
        after = await store.get_session(session.id)
        assert (after.total_cost, after.reserved_cost, event.seq) == (0.25, 0.0, 1)
        assert [m.cost for m in (await store.session_analytics(session.id)).models] == [0.25]


def test_sqlite_errors_that_pass_are_store_unavailable_the_others_are_not() -> None:
    from orchestratex.stores.sqlite._errors import translate

    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode, locked.sqlite_errorname = sqlite3.SQLITE_BUSY, "SQLITE_BUSY"
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode, full.sqlite_errorname = sqlite3.SQLITE_FULL, "SQLITE_FULL"
    unique = sqlite3.IntegrityError("UNIQUE constraint failed")
    unique.sqlite_errorcode = sqlite3.SQLITE_CONSTRAINT_UNIQUE
    for exc in (locked, io_error()):
        assert type(translate(exc, "'x.db'")) is StoreUnavailable
    assert type(translate(full, "'x.db'")) is StoreFull  # (a StoreUnavailable, saying that the disk is full)
    assert "its disk is full" in str(translate(full, "'x.db'"))
    assert type(translate(unique, "'x.db'")) is StoreError
    assert type(translate(sqlite3.OperationalError("no such table: x"), "'x.db'")) is StoreError


async def test_a_run_waits_out_another_process_holding_the_write_lock(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    holder = LockHolder(db)
    loop = asyncio.get_running_loop()
    base = judged({1: 5.0, 2: 9.0})

    async def fn(request: GenerationRequest) -> Generation:
        if request.purpose == "generate" and not holder.times:  # the answer's commit meets the lock
            holder.start()
            loop.call_later(0.6, holder.stop)
        return await base.generate(request)

    store = SQLiteStore(db, busy_timeout=0.05)
    async with make(store, FunctionProvider(fn), PATIENT) as orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        result = await orch.run("Hello", session=session, max_iterations=3, evaluation_threshold=8)
        assert holder.times == 1 and holder.proc is None
        assert result.status == "completed" and result.iterations == 2
        assert await ledger_problems(store, session.id) == []
        stored = await store.list_events(session.id)
        assert [e.model_dump() for e in stored] == [e.model_dump() for e in result.events]


async def test_a_run_in_a_new_session_waits_out_another_process_holding_the_write_lock(tmp_path: Path) -> None:
    # the session `run()` makes was stored without the retries of the run's other writes: the run raised
    # StoreUnavailable ("the SQLite database is busy") at once, as the docs promise it retries such a write
    db = tmp_path / "locked.db"
    store = SQLiteStore(db, busy_timeout=0.05)
    async with make(store, judged({1: 9.0}), PATIENT) as orch:
        holder = LockHolder(db)
        holder.start()
        asyncio.get_running_loop().call_later(0.5, holder.stop)
        result = await orch.run("Hello", user_id="alice", cost_limit=1.0, max_iterations=2, evaluation_threshold=8)
        assert holder.times == 1 and holder.proc is None
        assert result.status == "completed"
        [session] = await store.list_sessions("alice")
        assert session.id == result.orchestration.session_id
        assert await ledger_problems(store, session.id) == []


async def test_prepare_waits_out_another_process_holding_the_write_lock(tmp_path: Path) -> None:
    # `prepare` (then `drive`) stored its thread and orchestration without retries: StoreUnavailable at once,
    # leaving the session (and thread) it had stored before, and a retried `prepare` stored another of each
    db = tmp_path / "locked.db"
    store = SQLiteStore(db, busy_timeout=0.05)
    async with make(store, judged({1: 9.0}), PATIENT) as orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        holder = LockHolder(db)
        holder.start()
        asyncio.get_running_loop().call_later(0.5, holder.stop)
        doc = await orch.prepare("Hello", session=session, max_iterations=2, evaluation_threshold=8)
        assert holder.times == 1 and holder.proc is None
        assert [t.id for t in await store.list_threads(session.id)] == [doc.thread_id]
        assert [o.id for o in await store.list_orchestrations(session_id=session.id)] == [doc.id]
        assert (await orch.drive(doc)).status == "completed"


async def test_a_new_session_whose_insert_landed_but_raised_is_the_runs_own() -> None:
    # a store whose reply was lost (StoreUnavailable after the insert applied, as on a network): the retry's
    # Conflict is for the session's own, new id
    class ReplyLost(MemoryStore):
        lost = False

        async def create_session(self, session: Session) -> Session:
            stored = await super().create_session(session)
            if not self.lost:
                self.lost = True
                raise StoreUnavailable("connection reset: the reply was lost")
            return stored

    store = ReplyLost()
    async with make(store, judged({1: 9.0}), PATIENT) as orch:
        result = await orch.run("Hello", user_id="alice", cost_limit=1.0, max_iterations=2, evaluation_threshold=8)
        assert store.lost and result.status == "completed"
        assert [s.id for s in await store.list_sessions("alice")] == [result.orchestration.session_id]


async def test_a_step_commit_that_fails_once_is_carried_by_the_final_commit() -> None:
    """The issue's case: the step's commit fails, the run ends; the store must still hold the step's
    cost, release its reservation and have its events (before: total too low, reservation and
    response_generated lost)."""
    seen = {"events": 0}

    def fail(sql: str) -> BaseException | None:
        if sql.startswith("INSERT INTO events"):
            seen["events"] += 1
            if seen["events"] == 2:  # the first is the start + model_selected, the second the response
                return io_error()
        return None

    store = SQLiteStore()
    async with make(store, judged({1: 5.0, 2: 9.0}), NO_RETRY) as orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        FaultyConnection.install(store, fail)
        result = await orch.run("Hello", session=session, max_iterations=3, evaluation_threshold=8)
        assert await ledger_problems(store, session.id) == []
        assert result.status == "failed" and result.stop_reason == "error"
        assert result.orchestration.error is not None and "StoreUnavailable" in result.orchestration.error
        assert result.total_cost > 0
        stored = await store.list_events(session.id)
        assert [e.type for e in stored] == [
            "orchestration_started", "model_selected", "response_generated", "orchestration_failed",
        ]  # fmt: skip
        assert [e.model_dump() for e in stored] == [e.model_dump() for e in result.events]
        after = await store.get_session(session.id)
        assert after.total_cost == result.total_cost and after.reserved_cost == 0


async def test_a_full_database_is_retried_until_space_returns(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "full.db")
    loop = asyncio.get_running_loop()
    state = {"full": 0}

    async def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "fine"}'
        if not state["full"]:  # the answer (40 KB) needs pages the database may not add
            state["full"] = await limit_pages(store)
            loop.call_later(0.4, lambda: asyncio.ensure_future(unlimit_pages(store)))
        return "x" * 40_000

    async with make(store, FunctionProvider(fn), PATIENT) as orch:
        for model in orch.catalog:  # (room for the 40 KB answer: a longer one would be cut at the call's cap)
            orch.catalog.update(model.name, max_output_tokens=10_000)
        session = await orch.create_session("alice", cost_limit=5.0)
        await limit_pages(store)
        with pytest.raises(StoreUnavailable, match="SQLITE_FULL"):  # the fault is real: a write fails now
            await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="x" * 40_000))
        await unlimit_pages(store)
        state["full"] = 0
        result = await orch.run("Hello", session=session, max_iterations=1, max_output_tokens=10_000)
        assert state["full"] > 0
        assert result.status == "completed" and len(result.final_response or "") == 40_000
        assert await ledger_problems(store, session.id) == []


async def test_a_lock_that_outlasts_every_retry_leaves_a_resumable_run(tmp_path: Path) -> None:
    db = tmp_path / "stuck.db"
    holder = LockHolder(db)
    base = judged({1: 5.0, 2: 9.0})

    async def fn(request: GenerationRequest) -> Generation:
        if request.purpose == "generate" and not holder.times:
            holder.start()
        return await base.generate(request)

    store = SQLiteStore(db, busy_timeout=0.02)
    short = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.02)
    try:
        async with make(store, FunctionProvider(fn), short, lease_ttl_s=0.5) as orch:
            session = await orch.create_session("alice", cost_limit=1.0)
            doc = await orch.prepare("Hello", session=session, max_iterations=3, evaluation_threshold=8)
            with pytest.raises(StoreUnavailable):
                await orch.drive(doc)
            holder.stop()
            stored = await store.get_orchestration(doc.id)
            assert stored.status == "running"  # as of its last commit; its lease runs out
            assert await ledger_problems(store, session.id, live={doc.id}) == []
            await asyncio.sleep(0.6)
            [resumed] = await orch.resume_pending()
            assert resumed.status == "completed" and resumed.iterations == 2
            assert await ledger_problems(store, session.id) == []
    finally:
        holder.stop()


class RecordedNotCompleted(MemoryStore):
    """A store whose commit number `fail_at` is written, then reported failed with a plain `StoreError` — as
    MongoDB's journaled commit does when it recorded a step it could not complete (rolled forward later)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at, self.commits = fail_at, 0

    async def commit(self, *args: Any, **kwargs: Any) -> Any:
        self.commits += 1
        events = await super().commit(*args, **kwargs)
        if self.commits == self.fail_at:
            raise StoreError("the step is recorded and completes when the orchestration is next claimed")
        return events


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4])
async def test_a_commit_of_unknown_outcome_is_never_written_twice(fail_at: int) -> None:
    store = RecordedNotCompleted(fail_at)
    async with make(store, judged({1: 5.0, 2: 9.0}), PATIENT, lease_ttl_s=0.2) as orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        doc = await orch.prepare("Hello", session=session, max_iterations=3, evaluation_threshold=8)
        with pytest.raises(StoreError, match="recorded"):
            await orch.drive(doc)
        assert store.commits == fail_at  # nothing more was written after it
        assert await ledger_problems(store, session.id, live={doc.id}) == []
        [resumed] = await orch.resume_pending()
        assert resumed.status == "completed"
        assert await ledger_problems(store, session.id) == []


async def test_a_run_stopped_by_a_store_error_raises_it_even_when_its_lease_cannot_be_released() -> None:
    """A commit failing with an error that leaves unknown whether it was written (here SQLite finding the file
    corrupt) stops the run, which raises it; giving the lease up then failed too (the file locked by another
    process), and run() raised that `StoreUnavailable` instead, which says nothing was written and hid the
    corruption. The lease is left to expire."""
    seen = {"events": 0}

    def fail(sql: str) -> BaseException | None:
        if sql.startswith("INSERT INTO events"):
            seen["events"] += 1
            if seen["events"] == 2:  # the commit of the first answer
                exc = sqlite3.DatabaseError("database disk image is malformed")
                exc.sqlite_errorcode, exc.sqlite_errorname = sqlite3.SQLITE_CORRUPT, "SQLITE_CORRUPT"
                return exc
        if sql.startswith("UPDATE orchestrations SET lease_owner = NULL"):
            exc = sqlite3.OperationalError("database is locked")
            exc.sqlite_errorcode, exc.sqlite_errorname = sqlite3.SQLITE_BUSY, "SQLITE_BUSY"
            return exc
        return None

    store = SQLiteStore()
    async with make(store, judged({1: 5.0, 2: 9.0}), NO_RETRY) as orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        FaultyConnection.install(store, fail)
        with pytest.raises(StoreError, match="malformed") as raised:
            await orch.run("Hello", session=session, max_iterations=3, evaluation_threshold=8)
        assert not isinstance(raised.value, StoreUnavailable)
        (doc,) = await store.list_orchestrations(session_id=session.id)
        assert doc.status == "running"  # (as its last commit left it, for the process that resumes it)


async def test_a_cancelled_run_raises_cancelled_error_even_when_its_lease_cannot_be_released() -> None:
    """A run cancelled (`asyncio.wait_for`'s timeout, a client gone) ends `cancelled`; giving its lease up once more
    afterwards failed (the file locked by another process), and the caller got that `StoreUnavailable` in place of
    its `CancelledError` (`asyncio.wait_for` then raised it, not `TimeoutError`)."""
    gate = asyncio.Event()

    async def slow(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 5, "feedback": "meh"}'
        gate.set()
        await asyncio.sleep(60)
        return "late"

    def fail(sql: str) -> BaseException | None:
        if sql.startswith("UPDATE orchestrations SET lease_owner = NULL, lease_expires = NULL WHERE"):
            exc = sqlite3.OperationalError("database is locked")
            exc.sqlite_errorcode, exc.sqlite_errorname = sqlite3.SQLITE_BUSY, "SQLITE_BUSY"
            return exc
        return None

    store = SQLiteStore()
    async with make(store, FunctionProvider(slow), NO_RETRY) as orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        FaultyConnection.install(store, fail)
        run = asyncio.create_task(orch.run("Hello", session=session))
        await asyncio.wait_for(gate.wait(), 10)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(run, 0.05)
        (doc,) = await store.list_orchestrations(session_id=session.id)
        assert doc.status == "cancelled"
