"""SQLiteStore's group commit: the writes sent in one turn of the event loop share one transaction (after a
failure, the others share another, each under its own savepoint); run on the loop's thread unless the write lock
is held elsewhere."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestratex.events import ModelSelected
from orchestratex.exceptions import Conflict, NotFound, StoreUnavailable
from orchestratex.records import Orchestration, Session, SessionSettings, Thread
from orchestratex.stores import SQLiteStore
from orchestratex.stores.sqlite._commit import Step

from ..orchestrator.faults import FaultyConnection, io_error


async def _runs(store: SQLiteStore, n: int) -> tuple[Session, list[Orchestration]]:
    session = await store.create_session(Session(user_id="alice", settings=SessionSettings(cost_limit=100.0)))
    thread = await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="p"))
    runs = []
    for _ in range(n):
        o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
        runs.append(await store.create_orchestration(o))
    return session, runs


def _selected(o: Orchestration) -> ModelSelected:
    return ModelSelected(
        orchestration_id=o.id,
        thread_id=o.thread_id,
        session_id=o.session_id,
        model_name="m",
        reasoning="r",
        iteration=1,
    )


def _recording(store: SQLiteStore, fail: dict[str, int] | None = None) -> list[str]:
    """Record the statements of the writer's connection; `fail` maps a statement to how many times it fails."""
    seen: list[str] = []
    failing = fail if fail is not None else {}

    def check(sql: str) -> BaseException | None:
        seen.append(sql.split()[0])
        if failing.get(sql, 0) > 0:
            failing[sql] -= 1
            return io_error()
        return None

    FaultyConnection.install(store, check)
    return seen


async def test_concurrent_commits_share_transactions(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "group.db") as store:
        session, runs = await _runs(store, 40)
        seen = _recording(store)
        await asyncio.gather(*(store.commit(o, [_selected(o)], spent=0.25) for o in runs))
        assert seen.count("COMMIT") == 1  # the writes sent in one turn of the event loop: one transaction
        assert seen.count("SAVEPOINT") == 0  # none failed: no savepoints
        got = await store.get_session(session.id)
        assert got.total_cost == 10.0
        assert [e.seq for e in await store.list_events(session.id)] == list(range(1, 41))


async def test_a_failing_write_does_not_fail_its_neighbours(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "group.db") as store:
        session, runs = await _runs(store, 10)
        stray = Orchestration(thread_id="t" * 24, session_id="0" * 24, user_id="alice", prompt="p")
        seen = _recording(store)
        outcomes = await asyncio.gather(
            *(store.commit(o, [_selected(o)], spent=0.5) for o in runs[:5]),
            store.commit(stray, [_selected(stray)], spent=1.0),  # no such session: NotFound
            store.create_session(session),  # exists: Conflict
            *(store.commit(o, [_selected(o)], spent=0.5) for o in runs[5:]),
            return_exceptions=True,
        )
        assert isinstance(outcomes[5], NotFound) and isinstance(outcomes[6], Conflict)
        assert [type(x).__name__ for i, x in enumerate(outcomes) if i not in (5, 6)] == ["list"] * 10
        # the first failure rolled the first transaction back; the others ran again in one, each under a savepoint,
        # from which the second failure rolled back alone
        assert seen.count("COMMIT") == 1
        assert seen.count("ROLLBACK") == 2
        assert seen.count("SAVEPOINT") == 11
        assert (await store.get_session(session.id)).total_cost == 5.0
        assert [e.seq for e in await store.list_events(session.id)] == list(range(1, 11))


async def test_a_failed_group_commit_fails_every_write_in_it_and_writes_nothing(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "group.db") as store:
        session, runs = await _runs(store, 20)
        _recording(store, fail={"COMMIT": 1})
        events = [_selected(o) for o in runs]
        outcomes = await asyncio.gather(
            *(store.commit(o, [e], spent=0.5) for o, e in zip(runs, events, strict=True)), return_exceptions=True
        )
        failed = [i for i, x in enumerate(outcomes) if isinstance(x, BaseException)]
        assert failed and all(isinstance(outcomes[i], StoreUnavailable) for i in failed)  # retryable: nothing written
        assert all(events[i].seq == 0 for i in failed)  # their events were not stored
        stored = await store.list_events(session.id)
        assert [e.seq for e in stored] == list(range(1, 21 - len(failed)))
        assert (await store.get_session(session.id)).total_cost == 0.5 * (20 - len(failed))
        for i in failed:  # retried, they go through
            await store.commit(runs[i], [events[i]], spent=0.5)
        assert (await store.get_session(session.id)).total_cost == 10.0


