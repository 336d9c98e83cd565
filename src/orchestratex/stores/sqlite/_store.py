"""`SQLiteStore`: the embedded default store, one file shared safely by several processes. This module holds its
orchestrations: how a run is written (`start`, `commit_step`, `commit`) and read, and what watches it while it runs
(its lease, cancellation); `SQLiteRecords` the other records, `SQLiteConnections` the connections."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from ..._ids import utcnow
from ...events import Event
from ...exceptions import ConfigurationError, NotFound, UserError
from ...records import CallRecord, Orchestration, Thread
from .._base import RoutingOutcome, Started, fused
from .._unreadable import listed_orchestrations, read_orchestration
from .._url import sqlite_url
from ..checks import (
    check_commit,
    check_ids,
    check_iterations,
    check_orchestration,
    check_page,
    check_start,
    check_step,
    check_ttl,
    to_pico,
)
from ._commit import Step, commit_step, start_step
from ._connections import refused_insert
from ._orchestrations import Parts, WrittenCache, insert_orchestration, read_orchestrations, split
from ._records import SQLiteRecords
from ._rows import INSERT_THREAD, RELEASE_LEASE, Write, call_row, outcome_row, session_from, thread_row
from ._schema import check_path

__all__ = ["SQLiteStore"]

_SYNCHRONOUS = ("normal", "full")


_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


def _unexpanded(path: str) -> str | None:
    """The first environment variable reference left in `path` (`$HOME`, `${DATA}`), when it is one: written with
    braces, or naming a variable that is set (`price$list.db`, with no such variable, is a file's name)."""
    for found in _VARIABLE.finditer(path):
        name = found.group().strip("${}")
        if found.group().startswith("${") or name in os.environ:
            return found.group()
    return None


def _made_there(path: str, name: Callable[[str], str] | None = None, to: str = "to the path above") -> str:
    """What the refusal of the unexpanded `path` adds when the file it names as it is exists: earlier versions took
    such a path as it is, and kept the store (its runs and API keys) in a folder named `~` (or `$HOME`) in the working
    directory, or in a file whose name has the white space around `path`. Told only the new path, an upgraded server
    opened a new, empty store there: every run gone from sight, every client's key refused. `name` writes the file's
    absolute path as the caller takes it (None: it cannot be given, it still holds the variable); `to` says where
    to move it."""
    try:
        literal = os.path.abspath(path)
        if not os.path.isfile(literal):
            return ""
    except (OSError, ValueError):
        return ""
    keep = f"give {name(literal)} to go on using that file, or " if name is not None else ""
    return (
        f". An earlier version, which took it as it is, keeps this store's runs and API keys in {literal!r}: {keep}"
        f"move it (with its -wal file, while no process uses it) {to} first"
    )


def _read_before(path: str) -> str:
    """What the refusal of `sqlite:` + `path` without its `//` adds when the file earlier versions read it as exists
    (they dropped the path's first character: `sqlite:/runs.db` was `runs.db` here, `sqlite:runs.db` was `uns.db`):
    it holds the store's runs and API keys, which one of the URLs offered would have left behind for a new store."""
    try:
        earlier = os.path.abspath(unquote(path)[1:])
        if not unquote(path)[1:] or not os.path.isfile(earlier):
            return ""
    except (OSError, ValueError):
        return ""
    return (
        f". An earlier version read it as the file {earlier!r}, which keeps this store's runs and API keys: give"
        f" {sqlite_url(earlier)} to go on using it"
    )


def _check_expanded(url: str, path: str, query: str) -> None:
    """Refuse a URL path holding what a shell would have expanded, but an env file or a systemd unit leaves as it is
    (a `~`, a `$HOME`): it made a folder named so in the working directory, and kept the runs there."""
    options = f"?{query}" if query else ""
    if path == "~" or path.startswith("~/"):
        raise ConfigurationError(
            f"SQLite URL {url!r}: '~' is not expanded in a URL (it would be a folder named '~' here); give the"
            f" absolute path: {sqlite_url(os.path.expanduser(path))}{options}"
            f"{_made_there(path, lambda literal: sqlite_url(literal) + options)}"
        )
    variable = _unexpanded(path)
    if variable is not None:
        expanded = os.path.expandvars(path)
        fix = (
            f"give the path itself: {sqlite_url(expanded)}{options}"
            if expanded != path
            else "give the path itself (the variable is not set here either)"
        )
        raise ConfigurationError(
            f"SQLite URL {url!r}: environment variables are not expanded in a URL (systemd's Environment= and"
            f" EnvironmentFile=, docker's --env-file leave them as written: {variable!r} would be part of the file's"
            f" path as it is); {fix}{_made_there(path)}"
        )


class SQLiteStore(SQLiteRecords):
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
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, int | float) or not 0 <= busy_timeout <= 3600:
            raise UserError(f"busy_timeout must be between 0 and 3600 seconds, not {busy_timeout!r}")
        if synchronous not in _SYNCHRONOUS:
            raise UserError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
        if isinstance(path, bytes):  # (taken as its repr: a file named "b'runs.db'")
            path = os.fsdecode(path)
        elif not isinstance(
            path, str | os.PathLike
        ):  # (`SQLiteStore(os.environ.get("DB"))`, unset: a database file named `None`)
            raise UserError(
                f"SQLiteStore takes a file's path (a str or a pathlib.Path), not {type(path).__name__}"
                f"{' (leave it out for an in-memory database)' if path is None else ''}"
            )
        if isinstance(path, str) and path[:7].lower() == "sqlite:":  # (a file `sqlite:`, or one in `SQLite:/`)
            raise UserError(
                f"SQLiteStore takes a file path, not a URL ({path!r}): use SQLiteStore.from_url(url) or"
                " open_store(url), or give the path itself"
            )
        if isinstance(path, str) and path != path.strip():  # (`open("db-path.txt").read()`: a file named `runs.db\n`)
            raise UserError(
                f"SQLite database path {path!r} has white space at its start or end (a line read from a file, say):"
                " remove it (a pathlib.Path is taken as it is)"
                f"{_made_there(path, lambda literal: f'pathlib.Path({literal!r})', 'to the name without it')}"
            )
        check_path(str(path))
        if str(path) == "~" or str(path).startswith(("~/", "~" + os.sep)):  # (it made a folder named `~` here)
            raise UserError(
                f"SQLite database path {str(path)!r}: '~' is not expanded (it would be a folder named '~' in the"
                f" working directory); give the path expanded: {os.path.expanduser(path)!r} (os.path.expanduser)"
                f"{_made_there(str(path), repr)}"
            )
        if _unexpanded(os.fspath(path)):  # (a path read from a config file, a `Path` of one: a folder named `$HOME`)
            text = os.fspath(path)
            raise UserError(
                f"SQLite database path {text!r}: {_unexpanded(text)!r} is not expanded (it would be part of the file's"
                f" path as it is); give the path expanded: {os.path.expandvars(text)!r} (os.path.expandvars)"
                f"{_made_there(text)}"
            )
        self.path = str(path)
        """The database file, or `:memory:`."""
        try:  # (a relative path names the file in the working directory of now: `%cd` before the first run moved it)
            self._file = self.path if self.path == ":memory:" else os.path.abspath(self.path)
        except FileNotFoundError:  # (the working directory was deleted: said when the store is opened)
            pass
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous
        """When a commit is durable: `normal`, past a crash of the process; `full`, past a power loss."""
        self._worker = None
        self._writer = None
        self._conn = None
        self._reader = None
        self._rconn = None
        self._lconn = None  # point reads on the event loop's thread (`_lookup`)
        self._local = threading.local()
        self._lookup_lock = threading.Lock()
        self._checkpointer = None
        self._finalizer = None
        self._opened_in = 0
        self._opening = None
        self._opening_guard = threading.Lock()
        self._file_id = None
        self._full = False
        self._unwritable = ""
        self._memory_image = None
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
        if parts.fragment and not parts.netloc:  # (`sqlite:///runs#1.db`: said only "unsupported SQLite URL")
            escaped = url.replace("#", "%23")
            raise ConfigurationError(
                f"SQLite URL {url!r}: a '#' starts a URL's fragment, so it cannot be part of the file's name as it is:"
                f" write it %23 ({escaped})"
            )
        if "=" not in parts.query and any(
            c in parts.query for c in "./"
        ):  # (`sqlite:///what?.db`: "unknown option '.db'")
            escaped = url.replace("?", "%3F")
            raise ConfigurationError(
                f"SQLite URL {url!r}: a '?' starts the URL's options (?synchronous=full), so it cannot be part of the"
                f" file's name as it is: write it %3F ({escaped})"
            )
        if parts.netloc or parts.fragment or not url[len("sqlite:") :].startswith("//"):  # (sqlite:/x.db: which x?)
            raise ConfigurationError(
                f"unsupported SQLite URL {url!r}: use sqlite:///relative.db, sqlite:////absolute/path.db or sqlite://"
                f"{_read_before(parts.path) if not (parts.netloc or parts.fragment or parts.query) else ''}"
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
        if len(options) > 1:  # (given twice, the last one was taken without a word: `normal` after a `full`)
            raise ConfigurationError(f"SQLite URL {url!r} gives synchronous more than once: give it once")
        path = unquote(parts.path)
        if path == "/":  # a file's name left out (an unset variable, say): not silently a database that vanishes
            raise ConfigurationError(
                f"SQLite URL {url!r} names no file: use sqlite:///path.db, or sqlite:// for an in-memory database"
            )
        if path in ("", "/:memory:"):
            return cls(":memory:", synchronous=synchronous)
        _check_expanded(url, path[1:], parts.query)
        return cls(path[1:], synchronous=synchronous)

    def __repr__(self) -> str:
        if self.synchronous == "full":
            return f"SQLiteStore({self.path!r}, synchronous='full')"
        return f"SQLiteStore({self.path!r})"

    # -- orchestrations -----------------------------------------------------------------------
    async def create_orchestration(self, orchestration: Orchestration) -> Orchestration:
        check_orchestration(orchestration)
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
            raise refused_insert("orchestration", parts.id, exc) from exc

    async def get_orchestration(self, orchestration_id: str) -> Orchestration:
        docs = await self._lookup(self._read_orchestrations_sync, "WHERE id = ?", (orchestration_id,), "")
        if not docs:
            raise NotFound(f"no orchestration {orchestration_id!r}")
        return read_orchestration(docs[0])

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
        return listed_orchestrations(docs)

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
        check_orchestration(orchestration, ())  # (its changed iterations: by `_committed`, once it knows them)
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
        before = self._written.get(orchestration.id)
        parts = split(orchestration, before)
        steps = parts.steps
        # (the rest of the document is checked by `commit` and `commit_step`, before `updated_at` is set)
        if before is None:
            check_iterations(orchestration, range(len(steps)))
        else:  # only the iterations this commit writes (a NaN is written `null`: the run could not be read back)
            old = before[2]
            check_iterations(orchestration, [i for i in range(len(steps)) if i >= len(old) or steps[i] != old[i]])
        previous = [e.seq for e in events]
        try:
            step = Step(
                parts,
                before,
                events,
                [call_row(c) for c in calls] if calls else None,
                to_pico(spent) if spent else 0,
                to_pico(released) if released else 0,
                owner,
                reserve,
                outcome_rows,
                release_lease,
                owner is not None and self._written.held(parts.id),
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
        # (a `pending` one, `prepare`'s, is claimed before any commit of it: kept only in the bounded cache, not for
        # as long as a lease it may never renew, one per run an application prepares for a worker to drive)
        self._written.put(parts.id, parts, 0, leased=orchestration.status != "pending")
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
                self._insert("thread", INSERT_THREAD, new_thread, cur)
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
        check_orchestration(orchestration, ())  # (its changed iterations: by `_committed`, once it knows them)
        orchestration.updated_at = utcnow()
        return await self._committed(
            orchestration,
            events,
            calls,
            spent,
            released,
            owner,
            to_pico(reserve) if reserve else 0,
            [outcome_row(o) for o in outcomes] if outcomes else None,
            release_lease,
        )

    async def count_active_orchestrations(self, user_id: str) -> int:
        rows = await self._lookup(
            self._fetch,
            "SELECT count(*) FROM orchestrations INDEXED BY ix_orchestrations_user_active"
            " WHERE user_id = ? AND status IN ('pending', 'running')",
            (user_id,),
        )
        count: int = rows[0][0]
        return count

    # -- leases -------------------------------------------------------------------------------
    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        check_ttl(ttl_s)
        claimed = await self._run(self._claim_sync, orchestration_id, owner, ttl_s)
        # Refused: the lease is lost. Taken: its caller reads the run as stored (`drive`, a resumption), so a commit
        # of it is not one of a run this process drove all along (see `_orchestrations.write_orchestration`).
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

    async def expire_leases_of(self, gone: Callable[[str], bool]) -> set[str]:
        # One indexed read of the owners holding leases; a write only for one gone (rare: a process killed).
        rows = await self._read(
            self._fetch,
            "SELECT DISTINCT lease_owner FROM orchestrations INDEXED BY ix_orchestrations_user_active"
            " WHERE status IN ('pending', 'running') AND lease_owner IS NOT NULL AND lease_expires > ?",
            (time.time(),),
        )
        ended = {owner for (owner,) in rows if isinstance(owner, str) and gone(owner)}
        for owner in ended:
            now = time.time()
            await self._run(
                self._fetch,
                "UPDATE orchestrations SET lease_expires = ?"
                " WHERE lease_owner = ? AND status IN ('pending', 'running') AND lease_expires > ?",
                (now, owner, now),
            )
        return ended

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

    # -- one call for all of an orchestrator's runs ---------------------------------------------
    _IN_CHUNK = 400
    """Ids per `IN (...)` list: with their other parameters, under SQLite's oldest limit of 999 variables."""

    @fused
    async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
        check_ids(orchestration_ids)
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
        check_ids(orchestration_ids)
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
