"""The SQLite schema: tables, indexes, pragmas and the schema version (an older database is migrated).

Money is stored as integer pico-dollars (`*_pico` columns), so sums are exact in SQL. Documents are
stored as JSON (`doc`) next to the columns that queries and analytics need; an orchestration is split
into its head (`doc`), its state and one `steps` row per iteration (see `_orchestrations`), so that a
step's commit appends to it instead of rewriting it.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Literal

from ...exceptions import StoreError, UserError
from ...telemetry._logs import PROGRESS
from . import _migrate
from ._errors import code_of

logger = logging.getLogger("orchestratex.stores.sqlite")

__all__ = [
    "MIGRATION_WAIT_MS",
    "SCHEMA_VERSION",
    "check_not_foreign",
    "check_path",
    "connect",
    "create_private",
    "create_schema",
]

SCHEMA_VERSION = 2
"""The version this code writes; `open` migrates an older database (see `_migrate`) and refuses a newer one."""

BUSY_TIMEOUT_MS = 10_000
"""How long a connection waits for another process's write lock before failing."""

MIGRATION_WAIT_MS = 3_600_000
"""How long `open` waits for the write lock of a database of an older schema version, which another process may be
migrating (a migration holds the lock for as long as it takes: minutes for a large database)."""

_TABLES = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    total_pico INTEGER NOT NULL DEFAULT 0,
    reserved_pico INTEGER NOT NULL DEFAULT 0,
    limit_pico INTEGER,
    event_seq INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL,
    granted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_sessions_user ON sessions (user_id, created_at);

CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_threads_session ON threads (session_id, created_at);
CREATE INDEX IF NOT EXISTS ix_threads_user ON threads (user_id);

CREATE TABLE IF NOT EXISTS orchestrations (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    domain TEXT NOT NULL,
    final_score REAL,
    total_pico INTEGER NOT NULL,
    iterations INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lease_owner TEXT,
    lease_expires REAL,
    doc TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '{}',
    rev INTEGER NOT NULL DEFAULT 0,
    overage_pico INTEGER NOT NULL DEFAULT 0
);
-- every orchestration in order (`list_orchestrations()` without a session or thread): a page is read from the index,
-- not by sorting the whole table (with its documents) for each page
CREATE INDEX IF NOT EXISTS ix_orchestrations_created ON orchestrations (created_at);
CREATE INDEX IF NOT EXISTS ix_orchestrations_session ON orchestrations (session_id, created_at);
CREATE INDEX IF NOT EXISTS ix_orchestrations_thread ON orchestrations (thread_id, created_at);
CREATE INDEX IF NOT EXISTS ix_orchestrations_user
    ON orchestrations (user_id, domain, status, total_pico, iterations, final_score);
CREATE INDEX IF NOT EXISTS ix_orchestrations_user_score
    ON orchestrations (user_id, final_score) WHERE final_score IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_orchestrations_session_overage
    ON orchestrations (session_id, overage_pico) WHERE overage_pico > 0;
CREATE INDEX IF NOT EXISTS ix_orchestrations_user_overage
    ON orchestrations (user_id, overage_pico) WHERE overage_pico > 0;
CREATE INDEX IF NOT EXISTS ix_orchestrations_user_active
    ON orchestrations (user_id) WHERE status IN ('pending', 'running');

CREATE TRIGGER IF NOT EXISTS orchestrations_whole_insert BEFORE INSERT ON orchestrations
WHEN instr(NEW.doc, '"iterations":') > 0 BEGIN SELECT RAISE(ABORT, '{older}'); END;
CREATE TRIGGER IF NOT EXISTS orchestrations_whole_update BEFORE UPDATE OF doc ON orchestrations
WHEN instr(NEW.doc, '"iterations":') > 0 BEGIN SELECT RAISE(ABORT, '{older}'); END;