async def test_a_write_that_rolls_the_transaction_back_leaves_its_neighbours_retryable(tmp_path: Path) -> None:
    """An error after which SQLite has rolled back the whole transaction (as an I/O error may): the writes before
    it in the batch wrote nothing either, and say so with `StoreUnavailable`; those after it run in the next."""
    async with SQLiteStore(tmp_path / "group.db") as store:
        session, runs = await _runs(store, 6)
        conn = store._conn
        assert conn is not None
        doomed = runs[2].id

        def check(sql: str) -> BaseException | None:
            if sql.startswith("UPDATE orchestrations") and conn.in_transaction and _is(doomed):
                conn.execute("ROLLBACK")  # what SQLite does on some I/O errors
                return io_error()
            return None

        current: list[str] = []

        def _is(oid: str) -> bool:
            return bool(current) and current[-1] == oid

        FaultyConnection.install(store, check)
        commit_sync = store._commit_sync

        def tracked(step: Step) -> tuple[bool, int]:
            current.append(step.parts.id)
            return commit_sync(step)

        store._commit_sync = tracked  # type: ignore[method-assign]
        outcomes = await asyncio.gather(
            *(store.commit(o, [_selected(o)], spent=1.0) for o in runs), return_exceptions=True
        )
        kinds = [type(x).__name__ for x in outcomes]
        assert kinds == ["StoreUnavailable"] * 3 + ["list"] * 3  # (an I/O error is transient: retried)
        assert "rolled back by another write" in str(outcomes[0])
        assert (await store.get_session(session.id)).total_cost == 3.0
        assert [e.orchestration_id for e in await store.list_events(session.id)] == [o.id for o in runs[3:]]


@pytest.mark.parametrize("path", [":memory:", "file"])
async def test_reads_and_writes_interleave_in_order(path: str, tmp_path: Path) -> None:
    async with SQLiteStore(path if path == ":memory:" else tmp_path / "group.db") as store:
        session, runs = await _runs(store, 5)
        results = await asyncio.gather(
            *(store.commit(o, [_selected(o)], spent=0.5) for o in runs), store.get_session(session.id)
        )
        assert isinstance(results[-1], Session)
        assert (await store.get_session(session.id)).total_cost == 2.5


async def test_writes_wait_in_the_worker_while_another_connection_holds_the_lock(tmp_path: Path) -> None:
    """Writes run on the event loop's thread only when they need not wait for the write lock: held elsewhere,
    they go to the worker thread (the loop stays free), in order, and apply once it is released."""
    path = tmp_path / "group.db"
    async with SQLiteStore(path, busy_timeout=5.0) as store:
        session, runs = await _runs(store, 6)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process, say, writing
        try:
            writes = asyncio.gather(*(store.commit(o, [_selected(o)], spent=0.5) for o in runs[:3]))
            await asyncio.sleep(0.2)  # the loop is not blocked meanwhile
            assert not writes.done()
            later = asyncio.gather(*(store.commit(o, [_selected(o)], spent=0.5) for o in runs[3:]))
            await asyncio.sleep(0.05)
            holder.execute("COMMIT")
            await writes
            await later
        finally:
            holder.close()
        stored = await store.list_events(session.id)
        assert [e.orchestration_id for e in stored] == [o.id for o in runs]  # in the order they were sent
        assert [e.seq for e in stored] == list(range(1, 7))
        assert (await store.get_session(session.id)).total_cost == 3.0
        # and once the worker is done, writes run on the loop again
        await store.commit(runs[0], [_selected(runs[0])])
        assert len(await store.list_events(session.id)) == 7


