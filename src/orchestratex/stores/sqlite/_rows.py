"""The SQL statements of `SQLiteStore`, rows to and from records, and its transaction helpers."""

from __future__ import annotations

import sqlite3
from typing import Any

from pydantic import ValidationError

from ..._ids import epoch_seconds
from ...records import CallRecord, Session, Thread
from .._base import RoutingOutcome
from .._unreadable import stored_session
from ..checks import from_pico, to_pico

__all__ = [
    "INCR",
    "INSERT_CALL",
    "INSERT_SESSION",
    "INSERT_THREAD",
    "RECORD_OUTCOME",
    "RELEASE_LEASE",
    "RESERVE",
    "START_SESSION",
    "STEP_SESSION",
    "Executor",
    "Read",
    "Write",
    "call_row",
    "outcome_row",
    "session_from",
    "thread_row",
]

Executor = sqlite3.Connection | sqlite3.Cursor
"""What runs a write's statements: the writer's connection, or the cursor it keeps (`SQLiteStore._cur`), which saves
creating a cursor per statement (`Connection.execute` does: about 2 µs, and garbage the collector counts)."""

INSERT_CALL = """
INSERT INTO calls (orchestration_id, session_id, user_id, model_name, role, domain, cost_pico, input_tokens,
                   output_tokens, latency_ms, score, failed, error, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_FITS = ":reserve > 0 AND (limit_pico IS NULL OR total_pico + :spent + reserved_pico - :freed + :reserve <= limit_pico)"
STEP_SESSION = f"""
UPDATE sessions SET
    total_pico = total_pico + :spent,
    doc = CASE WHEN :spent > 0 THEN json_set(doc, '$.updated_at', :now) ELSE doc END,
    event_seq = event_seq + :events,
    granted = {_FITS},
    reserved_pico = reserved_pico - :freed + CASE WHEN {_FITS} THEN :reserve ELSE 0 END
WHERE id = :session RETURNING event_seq, granted
"""
# A step's whole effect on its session in one statement: the spend (and so the session's `updated_at`), the
# events' seq numbers, the release of
# `freed` and the reservation of `reserve` for the next call when the budget allows it (every right-hand side
# reads the row as it was, so the check sees the spend and the release, as if they came first). `granted`
# only carries the check's outcome to `RETURNING`.
START_SESSION = STEP_SESSION.replace(
    "RETURNING event_seq, granted", "RETURNING event_seq, granted, doc, total_pico, reserved_pico"
)
"""`STEP_SESSION` returning the session as it leaves it too (`Store.start` answers with it)."""
RESERVE = """
UPDATE sessions SET reserved_pico = reserved_pico + :amount
WHERE id = :session AND (limit_pico IS NULL OR total_pico + reserved_pico + :amount <= limit_pico)
RETURNING 1
"""
RELEASE_LEASE = "UPDATE orchestrations SET lease_owner = NULL, lease_expires = NULL WHERE id = ? AND lease_owner = ?"
INCR = """
INSERT INTO counters (key, value, expires_at) VALUES (:key, :amount, :expires)
ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN counters.expires_at <= :now THEN excluded.value ELSE counters.value + excluded.value END,
    expires_at = CASE WHEN counters.expires_at <= :now THEN excluded.expires_at ELSE counters.expires_at END
WHERE counters.expires_at <= :now OR typeof(counters.value + excluded.value) = 'integer'
RETURNING value
"""
RECORD_OUTCOME = """
INSERT INTO routing_stats VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)
ON CONFLICT (router, domain, model_name) DO UPDATE SET
    n = n + 1, score_sum = score_sum + excluded.score_sum, score_sq_sum = score_sq_sum + excluded.score_sq_sum,
    cost_sum = cost_sum + excluded.cost_sum, latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum,
    output_tokens_sum = output_tokens_sum + excluded.output_tokens_sum
"""


def call_row(c: CallRecord) -> tuple[Any, ...]:
    return (
        c.orchestration_id,
        c.session_id,
        c.user_id,
        c.model_name,
        c.role,
        c.domain,
        to_pico(c.cost),
        c.input_tokens,
        c.output_tokens,
        c.latency_ms,
        c.score,
        c.error is not None,
        c.error,
        epoch_seconds(c.created_at),
    )


def outcome_row(o: RoutingOutcome) -> tuple[Any, ...]:
    """The `routing_stats` row of one outcome (`RECORD_OUTCOME` adds it to the running sums)."""
    return (o.router, o.domain, o.model_name, o.score, o.score * o.score, o.cost, o.latency_ms, o.output_tokens)


INSERT_THREAD = "INSERT INTO threads VALUES (?, ?, ?, ?, CAST(? AS TEXT))"
"""`thread_row`'s statement: its document is given in UTF-8 (see `_orchestrations.TEXT`)."""


def thread_row(t: Thread) -> tuple[Any, ...]:
    """The `threads` row of `t` (its document is `model_dump_json`'s, from the serializer without the wrapper, in UTF-8:
    see `INSERT_THREAD`)."""
    return (t.id, t.session_id, t.user_id, epoch_seconds(t.created_at), t.__pydantic_serializer__.to_json(t))


class Write:
    """`with Write(conn):` runs the block in one `BEGIN IMMEDIATE` transaction (the write lock).

    Inside a transaction already open (a job of the writer's group commit, under its own savepoint) it
    adds nothing: the block is part of that transaction, and its failure rolls back to the savepoint."""

    __slots__ = ("_conn", "_outer")

    _BEGIN = "BEGIN IMMEDIATE"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._outer = False

    def __enter__(self) -> sqlite3.Connection:
        if not self._conn.in_transaction:
            self._conn.execute(self._BEGIN)
            self._outer = True
        return self._conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        if not self._outer:
            return
        try:
            if exc_type is None:
                self._conn.execute("COMMIT")
        finally:
            if self._conn.in_transaction:  # the block or COMMIT itself failed
                self._conn.execute("ROLLBACK")


class Read(Write):
    """`with Read(conn):` one consistent snapshot for several queries."""

    __slots__ = ()

    _BEGIN = "BEGIN"


INSERT_SESSION = (
    "INSERT INTO sessions (id, user_id, status, created_at, total_pico, limit_pico, doc) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def session_from(row: tuple[Any, ...]) -> Session:
    try:
        session = Session.model_validate_json(row[0])
    except ValidationError as exc:  # (a cost limit an earlier version stored: read as stored)
        session = stored_session(row[0], exc)
    session.total_cost = from_pico(row[1])
    session.reserved_cost = from_pico(row[2])
    return session
