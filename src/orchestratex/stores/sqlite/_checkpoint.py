"""Checkpoints in the background: copying the WAL back into the database file costs fsyncs, which a
commit would otherwise pay now and then (several milliseconds on a slow disk)."""

from __future__ import annotations

import logging
import sqlite3
import threading

from ._schema import BUSY_TIMEOUT_MS

__all__ = ["Checkpointer"]

logger = logging.getLogger("orchestratex.stores.sqlite")


class Checkpointer:
    """A daemon thread with its own connection running a `PASSIVE` checkpoint every `interval_s`.

    A passive checkpoint never blocks writers or readers; the store's own connection keeps a high
    `wal_autocheckpoint` as a safety net in case this thread falls behind.
    """

    def __init__(self, path: str, interval_s: float = 0.05) -> None:
        self._path = path
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"orchestratex-checkpoint:{path}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish (it does within one checkpoint) without waiting for it."""
        self._stopping.set()

    def _loop(self) -> None:
        try:
            conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error:
            logger.exception("cannot open %s for checkpoints", self._path)
            return
        try:
            while not self._stopping.wait(self._interval_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # e.g. busy: the next round will do it
                    logger.debug("checkpoint of %s skipped: %s", self._path, exc)
        finally:
            conn.close()
