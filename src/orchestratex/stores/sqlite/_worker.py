"""The thread that talks to SQLite, so the event loop never blocks on the database; group commit.

Jobs queued while the thread is busy are taken together as one batch: its write jobs run in one
`BEGIN IMMEDIATE` transaction (one commit, one WAL append, for many steps), each inside a SAVEPOINT
of its own, so a job that fails is rolled back alone and its neighbours commit. The results of a
batch reach the event loop in one hand-off (one `call_soon_threadsafe`), not one per job, and
only after the transaction has committed: a job's caller never sees a result that is not durable.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from ...exceptions import StoreUnavailable

__all__ = ["Worker"]

_T = TypeVar("_T")
_MAX_BATCH = 256
"""At most this many jobs share a transaction (a bound on the latency a batch adds to its first job)."""


class _Job:
    __slots__ = ("args", "error", "fn", "future", "result", "tx")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], future: asyncio.Future[Any], tx: bool) -> None:
        self.fn, self.args, self.future, self.tx = fn, args, future, tx
        self.result: Any = None
        self.error: BaseException | None = None


def _deliver(jobs: list[_Job]) -> None:
    for job in jobs:
        future = job.future
        if future.cancelled():
            continue
        if job.error is not None:
            future.set_exception(job.error)
        else:
            future.set_result(job.result)


class Worker:
    """A single daemon thread running jobs in order.

    `run` awaits a job run on its own; `write` awaits a job run inside the batch's transaction on the
    connection `conn()` returns (given to the constructor), under a savepoint of its own.
    """

    def __init__(self, name: str, conn: Callable[[], sqlite3.Connection] | None = None) -> None:
        self._conn = conn
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run `fn(*args)` in the worker thread and return its result (or raise its exception).

        Cancelling the awaiting task does not stop a job that has started: it completes (or rolls
        back) as one unit, and its result is dropped.
        """
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._jobs.put(_Job(fn, args, future, False))
        return await future

    async def write(self, fn: Callable[..., _T], *args: Any) -> _T:
        """`run`, inside a write transaction shared with the other write jobs of the batch (group commit);
        the result is returned once that transaction has committed."""
        if self._conn is None:
            raise RuntimeError("this worker runs no transactions")
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._jobs.put(_Job(fn, args, future, True))
        return await future

    def stop(self) -> None:
        """Let the thread finish the queued jobs and exit (does not wait for it)."""
        self._jobs.put(None)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _loop(self) -> None:
        jobs = self._jobs
        while True:
            first = jobs.get()
            batch: list[_Job | None] = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(jobs.get_nowait())
                except Empty:
                    break
            stop = False
            group: list[_Job] = []
            for job in batch:
                if job is None:
                    stop = True
                elif job.tx:
                    group.append(job)
                else:
                    self._transact(group)
                    group = []
                    try:
                        job.result = job.fn(*job.args)
                    except BaseException as exc:  # delivered to the awaiting task
                        job.error = exc
            self._transact(group)
            self._hand_back([job for job in batch if job is not None])
            del batch, group, first
            if stop:
                return

    def _transact(self, group: list[_Job]) -> None:
        """Run `group`'s jobs in as few transactions as possible, each job under its own savepoint."""
        while group:
            group = self._one_transaction(group)

    def _one_transaction(self, group: list[_Job]) -> list[_Job]:
        """Run the jobs of `group` in one transaction; returns those left for another one (after a failure
        that rolled the whole transaction back, the jobs not yet run)."""
        assert self._conn is not None
        conn = self._conn()
        _rollback(conn)  # (left open by a failure that could not be rolled back: start afresh)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:  # the write lock was not had: nothing is written
            for job in group:
                job.error = exc
            return []
        done: list[_Job] = []
        for i, job in enumerate(group):
            try:
                conn.execute("SAVEPOINT step")
            except BaseException as exc:
                job.error = exc
                return self._abandon(conn, done, group[i + 1 :])
            try:
                job.result = job.fn(*job.args)
            except BaseException as exc:
                job.error = exc
                if not conn.in_transaction:  # SQLite rolled the whole transaction back (an I/O error, say)
                    _undone(done)
                    return group[i + 1 :]
                try:
                    conn.execute("ROLLBACK TO step")
                    conn.execute("RELEASE step")
                except BaseException:
                    return self._abandon(conn, done, group[i + 1 :])
                continue
            try:
                conn.execute("RELEASE step")
            except BaseException as exc:
                job.result, job.error = None, exc
                return self._abandon(conn, done, group[i + 1 :])
            done.append(job)
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            _rollback(conn)
            for job in done:
                job.result, job.error = None, exc
        return []

    @staticmethod
    def _abandon(conn: sqlite3.Connection, done: list[_Job], rest: list[_Job]) -> list[_Job]:
        """The transaction cannot go on: roll it back (its jobs wrote nothing) and leave `rest` for another."""
        _rollback(conn)
        _undone(done)
        return rest

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
