"""Checkpoints in the background: copying the WAL back into the database file costs fsyncs, which a
commit would otherwise pay now and then (several milliseconds on a slow disk)."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

from ._schema import BUSY_TIMEOUT_MS

__all__ = ["Checkpointer"]

logger = logging.getLogger("orchestratex.stores.sqlite")


class Checkpointer:
    """A daemon thread with its own connection running a `PASSIVE` checkpoint every `interval_s`.

    A passive checkpoint never blocks writers or readers; the store's own connection keeps a high
    `wal_autocheckpoint` as a safety net in case this thread falls behind.

    It also watches the WAL index (`<db>-shm`), which SQLite maps into memory in every process using the
    database: if it stops being writable, is truncated or replaced, the next access may kill the process
    with SIGBUS, which no Python code can catch. The thread logs an ERROR about it first (once per change).
    """

    def __init__(self, path: str, interval_s: float = 0.05) -> None:
        self._path = path
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"orchestratex-checkpoint:{path}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish (it does within one checkpoint, closing its connection) without waiting for it."""
        self._stopping.set()

    @property
    def alive(self) -> bool:
        """Whether the thread is still running (its connection is closed once it is not)."""
        return self._thread.is_alive()

    def _loop(self) -> None:
        try:
            conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error:
            logger.exception("cannot open %s for checkpoints", self._path)
            return
        watch = _ShmWatch(self._path + "-shm")
        rounds = 0
        try:
            while not self._stopping.wait(self._interval_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # e.g. busy: the next round will do it
                    logger.debug("checkpoint of %s skipped: %s", self._path, exc)
                rounds += 1
                if rounds % 20 == 0:
                    watch.check()
        finally:
            conn.close()


class _ShmWatch:
    """Logs when the WAL index stops being a writable file of at least the size it had (see `Checkpointer`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.seen: tuple[int, int] | None = None
        self.problem: str | None = None

    def check(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # not created yet (or the database is not in WAL mode)
        except OSError as exc:
            return self._report(f"cannot be read: {exc}")
        problem = None
        if not os.access(self.path, os.W_OK):
            problem = "is no longer writable"
        elif self.seen is not None and st.st_ino != self.seen[0]:
            problem = "was replaced by another file"
        elif self.seen is not None and st.st_size < self.seen[1]:
            problem = f"shrank from {self.seen[1]} to {st.st_size} bytes"
        self.seen = (st.st_ino, st.st_size)
        self._report(problem)

    def _report(self, problem: str | None) -> None:
        if problem is not None and problem != self.problem:
            logger.error(
                "the SQLite WAL index %s %s: every process using the database may crash (SIGBUS) or fail;"
                " restore it (owner read/write) or restart the processes",
                self.path,
                problem,
            )
        self.problem = problem