CREATE TABLE IF NOT EXISTS steps (
    orchestration_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (orchestration_id, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    orchestration_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    role TEXT NOT NULL,
    domain TEXT NOT NULL,
    cost_pico INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    score REAL,
    failed INTEGER NOT NULL,
    error TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_calls_user_model ON calls (user_id, model_name, latency_ms);
CREATE INDEX IF NOT EXISTS ix_calls_user_latency ON calls (user_id, latency_ms);
CREATE INDEX IF NOT EXISTS ix_calls_session ON calls (session_id, model_name, latency_ms);
CREATE INDEX IF NOT EXISTS ix_calls_model ON calls (model_name, latency_ms);

CREATE TABLE IF NOT EXISTS call_stats (
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    domain TEXT NOT NULL,
    calls INTEGER NOT NULL,
    generations INTEGER NOT NULL,
    judgements INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    cost_pico INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    score_sum REAL NOT NULL,
    scored INTEGER NOT NULL,
    PRIMARY KEY (scope, scope_id, model_name, domain)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS calls_summarise AFTER INSERT ON calls BEGIN
{summaries}
END;

CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    orchestration_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS reservations (
    session_id TEXT NOT NULL,
    orchestration_id TEXT NOT NULL,
    amount_pico INTEGER NOT NULL,
    PRIMARY KEY (session_id, orchestration_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS cancel_requests (
    orchestration_id TEXT PRIMARY KEY,
    requested_at REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    expires_at REAL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS routing_stats (
    router TEXT NOT NULL,
    domain TEXT NOT NULL,
    model_name TEXT NOT NULL,
    n INTEGER NOT NULL,
    score_sum REAL NOT NULL,
    score_sq_sum REAL NOT NULL,
    cost_sum REAL NOT NULL,
    latency_ms_sum REAL NOT NULL,
    output_tokens_sum INTEGER NOT NULL,
    PRIMARY KEY (router, domain, model_name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
"""


_SUMMARY = """
    INSERT INTO call_stats VALUES (
        '{scope}', {scope_id}, NEW.model_name, {domain}, 1, NEW.role = 'generate', NEW.role = 'judge', NEW.failed,
        NEW.cost_pico, NEW.input_tokens, NEW.output_tokens,
        CASE WHEN NEW.role = 'generate' AND NEW.score IS NOT NULL THEN NEW.score ELSE 0.0 END,
        NEW.role = 'generate' AND NEW.score IS NOT NULL
    ) ON CONFLICT (scope, scope_id, model_name, domain) DO UPDATE SET
        calls = calls + 1, generations = generations + excluded.generations,
        judgements = judgements + excluded.judgements, errors = errors + excluded.errors,
        cost_pico = cost_pico + excluded.cost_pico, input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens, score_sum = score_sum + excluded.score_sum,
        scored = scored + excluded.scored;"""

_TABLES = _TABLES.replace(
    "{summaries}",
    "\n".join(
        _SUMMARY.format(scope=scope, scope_id=scope_id, domain=domain)
        for scope, scope_id, domain in (
            ("user", "NEW.user_id", "''"),
            ("session", "NEW.session_id", "''"),
            ("model", "''", "NEW.domain"),
        )
    ),
)
"""`call_stats` keeps running sums of the calls per (user, model), (session, model) and (model, domain), so
analytics read a few rows instead of aggregating every call; the trigger keeps them in the same transaction."""
_TABLES = _TABLES.replace(
    "{older}", "an older OrchestrateX wrote a whole orchestration to a database of schema version 2: upgrade it"
)
"""The triggers `orchestrations_whole_*` refuse a whole document in `orchestrations.doc` (which holds only the
head, without `iterations`): a process of version 1 still running on a migrated file fails its writes instead
of corrupting the orchestrations."""


def connect(
    database: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS, synchronous: Literal["normal", "full"] = "normal"
) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, with `synchronous` (NORMAL or FULL)."""
    conn = sqlite3.connect(
        database,
        timeout=busy_timeout_ms / 1000,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=256,
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    _enter_wal(conn, busy_timeout_ms)
    conn.execute("PRAGMA synchronous = FULL" if synchronous == "full" else "PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint = 8192")  # a safety net: `Checkpointer` does it in the background
    conn.execute("PRAGMA journal_size_limit = 67108864")
    conn.execute("PRAGMA foreign_keys = OFF")
    # No memory-mapped I/O of the database file: a file changed under a mapping (truncated, write-protected,
    # on a failing disk) kills the process with SIGBUS instead of raising an error. (The WAL index, `-shm`,
    # is always mapped in WAL mode: `Checkpointer` checks it stays writable and logs when it does not.)
    conn.execute("PRAGMA mmap_size = 0")
    return conn


def _enter_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """`PRAGMA journal_mode = WAL`, retried while it is busy, up to the busy timeout.

    Leaving a rollback journal (a new file, or one an older version wrote) takes the file's exclusive lock
    after reading it under a shared one. When two connections do it at once, SQLite answers one of them
    SQLITE_BUSY at once rather than letting both wait for the other (a deadlock): the busy handler is not
    called, so processes opening such a file together would fail. The loser retries once the winner is done.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if code_of(exc) not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def check_path(path: str) -> None:
    """Refuse a database path SQLite would misread (`UserError`): empty (a temporary database, deleted on close), with
    a NUL (`ValueError: embedded null byte` from the first statement), or ending in a separator (a folder's name,
    which became a file of that name)."""
    if path == "":
        raise UserError("a SQLite database path must name a file (an empty one opens a temporary database)")
    if "\x00" in path:
        raise UserError(f"a SQLite database path cannot contain a NUL character: {path!r}")
    if path.endswith(("/", os.sep)):
        raise UserError(f"SQLite database path {path!r} names a folder: add the file's name ({path}runs.db, say)")


_OBJECTS = frozenset(re.findall(r"CREATE (?:TABLE|INDEX|TRIGGER) IF NOT EXISTS (\w+)", _TABLES))
"""Every table, index and trigger `_TABLES` makes."""

_OWN_TABLES = frozenset({"schema_version", "sessions", "threads", "orchestrations", "events"})
"""Tables every version of the store's database has (each made them all in one transaction)."""


def check_not_foreign(path: str) -> None:
    """`StoreError` when the file at `path` is another application's SQLite database (tables, not all of the store's
    own), checked before the store writes anything to it: opening it switched it to WAL and added the
    store's tables to it, or failed with "no such column: user_id" when it had a `sessions` table of its own."""
    try:
        if os.path.getsize(path) == 0:
            return
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
    except (OSError, sqlite3.Error):
        return  # (absent, or unreadable: the store's own open says why)
    try:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            " ORDER BY name"
        ).fetchall()
    except sqlite3.Error:
        return
    finally:
        conn.close()
    names = [name for (name,) in rows]
    if names and not _OWN_TABLES.issubset(names):  # (another application may have a `schema_version` table too)
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        raise StoreError(
            f"cannot open SQLite database {path!r}: it is another application's database (tables {shown}), not an"
            " OrchestrateX store; give the store a file of its own"
        )


def create_private(path: Path) -> None:
    """Create the database file readable and writable by its owner only (0600) if it does not exist, and
    its missing directories 0700 (SQLite gives the `-wal` and `-shm` files the database file's mode). A symbolic link
    to a file not made yet (on a volume mounted there) is followed: SQLite made its target with the umask's mode."""
    try:
        path = path.resolve()
    except RuntimeError:  # a loop of links (Python 3.11, 3.12; later ones return a link still)
        path = Path(os.path.abspath(path))
    if path.is_symlink():  # (SQLite said "unable to open database file", as if passing)
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
    missing = [p for p in path.parents if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _older_version(conn: sqlite3.Connection) -> bool:
    """Whether the database is of an older schema version, read without waiting for any lock (a WAL read): the
    version before a migration that another process may be running."""
    try:
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    except sqlite3.OperationalError:
        return False  # (no such table: a new database; or it cannot be read now: `BEGIN IMMEDIATE` says why)
    return row is not None and row[0] is not None and row[0] < SCHEMA_VERSION


def _main_file(conn: sqlite3.Connection) -> str:
    return next((str(file) for (_, name, file) in conn.execute("PRAGMA database_list") if name == "main"), "?")


def _execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run each complete statement of `script` (inside the caller's transaction, unlike `executescript`)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""


def _complete(conn: sqlite3.Connection) -> bool:
    """Whether the database is at `SCHEMA_VERSION` with every table, index and trigger of `_TABLES`, read without
    taking or waiting for any lock (a WAL read): then opening it writes nothing."""
    try:
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.OperationalError:
        return False  # (no such table: a new database; or it cannot be read now: `BEGIN IMMEDIATE` says why)
    return row is not None and row[0] == SCHEMA_VERSION and _OBJECTS <= names


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table and index if absent, migrating a database of an older schema version (idempotent, and
    safe when several processes open at once: one migrates, in one transaction, the others wait for it and then
    find it done). A database that has them all is left alone, without taking the write lock: opening it (for
    `orchestratex runs list`, say) does not wait for, nor fail on, a lock another process holds."""
    if _complete(conn):
        return
    if _older_version(conn):  # (a migration holds the write lock as long as it takes: 3 s per 10,000 runs)
        logger.warning(
            "SQLite database %s is at an older schema version: migrating it to version %d (or waiting for the"
            " process migrating it), which reads and rewrites every orchestration",
            _main_file(conn),
            SCHEMA_VERSION,
            extra=PROGRESS,
        )
        (busy,) = conn.execute("PRAGMA busy_timeout").fetchone()
        conn.execute(f"PRAGMA busy_timeout = {MIGRATION_WAIT_MS}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(busy)}")
    else:
        conn.execute("BEGIN IMMEDIATE")
    try:
        version: int | None = None
        row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
        if row is not None:
            (version,) = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            if version is not None and version > SCHEMA_VERSION:
                raise StoreError(
                    f"cannot open SQLite database {_main_file(conn)!r}: its schema version {version} is newer than"
                    f" this OrchestrateX understands ({SCHEMA_VERSION}): a newer version wrote it; upgrade orchestratex"
                )
        old = version is not None and version < SCHEMA_VERSION
        if old:
            _migrate.prepare(conn, version)
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        _execute_script(conn, _TABLES)
        if "calls" in tables and "call_stats" not in tables:  # (the first release of version 1)
            _migrate.sum_calls(conn)
        if old:
            _migrate.convert(conn, version)
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        elif version is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # (SQLite ends it itself on some errors, a full disk: a ROLLBACK then hid the error)
            conn.execute("ROLLBACK")
        raise
