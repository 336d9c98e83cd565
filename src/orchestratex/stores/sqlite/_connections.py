"""The connections of a `SQLiteStore` and how a job reaches them: the writer (group commit on the event loop's thread,
a worker thread when another process holds the lock), the reader thread, and point reads on the loop's own thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import os
import sqlite3
import stat
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from ..._ids import forks
from ...exceptions import Conflict, StoreError, StoreFull, StoreUnavailable, UserError
from .._base import Store
from ._checkpoint import Checkpointer
from ._errors import code_of, disk_full, free_space, is_transient, nearly_full, not_writable, translate
from ._schema import check_not_foreign, connect, create_private, create_schema
from ._worker import LoopWriter, Stopped, Worker

__all__ = ["SQLiteConnections", "refused_insert"]

_T = TypeVar("_T")

logger = logging.getLogger("orchestratex.stores.sqlite")

_JOIN_S = 5.0
"""How long `close` waits for the store's threads to end (each has at most a statement or a checkpoint to finish)."""


def _read_afresh(path: str) -> None:
    """Read the database at `path` through a read-only connection of its own, whose page cache is empty: a file
    overwritten in place shows, which the store's connections may not see behind their caches.

    Never a plain `open()` of the file: closing any descriptor of a file drops every POSIX lock this process holds
    on it, so another process would take this one's connections for gone and delete the WAL under them (the file
    is then corrupt). SQLite's own connections share the process's locks, and closing one keeps them."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
    try:
        conn.execute("SELECT 1 FROM sessions LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_transient(exc):
            raise
        raise StoreError(f"{path!r} is no longer a SQLite database this store can read: {exc}") from exc
    finally:
        conn.close()


def _special_file(path: str) -> str | None:
    """What `path` is when it exists and is neither a regular file nor a folder (`/dev/null`, a FIFO, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for test, kind in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return None


def _file_identity(path: str) -> tuple[int, int] | None:
    """The file at `path` (device, inode), or None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class SQLiteConnections(Store):
    """What every part of `SQLiteStore` runs its SQL through (see its docstring): opening and closing the file, and the
    three ways a job reaches a connection (`_run`, `_read`, `_lookup`). `SQLiteStore.__init__` sets the attributes."""

    path: str
    busy_timeout: float
    synchronous: Literal["normal", "full"]
    _worker: Worker | None
    _writer: LoopWriter | None
    _conn: sqlite3.Connection | None
    _reader: Worker | None
    _rconn: sqlite3.Connection | None
    _lconn: sqlite3.Connection | None
    _local: threading.local
    _lookup_lock: threading.Lock
    """Held while `_lookup` reads on `_lconn`: one thread at a time (another reads on the reader thread)."""
    _checkpointer: Checkpointer | None
    _file: str
    """The absolute path of the database file (or `:memory:`), settled by `open`."""
    _file_id: tuple[int, int] | None
    _full: bool
    """Set when a write failed because the database's disk is full; `ping` fails while it still is, and clears it once
    there is room again: a server's readiness check then takes it out of service without writing anything itself."""
    _unwritable: str
    """Why the last write failed, when it could not be written at all (its file system turned read-only, an I/O
    error), else "": `ping` then fails until a write of its own goes through (it writes only while this is set)."""
    _memory_image: bytes | None
    """An in-memory database's content when it was last closed, to open it again with (as a file is opened again)."""
    _finalizer: weakref.finalize[Any, Any] | None
    _opened_in: int
    """`forks()` when the store was opened: another value means this process was forked from the one that opened it."""
    _opening: concurrent.futures.Future[None] | None
    """Set while an `open()` opens: another, meanwhile (two orchestrators' first runs; two threads' event loops, each
    running `asyncio.run(store.open())`), waits for it and finds the store open. (An `asyncio.Lock` bound itself to
    one thread's loop: a thread that waited on it from another loop was never woken, and its `open()` hung.)"""
    _opening_guard: threading.Lock
    """Held while `_opening` is read or set."""

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        if self._worker is not None and self._opened_in != forks():  # (forked: what it holds is the parent's)
            self._forget_inherited()
        # (each concurrent `open` made its own threads and connections, all but one leaked: one opens, the others wait)
        while self._worker is None:
            with self._opening_guard:
                opening, mine = self._opening, self._opening is None
                if mine:
                    opening = self._opening = concurrent.futures.Future()
                    opening.set_running_or_notify_cancel()  # (a waiter cancelled cannot cancel it for the others)
            assert opening is not None
            if not mine:  # another task (of any thread's loop) opens it: wait, then find it open (or try if it failed)
                await asyncio.shield(asyncio.wrap_future(opening))
                continue
            try:
                await self._open()
            finally:
                with self._opening_guard:
                    self._opening = None
                opening.set_result(None)
            return

    async def _open(self) -> None:
        # Every connection, and `ping`'s check of the file, goes to the file the path names now: a relative path read
        # after the process changed its working directory (`os.chdir`, `%cd` in a notebook) named another file. Opened
        # again after `close`, the store is the file it opened first (an orchestrator run again made a new, empty one).
        try:
            if getattr(self, "_file", None) is None:
                self._file = self.path if self.path == ":memory:" else os.path.abspath(self.path)
        except FileNotFoundError:  # (`os.getcwd()` of a folder deleted meanwhile: a traceback from `orchestratex run`)
            raise StoreError(
                f"cannot open SQLite database {self.path!r}: it is relative to the working directory, which no longer"
                " exists (deleted since this process entered it): give an absolute path, or run from another folder"
            ) from None
        worker = Worker(f"orchestratex-sqlite:{self.path}")
        try:
            self._conn = await worker.run(self._open_sync)
        except BaseException:
            worker.stop()
            raise
        self._worker = worker
        ms = round(self.busy_timeout * 1000)
        await worker.run(lambda: self._writer_conn().execute("PRAGMA busy_timeout = 0"))  # (see LoopWriter)
        self._writer = LoopWriter(worker, self._writer_conn, ms)
        if self.path != ":memory:":
            self._checkpointer = Checkpointer(self._file)
            reader = Worker(f"orchestratex-sqlite-read:{self.path}")
            try:
                self._rconn = await reader.run(self._open_reader_sync)
            except BaseException:
                reader.stop()
                await self.close()
                raise
            self._reader = reader
            self._lconn = self._open_lookup()
        # Collected without `close` (an orchestrator dropped in a notebook): its threads end, its connections close.
        self._opened_in = forks()
        self._finalizer = weakref.finalize(
            self,
            _release,
            self._opened_in,
            worker,
            self._conn,
            self._reader,
            self._rconn,
            self._lconn,
            self._checkpointer,
        )
        self._finalizer.atexit = False  # (at exit the daemon threads just stop, as before)

    def _open_sync(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        try:
            if self.path != ":memory:":
                if os.path.isdir(
                    self.path
                ):  # (SQLite said "unable to open database file", taken for a passing failure)
                    raise StoreError(f"cannot open SQLite database {self.path!r}: it is a folder; name a file in it")
                special = _special_file(self._file)
                if special is not None:  # (SQLite said "disk I/O error", a StoreUnavailable retried as if passing)
                    raise StoreError(
                        f"cannot open SQLite database {self.path!r}: it is {special}, not a regular file; name a file"
                        " (memory:// keeps nothing past the process)"
                    )
                create_private(Path(self._file))
                check_not_foreign(self._file)
            conn = connect(self._file, round(self.busy_timeout * 1000), self.synchronous)
            if self.path == ":memory:" and self._memory_image is not None:  # (reopened: its data, not an empty one)
                conn.deserialize(self._memory_image)
            create_schema(conn)
            self._file_id = None if self.path == ":memory:" else _file_identity(self._file)
            _forget_expired_counters(conn, round(self.busy_timeout * 1000))
            # A group commit runs each write under a savepoint, whose journal keeps the original of every page the
            # write changes; past 64 KiB SQLite spills it to a temporary file, written page by page (some 90
            # `pwrite`s per run with many in flight). In memory it is a copy: it is bounded by one write's pages,
            # and it is never needed after a crash (a transaction without its commit frame is not in the database).
            # (Set after `create_schema`, so that a migration's large sorts keep spilling to files.)
            conn.execute("PRAGMA temp_store = MEMORY")
        except BaseException as exc:
            if conn is not None:
                conn.close()
            unwritable = isinstance(exc, sqlite3.Error | PermissionError) or getattr(exc, "errno", None) == errno.EROFS
            why = not_writable(self.path) if unwritable and self.path != ":memory:" else None
            if why is not None:  # (SQLite says "unable to open database file", which also reads as transient)
                raise StoreError(why) from exc
            if isinstance(exc, sqlite3.Error):
                kind = StoreUnavailable if is_transient(exc) else StoreError  # busy: another process holds the lock
                full = disk_full(self._file, exc) if self.path != ":memory:" else ""
                raise kind(f"cannot open SQLite database {self.path!r}: {exc}{full}") from exc
            if isinstance(exc, OSError):  # its folder cannot be made (a file on the way, no permission)
                where = f" ({exc.filename})" if exc.filename not in (None, self.path, self._file) else ""
                raise StoreError(f"cannot open SQLite database {self.path!r}: {exc.strerror or exc}{where}") from exc
            raise
        return conn

    def _open_reader_sync(self) -> sqlite3.Connection:
        try:
            conn = connect(self._file, round(self.busy_timeout * 1000), self.synchronous)
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {self.path!r} for reading: {exc}") from exc
        self._local.conn = conn  # this thread's `_db`
        return conn

    def _open_lookup(self) -> sqlite3.Connection | None:
        """The connection of `_lookup`: read-only, and it never waits for a lock (it falls back instead)."""
        try:
            conn = connect(self._file, 0)
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error:
            return None  # reads go to the reader thread, as they can
        return conn

    async def close(self) -> None:
        """Close the connections and wait (up to 5 s) for the store's threads to end: once it returns, no connection
        of the store is open, so a process forked then (gunicorn, `multiprocessing`) opens the file afresh. In a
        process forked from the one that opened it, the store only forgets what it inherited (its threads stayed in
        the parent, and closing the parent's connections could disturb its locks), as its finalizer does."""
        finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            finalizer.detach()
        if self._worker is not None and self._opened_in != forks():
            self._forget_inherited()
            return
        # Another thread's event loop may be reading or writing on a connection meanwhile (the store shared by
        # threads): each is closed only once nothing runs on it (a statement on a connection closed under it crashed
        # the process), and what is sent afterwards fails with "not open".
        lconn, self._lconn = self._lconn, None
        if lconn is not None:
            with self._lookup_lock:
                lconn.close()
        reader, rconn = self._reader, self._rconn
        self._reader = self._rconn = None
        if reader is not None:
            reader.stop(rconn.close if rconn is not None else None)  # after the reads sent before
        worker, conn, writer = self._worker, self._conn, self._writer
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        # The writer's connection closes last, alone: the last connection to close checkpoints the WAL into the file
        # and deletes `-wal` and `-shm`, but two closing at once each see the other open and leave them (with the
        # last commits in the WAL only: a copy of the database file alone missed them).
        await _joined(self.path, reader, checkpointer)
        try:
            if worker is None or conn is None:
                return
            while writer is not None and not writer.idle:  # the writes already sent are done first
                await asyncio.sleep(0.001)
            self._worker = self._writer = None

            def close_conn() -> bytes | None:
                # (an in-memory database's data goes with its connection: an `Orchestrator` reopening its store found
                # nothing it had written)
                image = conn.serialize() if self.path == ":memory:" else None
                conn.close()
                return image

            try:  # (once no transaction runs on the connection: another thread's may)
                image = await worker.run(writer.close, close_conn) if writer is not None else close_conn()
                if self.path == ":memory:":
                    self._memory_image = image
            finally:
                if self._conn is conn:  # (not one an `open()` made meanwhile)
                    self._conn = None
                worker.stop()
        finally:
            await _joined(self.path, reader, worker, checkpointer)

    def _forget_inherited(self) -> None:
        """In a process forked from the one that opened the store: drop its threads and connections, which are the
        parent's (closing them could disturb its locks), as if the store were closed here."""
        self._worker = self._conn = self._writer = self._reader = self._rconn = self._lconn = None
        self._checkpointer = None

    def _writer_conn(self) -> sqlite3.Connection:
        conn = self._conn
        assert conn is not None
        return conn

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a write job inside the transaction of its batch (see `LoopWriter`)."""
        writer = self._writer
        if writer is None:
            raise self._closed()
        if self._opened_in != forks():
            raise self._forked()
        try:
            return await writer.submit(fn, args)
        except sqlite3.Error as exc:  # (no file path in the message: it may reach an API client)
            if self.path != ":memory:" and disk_full(self._file, exc):
                self._full = True
            elif code_of(exc) in _UNWRITABLE:
                self._unwritable = f"{getattr(exc, 'sqlite_errorname', '') or type(exc).__name__}: {exc}"
            raise translate(exc) from exc
        except Stopped:  # (closed meanwhile, by another thread)
            raise self._closed() from None

    async def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a read-only job on the reader thread (in the writer's batch for an in-memory database)."""
        reader = self._reader
        if reader is None or self._opened_in != forks():
            return await self._run(fn, *args)
        try:
            return await reader.run(fn, *args)
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        except Stopped:  # (closed meanwhile, by another thread)
            raise self._closed() from None

    async def _lookup(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a short indexed read (a row by its key) on the event loop's own thread: a hand-off to the reader
        thread costs several times the read. In WAL mode a reader never waits for writers; in the rare case
        it would (another process recovering the WAL), it goes to the reader thread, which may wait."""
        conn = self._lconn
        if conn is None or self._opened_in != forks():
            return await self._read(fn, *args)
        lock = self._lookup_lock
        if not lock.acquire(blocking=False):  # another thread's loop reads on it now (the store used from two
            return await self._read(fn, *args)  # threads): its statement would hold this read to an older snapshot
        if self._lconn is not conn:  # (closed meanwhile, by another thread)
            lock.release()
            return await self._read(fn, *args)
        local = self._local
        local.conn = conn  # `_db` of this thread, for this synchronous call only
        try:
            return fn(*args)
        except sqlite3.Error as exc:
            if is_transient(exc):
                return await self._read(fn, *args)
            raise translate(exc) from exc
        finally:
            local.conn = None
            lock.release()

    def _closed(self) -> StoreError:
        return self._not_open()

    def _forked(self) -> UserError:
        return UserError(
            f"{self!r} was opened in the process this one was forked from: its connections and threads are that"
            " process's (a SQLite connection used across a fork can corrupt the database, and its threads are not"
            " here); open the store in this process (`await store.open()`, or `async with store:`), or close it"
            " before forking"
        )

    def _cursor(self) -> sqlite3.Cursor:
        """A cursor of the writer's connection for the statements of one write job, which reuse it (see
        `_rows.Executor`); each statement's rows are read before the next runs."""
        return self._writer_conn().cursor()

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection of the calling worker thread: the reader's in the reader thread, else the writer's."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None) or self._conn
        assert conn is not None
        return conn

    def _exists(self, table: Literal["sessions", "threads", "orchestrations"], doc_id: str) -> bool:
        return self._db.execute(f"SELECT 1 FROM {table} WHERE id = ?", (doc_id,)).fetchone() is not None

    def _insert(self, kind: str, sql: str, row: tuple[Any, ...], cur: sqlite3.Cursor | None = None) -> None:
        try:
            (cur or self._cursor()).execute(sql, row)
        except sqlite3.IntegrityError as exc:
            raise refused_insert(kind, row[0], exc) from exc

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return self._db.execute(sql, params).fetchall()

    async def _write_again(self) -> None:
        """Clear `_unwritable` once a write goes through (`_write_nothing`), else `StoreUnavailable` saying why the
        store's writes fail."""
        why = self._unwritable
        try:
            await self._run(self._write_nothing)
        except StoreError:
            raise StoreUnavailable(
                f"the SQLite database {self.path!r} cannot be written ({self._unwritable or why}): every write fails;"
                " is its file system read-only, or its disk failing?"
            ) from None
        self._unwritable = ""

    def _write_nothing(self) -> None:
        """A write that leaves the database as it was, but writes a page (a row rewritten as it is would not: SQLite
        leaves a page whose content is unchanged unwritten)."""
        db = self._db
        db.execute("INSERT OR REPLACE INTO counters (key, value, expires_at) VALUES ('orchestratex:ping', 0, 0)")
        db.execute("DELETE FROM counters WHERE key = 'orchestratex:ping'")

    async def ping(self) -> None:
        """Check that the file opened is still the database's, and read it afresh (a read neither takes nor waits for
        the write lock another process may hold). A file deleted or replaced since it was opened would take writes
        that the next process never sees: `StoreUnavailable`; a file that is no longer a database: `StoreError`. After a
        write failed on a full disk, `StoreFull` while the disk is still full (reads go on working meanwhile). After a
        write could not be written at all (its file system turned read-only under the store, an I/O error),
        `StoreUnavailable` until a write goes through: only then does `ping` write (a row added and deleted)."""
        if self._full:
            free = free_space(self._file)
            if nearly_full(free):
                raise StoreFull(
                    f"the disk holding the SQLite database {self.path!r} is full ({free:,} bytes free): its writes fail"
                    "; free some space"
                )
            self._full = False
        if self._unwritable:
            await self._write_again()
        if self._file_id is not None:
            if _file_identity(self._file) != self._file_id:
                raise StoreUnavailable(
                    f"the SQLite database {self.path!r} was deleted or replaced since this store opened it: "
                    "its writes would be lost (restore the file, or restart the process to open the new one)"
                )
            await self._read(_read_afresh, self._file)
            await self._write_lock_had()
            return
        await self._lookup(self._fetch, "SELECT 1 FROM sessions LIMIT 1", ())

    async def _write_lock_had(self) -> None:
        """`StoreUnavailable` when the write lock cannot be had within `_LOCK_WAIT_S`: another process holds it (a
        `sqlite3` shell left in a transaction, a stuck process). Reads went on answering, so `/health/ready` said
        "ready" while every write waited out the busy timeout (10 s) and failed with 503. An empty transaction: it
        writes nothing, and takes the lock for as long as a `BEGIN IMMEDIATE` and its `COMMIT` when it is free."""
        taken = asyncio.ensure_future(self._run(_nothing))
        try:
            await asyncio.wait_for(asyncio.shield(taken), _LOCK_WAIT_S)
        except TimeoutError:
            raise StoreUnavailable(
                f"another process has held the write lock of the SQLite database {self.path!r} for over"
                f" {_LOCK_WAIT_S:g} s: every write waits for it (up to {self.busy_timeout:g} s), then fails"
            ) from None
        finally:
            if not taken.done():  # (it gets the lock later, or waits out the busy timeout: nobody awaits it)
                taken.add_done_callback(_retrieved)


_LOCK_WAIT_S = 1.0
"""How long `ping` waits for the write lock (`/health/ready` waits 2 s for the whole `ping`)."""


def _nothing() -> None:
    """A write job that writes nothing: its transaction only takes the write lock."""


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


_UNWRITABLE = frozenset({sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR})
"""Primary result codes of a write that could not be written at all (not busy, not a full disk)."""


def _forget_expired_counters(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Delete the counters whose window has passed, if the write lock is free now (housekeeping, which `incr` also does
    now and then: opening the store to read it must not wait for, nor fail on, another process's lock)."""
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("DELETE FROM counters WHERE expires_at <= ?", (time.time(),))
    except sqlite3.OperationalError as exc:
        if code_of(exc) not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")


async def _joined(path: str, *threads: Worker | Checkpointer | None) -> None:
    """Wait until each of `threads` (stopped) has ended, up to `_JOIN_S` in all, without blocking the event loop."""
    deadline = time.monotonic() + _JOIN_S
    for thread in threads:
        while thread is not None and thread.alive:
            if time.monotonic() > deadline:
                logger.warning("a thread of the SQLite store %s did not end within %s s of close()", path, _JOIN_S)
                return
            await asyncio.sleep(0.001)


def _release(
    opened_in: int,
    worker: Worker,
    conn: sqlite3.Connection | None,
    reader: Worker | None,
    rconn: sqlite3.Connection | None,
    lconn: sqlite3.Connection | None,
    checkpointer: Checkpointer | None,
) -> None:
    """The finalizer of a `SQLiteStore` collected open: nothing can use its connections any more (what would holds
    the store). It may run on any thread, the store's own included: it waits for nothing, each thread closes its
    connection as its last job. In a process forked from the one that opened it, there is nothing to release (the
    threads are not in this process, and closing what it inherited could disturb the parent's locks)."""
    if opened_in != forks():
        return
    if checkpointer is not None:
        checkpointer.stop()
    if lconn is not None:
        lconn.close()
    if reader is not None:
        reader.stop(rconn.close if rconn is not None else None)
    worker.stop(conn.close if conn is not None else None)


_TAKEN = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


def refused_insert(kind: str, record_id: object, exc: sqlite3.IntegrityError) -> Conflict | UserError:
    """The error of an insert SQLite refused: `Conflict` when the id is taken, else a `UserError` saying which
    constraint failed (a required field set to None after the record was made: it said the id already existed)."""
    if getattr(exc, "sqlite_errorname", None) in _TAKEN:
        return Conflict(f"{kind} {record_id!r} already exists")
    return UserError(f"{kind} {record_id!r} cannot be stored: {exc} (a field set to None after the record was made?)")