async def test_writes_left_by_a_neighbours_failure_wait_for_a_lock_taken_meanwhile(tmp_path: Path) -> None:
    """After a write of the loop's batch failed, its transaction is rolled back and the others run again in another;
    another process that took the write lock in between made them fail at once, busy ("nothing was written", a 503
    for two servers sharing a file that were sent the same `Idempotency-Key` at once). They now wait for it in the
    worker, as writes that found it taken at first do."""
    path = tmp_path / "group.db"
    async with SQLiteStore(path, busy_timeout=5.0) as store:
        session, runs = await _runs(store, 4)
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        begun: list[str] = []

        def take_the_lock_before_the_second_transaction(sql: str) -> BaseException | None:
            if sql.startswith("BEGIN"):
                begun.append(sql)
                if len(begun) == 2:  # (the first was rolled back: the lock is free until this one takes it)
                    holder.execute("BEGIN IMMEDIATE")
                    asyncio.get_running_loop().call_later(0.3, holder.execute, "COMMIT")
            return None

        FaultyConnection.install(store, take_the_lock_before_the_second_transaction)
        try:
            outcomes = await asyncio.gather(
                *(store.commit(o, [_selected(o)], spent=0.5) for o in runs[:2]),
                store.create_session(session),  # exists: Conflict
                *(store.commit(o, [_selected(o)], spent=0.5) for o in runs[2:]),
                return_exceptions=True,
            )
        finally:
            holder.close()
        assert isinstance(outcomes[2], Conflict)
        assert [type(x).__name__ for i, x in enumerate(outcomes) if i != 2] == ["list"] * 4, outcomes
        assert len(begun) >= 2
        stored = await store.list_events(session.id)
        assert [e.orchestration_id for e in stored] == [o.id for o in runs]
        assert (await store.get_session(session.id)).total_cost == 2.0


def test_a_write_whose_loop_ended_while_it_waited_for_the_lock_does_not_hang_close(tmp_path: Path) -> None:
    # `asyncio.run(asyncio.wait_for(store.create_session(...), 1))` while another process held the write lock: the
    # write went to the worker thread, the loop timed out and closed, and the worker could not hand the result back.
    # The writer counted that batch as under way for good: every later write went through the worker, and
    # `asyncio.run(store.close())` never returned.
    path = tmp_path / "runs.db"
    store = SQLiteStore(path, busy_timeout=30.0)
    asyncio.run(store.open())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process, say, writing
    try:
        # (the lock is released once the loop has timed out and closed, not by a timer: a loaded runner pausing this
        # thread past the timer's 0.5 s before the write began let the write find the lock free, and not time out)
        with pytest.raises(TimeoutError):
            asyncio.run(asyncio.wait_for(store.create_session(Session(user_id="ada")), 0.1))
    finally:
        holder.execute("COMMIT")  # (the worker waits up to its 30 s busy timeout for it)
        holder.close()

    async def later() -> int:
        await store.create_session(Session(user_id="ada"))
        sessions = len(await store.list_sessions("ada"))
        await asyncio.wait_for(store.close(), 10)
        return sessions

    assert asyncio.run(later()) == 2  # (the first write applied once the lock was free: its caller had gone)


async def test_point_reads_run_on_the_loop_thread_and_see_every_committed_write(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        assert store._lconn is not None
        session, _ = await _runs(store, 1)
        worker_reads = 0
        reader = store._reader
        assert reader is not None
        run = reader.run

        async def counted(fn: Callable[..., Any], *args: Any) -> Any:
            nonlocal worker_reads
            worker_reads += 1
            return await run(fn, *args)

        reader.run = counted  # type: ignore[method-assign]
        await store.set_session_status(session.id, "paused")
        assert (await store.get_session(session.id)).status == "paused"  # the write just committed is seen
        assert await store.cancel_requested("nothing") is False
        assert worker_reads == 0
        await store.ping()  # (not a point read: it opens a connection of its own, on the reader thread)
        assert worker_reads == 1
        with pytest.raises(NotFound):
            await store.get_session("missing")


async def test_a_point_read_that_would_wait_for_a_lock_goes_to_the_reader_thread(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        session, _ = await _runs(store, 1)
        lconn = store._lconn
        assert lconn is not None
        busy = FaultyConnection(lconn, lambda sql: io_error("SQLITE_BUSY", sqlite3.SQLITE_BUSY))
        store._lconn = busy  # type: ignore[assignment]
        assert (await store.get_session(session.id)).id == session.id  # answered by the reader thread
        assert busy.injected == 1
        broken = FaultyConnection(lconn, lambda sql: sqlite3.DatabaseError("database disk image is malformed"))
        store._lconn = broken  # type: ignore[assignment]
        with pytest.raises(Exception, match="malformed") as info:
            await store.get_session(session.id)
        assert not isinstance(info.value, sqlite3.Error)  # translated, as every store error
        store._lconn = lconn
