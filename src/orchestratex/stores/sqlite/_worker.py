"""Group commit, and the threads that talk to SQLite when the event loop must not.

A group of write jobs runs in one `BEGIN IMMEDIATE` transaction (one commit, one WAL append, for
many steps), one job after another; a job that fails is rolled back alone and its neighbours commit
(`transact`): its failure rolls the transaction back, and the others run again in the next one, each
inside a SAVEPOINT of its own there. (A savepoint for every job would cost two statements and a copy
of every page it changes, for the rare job that fails.) `LoopWriter` runs the writes of one turn of
the event loop that way on the loop's own thread, taking the write lock without waiting, and hands a
group to a `Worker` thread (which waits for the lock) when another process holds it. A `Worker` takes
the jobs queued while it was busy together and returns their results to the event loop in one
hand-off (one `call_soon_threadsafe`), not one per job. Either way a result is delivered only after
its transaction has committed: a caller never sees a write that is not durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from ...exceptions import StoreUnavailable

__all__ = ["Stopped", "Worker"]

_T = TypeVar("_T")
_MAX_BATCH = 256
"""At most this many jobs are handed back together."""


class _Job:
    __slots__ = ("args", "error", "fn", "future", "result")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], future: asyncio.Future[Any]) -> None:
        self.fn, self.args, self.future = fn, args, future
        self.result: Any = None
        self.error: BaseException | None = None


class _Stop:
    """Queued by `Worker.stop`: the thread runs `last` after the jobs before it, then exits."""

    __slots__ = ("last",)

    def __init__(self, last: Callable[[], object] | None) -> None:
        self.last = last


def _deliver(jobs: list[_Job]) -> None:
    for job in jobs:
        future = job.future
        if future.cancelled():
            continue
        if job.error is not None:
            future.set_exception(job.error)
        else:
            future.set_result(job.result)


class Stopped(Exception):
    """A job sent to a `Worker` after its `stop`, or a write sent to a `LoopWriter` after its `close`: it did not run
    (the store was closed meanwhile, from another thread)."""


class Worker:
    """A single daemon thread running jobs in order; the results of the jobs it found queued together go back
    to the event loop in one hand-off."""

    def __init__(self, name: str) -> None:
        self._jobs: SimpleQueue[_Job | _Stop] = SimpleQueue()
        self._stopping = False
        self._queueing = threading.Lock()
        """Held while a job or the stop is queued: no job is queued after the stop (it would never run)."""
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run `fn(*args)` in the worker thread and return its result (or raise its exception).

        Cancelling the awaiting task does not stop a job that has started: it completes (or rolls
        back) as one unit, and its result is dropped.
        """
        return await self.submit(fn, *args)

    def submit(self, fn: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        """Queue `fn(*args)` for the worker thread: the future gets its result (or exception) once it has run. A plain
        future, not a task: the event loop's shutdown, which cancels every task, does not cancel it."""
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        with self._queueing:
            if self._stopping:  # (queued after the stop, it never ran: its caller waited for ever)
                future.set_exception(Stopped("the worker thread was stopped"))
            else:
                self._jobs.put(_Job(fn, args, future))
        return future

    def stop(self, last: Callable[[], object] | None = None) -> None:
        """Let the thread finish the queued jobs, run `last()` (its exception is ignored) and exit; does not wait for
        it, so any thread may call it, the worker's own included (a finalizer may run there). A job submitted
        afterwards fails with `Stopped`."""
        with self._queueing:
            self._stopping = True
            self._jobs.put(_Stop(last))

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        jobs = self._jobs
        while True:
            first = jobs.get()
            batch: list[_Job | _Stop] = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(jobs.get_nowait())
                except Empty:
                    break
            stop: _Stop | None = None
            for job in batch:
                if isinstance(job, _Stop):
                    stop = job
                    continue
                try:
                    job.result = job.fn(*job.args)
                except BaseException as exc:  # delivered to the awaiting task
                    job.error = exc
            self._hand_back([job for job in batch if isinstance(job, _Job)])
            # (nothing of the jobs is kept while the thread waits for the next: a job's function may hold the store,
            # which would then never be collected, nor its finalizer stop this thread)
            del batch, first, job
            if stop is not None:
                if stop.last is not None:
                    with contextlib.suppress(Exception):
                        stop.last()
                return

    @staticmethod
    def _hand_back(jobs: list[_Job]) -> None:
        """Deliver the results of a batch: one hand-off per event loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            by_loop.setdefault(job.future.get_loop(), []).append(job)
        for loop, mine in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, mine)
            except RuntimeError:  # the loop closed while the jobs ran: nobody is waiting any more
                pass


class Busy(Exception):
    """`transact(..., wait=False)` found the write lock taken: the jobs of `rest` were not run (the whole group, or
    those a failed transaction left to run again); the others have their result."""

    def __init__(self, rest: list[_Job]) -> None:
        super().__init__()
        self.rest = rest


def transact(conn: sqlite3.Connection, group: list[_Job], *, wait: bool = True) -> None:
    """Run `group`'s jobs on `conn` in as few transactions as possible, setting each job's `result` or `error`: the
    first without savepoints, those after a failure each job under its own savepoint when it has neighbours. With
    `wait=False`, raise `Busy` with the jobs not run when a transaction cannot take the write lock at once, instead
    of failing them: the first, or one that runs again those a neighbour's failure rolled back (another process may
    take the lock in between)."""
    first = True
    while group:
        group = _one_transaction(conn, group, busy=None if wait else Busy, guarded=not first)
        first = False


def _one_transaction(conn: sqlite3.Connection, group: list[_Job], busy: type[Busy] | None, guarded: bool) -> list[_Job]:
    """Run the jobs of `group` in one transaction, each under a savepoint if `guarded`; returns those left for
    another one (after a failure that rolled the whole transaction back, the jobs not yet run, or all but the
    failed one when they ran without savepoints)."""
    _rollback(conn)  # (left open by a failure that could not be rolled back: start afresh)
    cur = conn.cursor()  # (one for the transaction's own statements, not one per statement)
    try:
        cur.execute("BEGIN IMMEDIATE")
    except BaseException as exc:  # the write lock was not had: nothing is written
        if busy is not None and isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            raise busy(group) from exc
        for job in group:
            job.error = exc
        return []
    if len(group) == 1:  # alone in its transaction: no savepoint, its failure rolls the transaction back
        return _alone(conn, cur, group[0])
    if not guarded:
        return _unguarded(conn, cur, group)
    done: list[_Job] = []
    for i, job in enumerate(group):
        try:
            cur.execute("SAVEPOINT step")
        except BaseException as exc:
            job.error = exc
            return _abandon(conn, done, group[i + 1 :])
        try:
            job.result = job.fn(*job.args)
        except BaseException as exc:
            job.error = exc
            if not conn.in_transaction:  # SQLite rolled the whole transaction back (an I/O error, say)
                _undone(done)
                return group[i + 1 :]
            try:
                cur.execute("ROLLBACK TO step")
                cur.execute("RELEASE step")
            except BaseException:
                return _abandon(conn, done, group[i + 1 :])
            continue
        try:
            cur.execute("RELEASE step")
        except BaseException as exc:
            job.result, job.error = None, exc
            return _abandon(conn, done, group[i + 1 :])
        done.append(job)
    _commit(conn, cur, done)
    return []


def _unguarded(conn: sqlite3.Connection, cur: sqlite3.Cursor, group: list[_Job]) -> list[_Job]:
    """Run the jobs of a transaction (`BEGIN` done) without savepoints and commit them. When one fails, the
    transaction is rolled back (its failure is its answer) and the others are left for the next, which runs each
    under a savepoint; when SQLite itself rolled it back (an I/O error, say), those before it fail as under
    savepoints (`_undone`) and those after it are left."""
    for i, job in enumerate(group):
        try:
            job.result = job.fn(*job.args)
        except BaseException as exc:
            job.error = exc
            if not conn.in_transaction:
                _undone(group[:i])
                return group[i + 1 :]
            _rollback(conn)
            for ran in group[:i]:  # (nothing of theirs was written: they run again)
                ran.result = None
            return group[:i] + group[i + 1 :]
    _commit(conn, cur, group)
    return []


def _alone(conn: sqlite3.Connection, cur: sqlite3.Cursor, job: _Job) -> list[_Job]:
    """Run the one job of a transaction (`BEGIN` done): commit it, or roll it back if it fails."""
    try:
        job.result = job.fn(*job.args)
    except BaseException as exc:
        job.error = exc
        _rollback(conn)
        return []
    _commit(conn, cur, [job])
    return []


def _commit(conn: sqlite3.Connection, cur: sqlite3.Cursor, done: list[_Job]) -> None:
    try:
        cur.execute("COMMIT")
    except BaseException as exc:
        _rollback(conn)
        for job in done:
            job.result, job.error = None, exc


def _abandon(conn: sqlite3.Connection, done: list[_Job], rest: list[_Job]) -> list[_Job]:
    """The transaction cannot go on: roll it back (its jobs wrote nothing) and leave `rest` for another."""
    _rollback(conn)
    _undone(done)
    return rest


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except BaseException:  # (the connection is broken: the next BEGIN reports it)
        pass


def _undone(jobs: list[_Job]) -> None:
    """`jobs` ran, but a neighbour's failure rolled their transaction back: nothing of theirs was written."""
    for job in jobs:
        job.result = None
        job.error = StoreUnavailable(
            "the SQLite transaction this write shared with others was rolled back by another write's failure;"
            " nothing was written"
        )


