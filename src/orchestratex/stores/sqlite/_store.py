"""`SQLiteStore`: the embedded default store, one file shared safely by several processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Self, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from ..._ids import utcnow
from ...events import EVENT_ADAPTER, Event
from ...exceptions import ConfigurationError, Conflict, NotFound, StoreError, StoreUnavailable, UserError
from ...records import (
    ApiKey,
    CallRecord,
    Orchestration,
    Session,
    SessionStatus,
    Thread,
)
from .._base import (
    Analytics,
    ModelStats,
    RoutingOutcome,
    RoutingStat,
    Started,
    Store,
    check_session_transition,
    fused,
)
from ..checks import check_amount, check_commit, check_page, check_start, check_step, check_ttl, from_pico, to_pico
from . import _analytics
from ._checkpoint import Checkpointer
from ._commit import Step, commit_step, start_step
from ._errors import is_transient, translate
from ._orchestrations import (
    Parts,
    WrittenCache,
    insert_orchestration,
    read_orchestrations,
    split,
)
from ._rows import (
    INCR,
    INSERT_SESSION,
    RECORD_OUTCOME,
    RELEASE_LEASE,
    RESERVE,
    Read,
    Write,
    call_row,
    session_from,
    thread_row,
)
from ._schema import connect, create_private, create_schema
from ._worker import LoopWriter, Worker

__all__ = ["SQLiteStore"]

_T = TypeVar("_T")
_SYNCHRONOUS = ("normal", "full")


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


def _file_identity(path: str) -> tuple[int, int] | None:
    """The file at `path` (device, inode), or None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class SQLiteStore(Store):
    """A `Store` in one SQLite file (or in memory), using the standard library's `sqlite3`.

    The file is in WAL mode with `synchronous=NORMAL` by default: a commit survives a crash of the
    process; an operating-system crash or a power loss may undo the last commits (never corrupt the
    file). With `synchronous="full"` a commit has reached the disk when it returns (an fsync of the
    log per transaction, which group commit shares among the writes of one turn of the event loop).
    Several processes may share the file: every write is
    in a `BEGIN IMMEDIATE` transaction, and a process waits up to `busy_timeout` (10 s) for another's
    write lock. The writes sent in one turn of the event loop share one transaction, each under its
    own savepoint (group commit), run on the loop's thread when the write lock is free and in a worker
    thread, which waits for it, when another process holds it (see `_worker.LoopWriter`): the loop
    never blocks on another process. Reads run in a thread of their own on a read-only connection, so
    they never wait behind a write that waits for another process's lock (WAL readers need no lock). A
    lock held past the busy timeout raises `StoreUnavailable`.

    A new database file is created readable by its owner only (0600), and a directory created for
    it 0700: it holds API key hashes, prompts and answers.

    Args:
        path: the database file (its directory is created if needed), or `":memory:"`.
        busy_timeout: seconds to wait for another process's write lock before a write fails with
            `StoreUnavailable` (which wrote nothing; the orchestrator retries it with backoff).
        synchronous: `"normal"` (a commit survives the process) or `"full"` (it survives the machine:
            power loss, kernel crash). In a URL: `sqlite:///path.db?synchronous=full`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        busy_timeout: float = 10.0,
        synchronous: Literal["normal", "full"] = "normal",
    ) -> None:
        if not 0 <= busy_timeout <= 3600:
            raise UserError(f"busy_timeout must be between 0 and 3600 seconds, not {busy_timeout!r}")
        if synchronous not in _SYNCHRONOUS:
            raise UserError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
        if isinstance(path, str) and path.startswith("sqlite:"):  # (it would name a file `sqlite:` or in a `sqlite:/`)
            raise UserError(
                f"SQLiteStore takes a file path, not a URL ({path!r}): use SQLiteStore.from_url(url) or"
                " open_store(url), or give the path itself"
            )
        self.path = str(path)
        """The database file, or `:memory:`."""
        self.busy_timeout = busy_timeout
        self.synchronous: Literal["normal", "full"] = synchronous
        """When a commit is durable: `normal`, past a crash of the process; `full`, past a power loss."""
        self._worker: Worker | None = None
        self._writer: LoopWriter | None = None
        self._conn: sqlite3.Connection | None = None
        self._reader: Worker | None = None
        self._rconn: sqlite3.Connection | None = None
        self._lconn: sqlite3.Connection | None = None  # point reads on the event loop's thread (`_lookup`)
        self._local = threading.local()
        self._checkpointer: Checkpointer | None = None
        self._file_id: tuple[int, int] | None = None
        """The database file opened (device, inode): `ping` checks it is still the file at `path`."""
        self._incrs = 0
        self._written = WrittenCache()

    @classmethod
    def from_url(cls, url: str) -> Self:
        """`sqlite:///relative.db`, `sqlite:////absolute/path.db`, or `sqlite://` (`sqlite:///:memory:`) in memory;
        `?synchronous=full` after a file's path for commits that survive a power loss."""
        parts = urlsplit(url)
        if parts.scheme != "sqlite":
            raise ConfigurationError(f"not a sqlite:// URL: {url!r}")
        if parts.netloc or parts.fragment:
            raise ConfigurationError(
                f"unsupported SQLite URL {url!r}: use sqlite:///relative.db, sqlite:////absolute/path.db or sqlite://"
            )
        options = parse_qsl(parts.query, keep_blank_values=True)
        if parts.query and not options:
            raise ConfigurationError(f"unsupported query {parts.query!r} in SQLite URL {url!r}")
        synchronous: Literal["normal", "full"] = "normal"
        for name, value in options:
            if name != "synchronous":
                raise ConfigurationError(f"unknown option {name!r} in SQLite URL {url!r}: the only one is synchronous")
            if value.lower() not in _SYNCHRONOUS:
                raise ConfigurationError(f"synchronous must be 'normal' or 'full' in SQLite URL {url!r}, not {value!r}")
            synchronous = "full" if value.lower() == "full" else "normal"
        path = unquote(parts.path)
        if path in ("", "/", "/:memory:"):
            return cls(":memory:", synchronous=synchronous)
        return cls(path[1:], synchronous=synchronous)

    def __repr__(self) -> str:
        if self.synchronous == "full":
            return f"SQLiteStore({self.path!r}, synchronous='full')"
        return f"SQLiteStore({self.path!r})"

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        if self._worker is not None:
            return
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
            self._checkpointer = Checkpointer(self.path)
            reader = Worker(f"orchestratex-sqlite-read:{self.path}")
            try:
                self._rconn = await reader.run(self._open_reader_sync)
            except BaseException:
                reader.stop()
                await self.close()
                raise
            self._reader = reader
            self._lconn = self._open_lookup()

    def _open_sync(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        try:
            if self.path != ":memory:":
                create_private(Path(self.path))
            conn = connect(self.path, round(self.busy_timeout * 1000), self.synchronous)
            # A group commit runs each write under a savepoint, whose journal keeps the original of every page the
            # write changes; past 64 KiB SQLite spills it to a temporary file, written page by page (some 90
            # `pwrite`s per run with many in flight). In memory it is a copy: it is bounded by one write's pages,
            # and it is never needed after a crash (a transaction without its commit frame is not in the database).
            conn.execute("PRAGMA temp_store = MEMORY")
            create_schema(conn)
            self._file_id = None if self.path == ":memory:" else _file_identity(self.path)
            conn.execute("DELETE FROM counters WHERE expires_at <= ?", (time.time(),))
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, sqlite3.Error):
                kind = StoreUnavailable if is_transient(exc) else StoreError  # busy: another process holds the lock
                raise kind(f"cannot open SQLite database {self.path!r}: {exc}") from exc
            if isinstance(exc, OSError):  # its folder cannot be made (a file on the way, no permission)
                where = f" ({exc.filename})" if exc.filename not in (None, self.path) else ""
                raise StoreError(f"cannot open SQLite database {self.path!r}: {exc.strerror or exc}{where}") from exc
            raise
        return conn

    def _open_reader_sync(self) -> sqlite3.Connection:
        try:
            conn = connect(self.path, round(self.busy_timeout * 1000), self.synchronous)
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {self.path!r} for reading: {exc}") from exc
        self._local.conn = conn  # this thread's `_db`
        return conn

    def _open_lookup(self) -> sqlite3.Connection | None:
        """The connection of `_lookup`: read-only, and it never waits for a lock (it falls back instead)."""
        try:
            conn = connect(self.path, 0)
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error:
            return None  # reads go to the reader thread, as they can
        return conn

    async def close(self) -> None:
        lconn, self._lconn = self._lconn, None
        if lconn is not None:
            lconn.close()
        reader, rconn = self._reader, self._rconn
        self._reader = self._rconn = None
        if reader is not None and rconn is not None:
            try:
                await reader.run(rconn.close)
            finally:
                reader.stop()
        worker, conn, writer = self._worker, self._conn, self._writer
        if worker is None or conn is None:
            return
        while writer is not None and not writer.idle:  # the writes already sent are done first
            await asyncio.sleep(0.001)
        self._worker = self._conn = self._writer = None
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        try:
            await worker.run(conn.close)
        finally:
            worker.stop()

    def _writer_conn(self) -> sqlite3.Connection:
        conn = self._conn
        assert conn is not None
        return conn

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a write job inside the transaction of its batch (see `LoopWriter`)."""
        writer = self._writer
        if writer is None:
            raise self._closed()
        try:
            return await writer.submit(fn, args)
        except sqlite3.Error as exc:  # (no file path in the message: it may reach an API client)
            raise translate(exc) from exc

    async def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a read-only job on the reader thread (in the writer's batch for an in-memory database)."""
        reader = self._reader
        if reader is None:
            return await self._run(fn, *args)
        try:
            return await reader.run(fn, *args)
        except sqlite3.Error as exc:
            raise translate(exc) from exc

    async def _lookup(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a short indexed read (a row by its key) on the event loop's own thread: a hand-off to the reader
        thread costs several times the read. In WAL mode a reader never waits for writers; in the rare case
        it would (another process recovering the WAL), it goes to the reader thread, which may wait."""
        conn = self._lconn
        if conn is None:
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

    def _closed(self) -> StoreError:
        return StoreError(f"{self!r} is not open: `await store.open()` or use `async with store:` first")

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

    # -- sessions -----------------------------------------------------------------------------
    async def create_session(self, session: Session) -> Session:
        if session.reserved_cost != 0:
            raise UserError("a new session cannot hold reserved budget (reserved_cost must be 0)")
        check_amount("total_cost", session.total_cost)
        limit = session.settings.cost_limit
        row = (
            session.id,
            session.user_id,
            session.status,
            session.created_at.timestamp(),
            to_pico(session.total_cost),
            None if limit is None else to_pico(limit),
            session.model_dump_json(),
        )
        await self._run(self._insert, "session", INSERT_SESSION, row)
        return session

    def _insert(self, kind: str, sql: str, row: tuple[Any, ...], cur: sqlite3.Cursor | None = None) -> None:
        try:
            (cur or self._cursor()).execute(sql, row)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"{kind} {row[0]!r} already exists") from exc

    def _session_sync(self, session_id: str) -> Session:
        row = self._db.execute(
            "SELECT doc, total_pico, reserved_pico FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no session {session_id!r}")
        return session_from(row)

    async def get_session(self, session_id: str) -> Session:
        return await self._lookup(self._session_sync, session_id)

    async def list_sessions(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[Session]:
        check_page(limit, offset)
        rows = await self._read(
            self._fetch,
            "SELECT doc, total_pico, reserved_pico FROM sessions WHERE user_id = ?"
            " ORDER BY created_at, rowid LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [session_from(row) for row in rows]

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return self._db.execute(sql, params).fetchall()

    async def set_session_status(self, session_id: str, status: SessionStatus) -> Session:
        return await self._run(self._set_status_sync, session_id, status)

    def _set_status_sync(self, session_id: str, status: SessionStatus) -> Session:
        with Write(self._db) as db:
            session = self._session_sync(session_id)
            check_session_transition(session.status, status)
            if status != session.status:
                now = utcnow()
                session.status = status
                session.updated_at = now
                if status in ("completed", "cancelled"):
                    session.session_end = now
                db.execute(
                    "UPDATE sessions SET status = ?, doc = ? WHERE id = ?",
                    (status, session.model_dump_json(), session_id),
                )
            return session

    # -- threads ------------------------------------------------------------------------------
    async def create_thread(self, thread: Thread) -> Thread:
        await self._run(self._create_thread_sync, thread_row(thread))
        return thread

    def _create_thread_sync(self, row: tuple[Any, ...]) -> None:
        with Write(self._db):
            if not self._exists("sessions", row[1]):
                raise NotFound(f"no session {row[1]!r}")
            self._insert("thread", "INSERT INTO threads VALUES (?, ?, ?, ?, ?)", row)

    async def get_thread(self, thread_id: str) -> Thread:
        rows = await self._lookup(self._fetch, "SELECT doc FROM threads WHERE id = ?", (thread_id,))
        if not rows:
            raise NotFound(f"no thread {thread_id!r}")
        return Thread.model_validate_json(rows[0][0])

    async def list_threads(self, session_id: str, *, limit: int = 100, offset: int = 0) -> list[Thread]:
        check_page(limit, offset)
        rows = await self._read(
            self._fetch,
            "SELECT doc FROM threads WHERE session_id = ? ORDER BY created_at, rowid LIMIT ? OFFSET ?",
            (session_id, limit, offset),
        )
        return [Thread.model_validate_json(doc) for (doc,) in rows]

    # -- orchestrations -----------------------------------------------------------------------
    async def create_orchestration(self, orchestration: Orchestration) -> Orchestration:
        parts = split(orchestration)
        await self._run(self._create_orchestration_sync, parts)
        self._written.put(parts.id, parts, 0)
        return orchestration

    def _create_orchestration_sync(self, parts: Parts) -> None:
        with Write(self._db):
            if not self._exists("sessions", parts.session_id):
                raise NotFound(f"no session {parts.session_id!r}")
            if not self._exists("threads", parts.thread_id):
                raise NotFound(f"no thread {parts.thread_id!r}")
            self._insert_orchestration(parts)

    def _insert_orchestration(
        self, parts: Parts, owner: str | None = None, expires: float | None = None, cur: sqlite3.Cursor | None = None
    ) -> None:
        try:
            insert_orchestration(cur or self._cursor(), parts, owner, expires)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"orchestration {parts.id!r} already exists") from exc

    async def get_orchestration(self, orchestration_id: str) -> Orchestration:
        docs = await self._lookup(self._read_orchestrations_sync, "WHERE id = ?", (orchestration_id,), "")
        if not docs:
            raise NotFound(f"no orchestration {orchestration_id!r}")
        return Orchestration.model_validate_json(docs[0])

    async def list_orchestrations(
        self, *, session_id: str | None = None, thread_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Orchestration]:
        check_page(limit, offset)
        where, params = [], []
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)
        if thread_id is not None:
            where.append("thread_id = ?")
            params.append(thread_id)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        docs = await self._read(self._read_orchestrations_sync, clause, (*params, limit, offset), "LIMIT ? OFFSET ?")
        return [Orchestration.model_validate_json(doc) for doc in docs]

    def _read_orchestrations_sync(self, where: str, params: tuple[Any, ...], page: str) -> list[str]:
        return read_orchestrations(self._db, where, params, page)

    async def commit(
        self,
        orchestration: Orchestration,
        events: Sequence[Event] = (),
        *,
        calls: Sequence[CallRecord] = (),
        spent: float = 0.0,
        released: float = 0.0,
        owner: str | None = None,
    ) -> Sequence[Event]:
        check_commit(orchestration.session_id, events, calls, spent, released)
        orchestration.updated_at = utcnow()
        await self._committed(orchestration, events, calls, spent, released, owner, 0, None, False)
        return events

    async def _committed(
        self,
        orchestration: Orchestration,
        events: Sequence[Event],
        calls: Sequence[CallRecord],
        spent: float,
        released: float,
        owner: str | None,
        reserve: int,
        outcome_rows: list[tuple[Any, ...]] | None,
        release_lease: bool,
    ) -> bool:
        """Run `_commit_sync` and remember what it wrote (see `_orchestrations.WrittenCache`); the events get back
        the `seq` they had when it fails (its job, or the commit of the batch it shared): they were not stored."""
        parts = split(orchestration)
        previous = [e.seq for e in events]
        try:
            step = Step(
                parts,
                self._written.get(parts.id),
                events,
                [call_row(c) for c in calls] if calls else None,
                to_pico(spent) if spent else 0,
                to_pico(released) if released else 0,
                owner,
                reserve,
                outcome_rows,
                release_lease,
            )
            granted, rev = await self._run(self._commit_sync, step)
        except BaseException:
            self._written.forget(parts.id)
            for event, seq in zip(events, previous, strict=True):
                event.seq = seq
            raise
        self._written.put(parts.id, parts, rev, leased=owner is not None and not release_lease)
        return granted

    def _commit_sync(self, step: Step) -> tuple[bool, int]:
        with Write(self._db):  # one transaction (or the batch's savepoint): all of it or none
            return commit_step(self._cursor(), step)

    # -- one round trip per step -----------------------------------------------------------------
    @fused
    async def start(
        self,
        orchestration: Orchestration,
        *,
        thread: Thread | None = None,
        owner: str,
        ttl_s: float,
        events: Sequence[Event] = (),
        reserve: float = 0.0,
    ) -> Started:
        check_start(orchestration, thread, ttl_s, events, reserve)
        parts = split(orchestration)
        previous = [e.seq for e in events]
        try:
            started = await self._run(
                self._start_sync,
                parts,
                None if thread is None else thread_row(thread),
                owner,
                ttl_s,
                events,
                to_pico(reserve) if reserve else 0,
            )
        except BaseException:
            for event, seq in zip(events, previous, strict=True):  # they were not stored
                event.seq = seq
            raise
        self._written.put(parts.id, parts, 0, leased=True)
        return started

    def _start_sync(
        self,
        parts: Parts,
        new_thread: tuple[Any, ...] | None,
        owner: str,
        ttl_s: float,
        events: Sequence[Event],
        reserve: int,
    ) -> Started:
        with Write(self._db):
            cur = self._cursor()
            session_row, granted = start_step(cur, parts.session_id, parts.id, events, reserve)  # (NotFound first)
            if new_thread is not None:
                self._insert("thread", "INSERT INTO threads VALUES (?, ?, ?, ?, ?)", new_thread, cur)
            elif cur.execute("SELECT 1 FROM threads WHERE id = ?", (parts.thread_id,)).fetchone() is None:
                raise NotFound(f"no thread {parts.thread_id!r}")
            self._insert_orchestration(parts, owner, time.time() + ttl_s, cur)
            return Started(session_from(session_row), granted)

    @fused
    async def commit_step(
        self,
        orchestration: Orchestration,
        events: Sequence[Event] = (),
        *,
        calls: Sequence[CallRecord] = (),
        spent: float = 0.0,
        released: float = 0.0,
        owner: str | None = None,
        reserve: float = 0.0,
        outcomes: Sequence[RoutingOutcome] = (),
        release_lease: bool = False,
    ) -> bool:
        check_commit(orchestration.session_id, events, calls, spent, released)
        check_step(orchestration, reserve, owner, release_lease)
        orchestration.updated_at = utcnow()
        return await self._committed(
            orchestration,
            events,
            calls,
            spent,
            released,
            owner,
            to_pico(reserve) if reserve else 0,
            [_outcome_row(o) for o in outcomes] if outcomes else None,
            release_lease,
        )

    # -- budget -------------------------------------------------------------------------------
    async def reserve_budget(self, session_id: str, orchestration_id: str, amount: float) -> bool:
        check_amount("amount", amount)
        return await self._run(self._reserve_sync, session_id, orchestration_id, to_pico(amount))

    def _reserve_sync(self, session_id: str, orchestration_id: str, amount: int) -> bool:
        with Write(self._db) as db:
            if db.execute(RESERVE, {"amount": amount, "session": session_id}).fetchone() is None:
                if not self._exists("sessions", session_id):
                    raise NotFound(f"no session {session_id!r}")
                return False
            db.execute(
                "INSERT INTO reservations VALUES (?, ?, ?) ON CONFLICT (session_id, orchestration_id)"
                " DO UPDATE SET amount_pico = amount_pico + excluded.amount_pico",
                (session_id, orchestration_id, amount),
            )
            return True

    async def release_reservations(self, session_id: str, orchestration_id: str) -> float:
        return from_pico(await self._run(self._release_all_sync, session_id, orchestration_id))

    def _release_all_sync(self, session_id: str, orchestration_id: str) -> int:
        with Write(self._db) as db:
            row = db.execute(
                "DELETE FROM reservations WHERE session_id = ? AND orchestration_id = ? RETURNING amount_pico",
                (session_id, orchestration_id),
            ).fetchone()
            held: int = 0 if row is None else row[0]
            updated = db.execute(
                "UPDATE sessions SET reserved_pico = reserved_pico - ? WHERE id = ?", (held, session_id)
            ).rowcount
            if not updated:
                raise NotFound(f"no session {session_id!r}")
            return held

    async def count_active_orchestrations(self, user_id: str) -> int:
        rows = await self._lookup(
            self._fetch,
            "SELECT count(*) FROM orchestrations INDEXED BY ix_orchestrations_user_active"
            " WHERE user_id = ? AND status IN ('pending', 'running')",
            (user_id,),
        )
        count: int = rows[0][0]
        return count

    # -- events -------------------------------------------------------------------------------
    async def list_events(
        self, session_id: str, *, since: int = 0, limit: int = 1000, orchestration_id: str | None = None
    ) -> list[Event]:
        check_page(limit, since)
        docs = await self._read(self._events_sync, session_id, since, limit, orchestration_id)
        return [EVENT_ADAPTER.validate_json(doc) for doc in docs]

    def _events_sync(self, session_id: str, since: int, limit: int, orchestration_id: str | None) -> list[bytes]:
        params: tuple[Any, ...]
        if orchestration_id is None:
            sql, params = "", (session_id, since, limit)
        else:
            sql, params = " AND orchestration_id = ?", (session_id, since, orchestration_id, limit)
        rows = self._db.execute(
            f"SELECT doc FROM events WHERE session_id = ? AND seq > ?{sql} ORDER BY seq LIMIT ?", params
        ).fetchall()
        if not rows and not self._exists("sessions", session_id):
            raise NotFound(f"no session {session_id!r}")
        return [doc for (doc,) in rows]

    # -- leases -------------------------------------------------------------------------------
    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        check_ttl(ttl_s)
        claimed = await self._run(self._claim_sync, orchestration_id, owner, ttl_s)
        if not claimed:
            self._written.unpin(orchestration_id)
        return claimed

    def _claim_sync(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        now = time.time()
        claimed = self._db.execute(
            "UPDATE orchestrations SET lease_owner = ?, lease_expires = ?"
            " WHERE id = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires <= ?)",
            (owner, now + ttl_s, orchestration_id, owner, now),
        ).rowcount
        if not claimed and not self._exists("orchestrations", orchestration_id):
            raise NotFound(f"no orchestration {orchestration_id!r}")
        return bool(claimed)

    async def release(self, orchestration_id: str, owner: str) -> None:
        await self._run(self._fetch, RELEASE_LEASE, (orchestration_id, owner))
        self._written.unpin(orchestration_id)

    async def list_resumable(self, *, limit: int = 100) -> list[str]:
        check_page(limit, 0)
        rows = await self._read(
            self._fetch,
            "SELECT id FROM orchestrations INDEXED BY ix_orchestrations_user_active"  # (the unfinished runs)
            " WHERE status IN ('pending', 'running') AND (lease_owner IS NULL OR lease_expires <= ?)"
            " ORDER BY created_at, rowid LIMIT ?",
            (time.time(), limit),
        )
        return [oid for (oid,) in rows]

    # -- cancellation -------------------------------------------------------------------------
    async def request_cancel(self, orchestration_id: str) -> bool:
        return await self._run(self._request_cancel_sync, orchestration_id)

    def _request_cancel_sync(self, orchestration_id: str) -> bool:
        with Write(self._db) as db:
            row = db.execute("SELECT status FROM orchestrations WHERE id = ?", (orchestration_id,)).fetchone()
            if row is None:
                raise NotFound(f"no orchestration {orchestration_id!r}")
            if row[0] not in ("pending", "running"):
                return False
            db.execute(
                "INSERT INTO cancel_requests VALUES (?, ?) ON CONFLICT (orchestration_id) DO NOTHING",
                (orchestration_id, time.time()),
            )
            return True

    async def cancel_requested(self, orchestration_id: str) -> bool:
        rows = await self._lookup(
            self._fetch,
            "SELECT EXISTS (SELECT 1 FROM cancel_requests WHERE orchestration_id = ?1)"
            " OR EXISTS (SELECT 1 FROM orchestrations o JOIN sessions s ON s.id = o.session_id"
            " WHERE o.id = ?1 AND s.status IN ('completed', 'cancelled'))",
            (orchestration_id,),
        )
        return bool(rows[0][0])

    # -- counters -----------------------------------------------------------------------------
    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        check_ttl(ttl_s, "counter")
        return await self._run(self._incr_sync, key, amount, ttl_s)

    def _incr_sync(self, key: str, amount: int, ttl_s: float | None) -> int:
        now = time.time()
        params = {"key": key, "amount": amount, "expires": None if ttl_s is None else now + ttl_s, "now": now}
        value: int = self._db.execute(INCR, params).fetchone()[0]
        self._incrs += 1
        if self._incrs % 1000 == 0:  # forget expired windows now and then (amortised: ~1 µs per call)
            self._db.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
        return value

    # -- router statistics --------------------------------------------------------------------
    async def record_routing_outcome(
        self,
        router: str,
        *,
        domain: str,
        model_name: str,
        score: float,
        cost: float,
        latency_ms: float,
        output_tokens: int,
    ) -> None:
        row = _outcome_row(RoutingOutcome(router, domain, model_name, score, cost, latency_ms, output_tokens))
        await self._run(self._fetch, RECORD_OUTCOME, row)

    async def routing_stats(self, router: str) -> list[RoutingStat]:
        rows = await self._read(
            self._fetch,
            "SELECT domain, model_name, n, score_sum, score_sq_sum, cost_sum, latency_ms_sum, output_tokens_sum"
            " FROM routing_stats WHERE router = ? ORDER BY domain, model_name",
            (router,),
        )
        return [
            RoutingStat(
                domain=d,
                model_name=m,
                n=n,
                score_sum=s,
                score_sq_sum=sq,
                cost_sum=c,
                latency_ms_sum=lat,
                output_tokens_sum=tok,
            )
            for d, m, n, s, sq, c, lat, tok in rows
        ]

    # -- API keys -----------------------------------------------------------------------------
    async def create_api_key(self, key: ApiKey) -> ApiKey:
        row = (key.id, key.key_hash, key.user_id, key.model_dump_json())
        try:
            await self._run(self._fetch, "INSERT INTO api_keys VALUES (?, ?, ?, ?)", row)
        except StoreError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise Conflict("an API key with this hash (or id) already exists") from exc
            raise
        return key

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        rows = await self._lookup(self._fetch, "SELECT doc FROM api_keys WHERE key_hash = ?", (key_hash,))
        return ApiKey.model_validate_json(rows[0][0]) if rows else None

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        where, params = ("WHERE user_id = ?", (user_id,)) if user_id is not None else ("", ())
        rows = await self._run(self._fetch, f"SELECT doc FROM api_keys {where} ORDER BY rowid", params)
        return [ApiKey.model_validate_json(row[0]) for row in rows]

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        return await self._run(self._update_api_key_sync, key_id, "revoked_at", utcnow())

    async def touch_api_key(self, key_id: str, when: datetime) -> None:
        with contextlib.suppress(NotFound):
            await self._run(self._update_api_key_sync, key_id, "last_used_at", when)

    def _update_api_key_sync(self, key_id: str, field: str, when: datetime) -> ApiKey:
        with Write(self._db) as db:
            rows = db.execute("SELECT doc FROM api_keys WHERE id = ?", (key_id,)).fetchall()
            if not rows:
                raise NotFound(f"no API key {key_id!r}")
            key = ApiKey.model_validate_json(rows[0][0])
            if field == "last_used_at" or key.revoked_at is None:
                setattr(key, field, when)
                if field == "revoked_at":
                    key.updated_at = when
                db.execute("UPDATE api_keys SET doc = ? WHERE id = ?", (key.model_dump_json(), key_id))
            return key

    async def ping(self) -> None:
        """Check that the file opened is still the database's, and read it afresh (a read neither takes nor waits for
        the write lock another process may hold). A file deleted or replaced since it was opened would take writes
        that the next process never sees: `StoreUnavailable`; a file that is no longer a database: `StoreError`."""
        if self._file_id is not None:
            if _file_identity(self.path) != self._file_id:
                raise StoreUnavailable(
                    f"the SQLite database {self.path!r} was deleted or replaced since this store opened it: "
                    "its writes would be lost (restore the file, or restart the process to open the new one)"
                )
            await self._read(_read_afresh, self.path)
            return
        await self._lookup(self._fetch, "SELECT 1 FROM sessions LIMIT 1", ())

    # -- analytics ----------------------------------------------------------------------------
    async def session_analytics(self, session_id: str) -> Analytics:
        return await self._read(self._session_analytics_sync, session_id)

    def _session_analytics_sync(self, session_id: str) -> Analytics:
        with Read(self._db) as db:
            if not self._exists("sessions", session_id):
                raise NotFound(f"no session {session_id!r}")
            (threads,) = db.execute("SELECT COUNT(*) FROM threads WHERE session_id = ?", (session_id,)).fetchone()
            return _analytics.scope_analytics(db, "session", session_id, 1, threads)

    async def user_analytics(self, user_id: str) -> Analytics:
        return await self._read(self._user_analytics_sync, user_id)

    def _user_analytics_sync(self, user_id: str) -> Analytics:
        with Read(self._db) as db:
            (sessions,) = db.execute("SELECT COUNT(*) FROM sessions WHERE user_id = ?", (user_id,)).fetchone()
            (threads,) = db.execute("SELECT COUNT(*) FROM threads WHERE user_id = ?", (user_id,)).fetchone()
            return _analytics.scope_analytics(db, "user", user_id, sessions, threads)

    async def model_stats(self, model_name: str) -> ModelStats:
        return await self._read(self._model_stats_sync, model_name)

    def _model_stats_sync(self, model_name: str) -> ModelStats:
        with Read(self._db) as db:
            return _analytics.model_stats(db, model_name)

    # -- one call for all of an orchestrator's runs ---------------------------------------------
    _IN_CHUNK = 400
    """Ids per `IN (...)` list: with their other parameters, under SQLite's oldest limit of 999 variables."""

    @fused
    async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
        check_ttl(ttl_s)
        ids = list(dict.fromkeys(orchestration_ids))
        held = await self._run(self._renew_leases_sync, ids, owner, ttl_s) if ids else set()
        for lost in ids:
            if lost not in held:
                self._written.unpin(lost)
        return held

    def _renew_leases_sync(self, ids: list[str], owner: str, ttl_s: float) -> set[str]:
        now = time.time()
        held: set[str] = set()
        for i in range(0, len(ids), self._IN_CHUNK):
            chunk = ids[i : i + self._IN_CHUNK]
            rows = self._db.execute(
                "UPDATE orchestrations SET lease_owner = ?, lease_expires = ?"
                f" WHERE id IN ({','.join('?' * len(chunk))})"
                " AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires <= ?) RETURNING id",
                (owner, now + ttl_s, *chunk, owner, now),
            ).fetchall()
            held.update(oid for (oid,) in rows)
        return held

    @fused
    async def cancel_requests(self, orchestration_ids: Sequence[str]) -> set[str]:
        ids = list(dict.fromkeys(orchestration_ids))
        return await self._read(self._cancel_requests_sync, ids) if ids else set()

    def _cancel_requests_sync(self, ids: list[str]) -> set[str]:
        stop: set[str] = set()
        for i in range(0, len(ids), self._IN_CHUNK):
            chunk = ids[i : i + self._IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT orchestration_id FROM cancel_requests WHERE orchestration_id IN ({marks})"
                " UNION SELECT o.id FROM orchestrations o JOIN sessions s ON s.id = o.session_id"
                f" WHERE o.id IN ({marks}) AND s.status IN ('completed', 'cancelled')",
                (*chunk, *chunk),
            ).fetchall()
            stop.update(oid for (oid,) in rows)
        return stop


def _outcome_row(o: RoutingOutcome) -> tuple[Any, ...]:
    return (o.router, o.domain, o.model_name, o.score, o.score * o.score, o.cost, o.latency_ms, o.output_tokens)