_LOOP_BATCH = 64
"""At most this many writes in one transaction on the event loop's thread (a bound on how long it blocks)."""


def _others_ready(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether other callbacks wait to run in this turn of `loop` (or may: a loop that does not say, such as uvloop).
    asyncio's own loops keep them in `_ready`; the callbacks the next turn finds ready run after a `call_soon` made
    now, so they would not join this turn's batch either."""
    ready = getattr(loop, "_ready", None)
    return ready is None or len(ready) > 0


class LoopWriter:
    """Group commit on the event loop's own thread, with `worker` for when that would block.

    The writes submitted during one turn of the loop are run together when the loop gets to them (a
    `call_soon`), in one transaction (see `transact`), with no thread hop at all: a step's
    write costs its SQL, not a hand-off. A write that nothing else could join (no write waiting, and no
    other callback ready to run in this turn: the loop's turn ends with it) runs at once, in the task
    that sent it, in a transaction of its own as it would have anyway: its caller's `await` then
    finds it done instead of waiting two turns of the loop (the flush, then its wake-up).
    That is safe because the write lock is taken without waiting
    (the connection's busy timeout is 0 outside the worker): when another process holds it, the batch
    goes to `worker`, which waits up to `busy_timeout_ms` for it, and so do the batches after it until
    the worker has done them, so that writes apply in the order they were sent. The connection is used
    by one thread at a time (`_lock`): by the loop only while no batch is with the worker. A store used from several
    threads at once, each with its loop, sends the writes of a loop other than the one whose are under way to the
    worker, which hands each result back to its own loop.
    """

    def __init__(self, worker: Worker, conn: Callable[[], sqlite3.Connection], busy_timeout_ms: int) -> None:
        self._worker = worker
        self._conn = conn
        self._busy_timeout_ms = busy_timeout_ms
        self._batch: list[_Job] = []
        self._scheduled = False
        self._handed = 0
        """Batches handed to the worker and not yet run. Counted down by the worker once it has run one, not by the
        event loop on getting its results: a loop closed meanwhile (`asyncio.run` of a write that timed out while
        another process held the lock) never got them, and the writer never became idle again (`close` hung)."""
        self._counting = threading.Lock()
        """Held while `_handed` changes (by the event loop's thread and the worker's)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop whose writes the batches hold (another one's go to the worker while they are under way)."""
        self._shared = False
        """Whether writes came from two loops (threads) at once: results are then handed to each job's own loop."""
        self._lock = threading.Lock()
        """Held while a transaction runs on the connection, by the loop's thread or the worker: one at a time, even
        when the store is used from two threads, each with its loop (`asyncio.run` in each)."""
        self._closed = False
        """Set by `close` (under `_lock`): the connection is closed, and a batch fails with `Stopped`."""

    @property
    def idle(self) -> bool:
        return not self._batch and not self._handed

    def close(self, last: Callable[[], _T]) -> _T:
        """Run `last` (which closes the connection) once no transaction runs on the connection, and fail every later
        batch with `Stopped`: another thread's write sent meanwhile would have run on a closed connection (a crash
        of the process, not an error)."""
        with self._lock:
            self._closed = True
            return last()

    def submit(self, fn: Callable[..., _T], args: tuple[Any, ...]) -> asyncio.Future[_T]:
        """Queue `fn(*args)` for the current batch; the future is set once its transaction has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        job = _Job(fn, args, future)
        if loop is not self._loop:  # (another thread's loop, or this one after another's, one after the other)
            if self._batch or self._handed or self._lock.locked():  # another thread's writes are under way
                self._shared = True
                self._hand_off([job])  # the worker runs it after them; its result comes back to this loop
                return future
            self._loop = loop
        if not self._batch and not self._handed and not _others_ready(loop):
            self._write([job])  # (alone in its turn: its batch would hold it alone)
            return future
        self._batch.append(job)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._batch = self._batch[:_LOOP_BATCH], self._batch[_LOOP_BATCH:]
        if self._batch:  # the rest at the next turn (other tasks run in between)
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        if batch:
            self._write(batch)

    def _write(self, batch: list[_Job]) -> None:
        """Run `batch` in a transaction on this thread, or hand it to the worker (another process holds the lock, or
        earlier batches are still there)."""
        if not self._handed and self._lock.acquire(blocking=False):  # (not: another thread's loop is writing)
            try:
                rest: list[_Job] = []
                try:
                    self._transact(batch, wait=False)
                except Busy as busy:  # another process holds the write lock: the worker waits for it
                    rest = busy.rest
                left = {id(job) for job in rest}
                if ran := [job for job in batch if id(job) not in left]:  # (before a failure, and their commit)
                    if self._shared:  # (a job of another thread's loop may have joined the batch)
                        Worker._hand_back(ran)
                    else:
                        _deliver(ran)
                if not rest:
                    return
                batch = rest
            finally:
                self._lock.release()
        self._hand_off(batch)

    def _transact(self, batch: list[_Job], *, wait: bool) -> None:
        """`transact` on the connection (`_lock` held), or fail the batch with `Stopped` once `close` closed it."""
        if self._closed:
            for job in batch:
                job.error = Stopped("the store was closed")
            return
        transact(self._conn(), batch, wait=wait)

    def _hand_off(self, batch: list[_Job]) -> None:
        with self._counting:
            self._handed += 1
        deadline = time.monotonic() + self._busy_timeout_ms / 1000  # (each write waits the busy timeout at most)

        def done(handed: asyncio.Future[None]) -> None:
            error = handed.exception()  # (only before the batch ran: `_waiting` raises nothing after)
            if error is not None:
                for job in batch:
                    job.error = error
            if self._shared:  # (jobs of two threads' loops: each result goes back to its own)
                Worker._hand_back(batch)
            else:
                _deliver(batch)

        # (a future nobody awaits, so nothing cancels it: the batch's results are delivered once it has run, even
        # when the event loop shuts down meanwhile)
        handed = self._worker.submit(self._waiting, batch, deadline)
        if handed.done():  # (the worker was stopped: `_waiting` never runs)
            self._counted_down()
        handed.add_done_callback(done)

    def _counted_down(self) -> None:
        with self._counting:
            self._handed -= 1

    def _waiting(self, batch: list[_Job], deadline: float) -> None:
        """In the worker thread: run `batch`, waiting for the write lock until `deadline` (the busy timeout after it was
        handed over)."""
        try:
            self._waited(batch, deadline)
        finally:
            self._counted_down()

    def _waited(self, batch: list[_Job], deadline: float) -> None:
        with self._lock:
            if self._closed:
                self._transact(batch, wait=True)
                return
            conn = self._conn()
            # What is left of the batch's own wait: a batch queued behind others that waited for another process's
            # lock waits no more than the busy timeout from when it was sent (each waited a busy timeout of its own
            # after the one before it: six writes sent together while the lock was held were answered after a minute)
            left_ms = max(0, round((deadline - time.monotonic()) * 1000))
            conn.execute(f"PRAGMA busy_timeout = {left_ms}")
            try:
                self._transact(batch, wait=True)
            finally:
                with contextlib.suppress(sqlite3.Error):  # (a connection that fails this fails the next BEGIN too)
                    conn.execute("PRAGMA busy_timeout = 0")
