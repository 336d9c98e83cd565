"""A commit's SQL: the orchestration's new part, the session's money and event numbers, the reservation, the
calls, the events and the routers' statistics, in the caller's transaction (all of it or none)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..._timestamps import timestamp_text
from ...events import Event
from ...exceptions import NotFound
from ._orchestrations import TEXT, Parts, Written, write_orchestration
from ._rows import INSERT_CALL, RECORD_OUTCOME, START_SESSION, STEP_SESSION, Executor

__all__ = ["Step", "commit_step", "start_step"]

_SET_RESERVATION = (
    "INSERT INTO reservations VALUES (?, ?, ?)"
    " ON CONFLICT (session_id, orchestration_id) DO UPDATE SET amount_pico = excluded.amount_pico"
)
_ADD_RESERVATION = (
    "INSERT INTO reservations VALUES (?, ?, ?)"
    " ON CONFLICT (session_id, orchestration_id) DO UPDATE SET amount_pico = amount_pico + excluded.amount_pico"
)

_INSERT_EVENT = f"INSERT INTO events VALUES (?, ?, ?, {TEXT})"


@dataclass(frozen=True, slots=True)
class Step:
    """One commit's writes, amounts in pico-dollars (see `commit_step`)."""

    parts: Parts
    before: Written | None
    """What this process last wrote of the orchestration (None: rewrite it whole)."""
    events: Sequence[Event]
    call_rows: list[tuple[Any, ...]] | None
    spent: int
    released: int
    owner: str | None
    reserve: int
    outcome_rows: list[tuple[Any, ...]] | None
    release_lease: bool
    held: bool = False
    """Whether `owner` has held the lease since `before` was written, as far as this process knows: then a row that
    moved on since was written by another process that took the run over meanwhile (see `write_orchestration`)."""


def utc_text(timestamp: float) -> str:
    """A POSIX timestamp as the documents write a time (ISO 8601 in UTC, as pydantic writes it)."""
    return timestamp_text(datetime.fromtimestamp(timestamp, UTC))


def commit_step(db: Executor, step: Step) -> tuple[bool, int]:
    """`Store.commit_step` (`commit` when `reserve`, `outcome_rows` and `release_lease` are unset), amounts in
    pico-dollars: whether `reserve` was granted (True when it is 0), and the orchestration row's new revision.

    The orchestration is written first: its `UPDATE` checks `owner`'s lease (`Conflict` before anything else
    is written). A final status releases everything the run holds. The session is updated by one statement
    (`STEP_SESSION`) that also decides the reservation; the reservation row is then read and written at most
    once. `events` get their `seq` numbers (the caller restores them if the transaction does not commit)."""
    parts, events, spent, released, reserve = step.parts, step.events, step.spent, step.released, step.reserve
    orchestration_id, session_id = parts.id, parts.session_id
    rev = write_orchestration(db, parts, step.before, step.owner, step.release_lease, step.held)  # first: the lease
    key = (session_id, orchestration_id)
    if parts.terminal:  # an ended run holds nothing (see Store.commit)
        row = db.execute(
            "DELETE FROM reservations WHERE session_id = ? AND orchestration_id = ? RETURNING amount_pico",
            key,
        ).fetchone()
        held = freed = 0 if row is None else row[0]
    elif released:
        row = db.execute(
            "SELECT amount_pico FROM reservations WHERE session_id = ? AND orchestration_id = ?", key
        ).fetchone()
        held = 0 if row is None else row[0]
        freed = min(held, released)
    else:
        held = freed = 0
    seq_row = db.execute(
        STEP_SESSION,
        {
            "spent": spent,
            "now": utc_text(parts.updated_at) if spent else None,
            "events": len(events),
            "freed": freed,
            "reserve": reserve,
            "session": session_id,
        },
    ).fetchone()
    if seq_row is None:
        raise NotFound(f"no session {session_id!r}")
    granted = bool(seq_row[1])
    if not parts.terminal and (freed or granted):  # the reservation as it is now
        if not released:
            db.execute(_ADD_RESERVATION, (*key, reserve))
        elif amount := held - freed + (reserve if granted else 0):
            db.execute(_SET_RESERVATION, (*key, amount))
        else:
            db.execute("DELETE FROM reservations WHERE session_id = ? AND orchestration_id = ?", key)
    if step.call_rows:
        db.executemany(INSERT_CALL, step.call_rows)
    if events:
        _insert_events(db, session_id, seq_row[0], events)
    if step.outcome_rows:
        db.executemany(RECORD_OUTCOME, step.outcome_rows)
    return granted or not reserve, rev


def start_step(
    db: Executor, session_id: str, orchestration_id: str, events: Sequence[Event], reserve: int
) -> tuple[tuple[Any, ...], bool]:
    """A new orchestration's effect on its session (`Store.start`), in the caller's transaction: `events` get
    their `seq` numbers and are stored, and `reserve` pico-dollars are reserved when the budget allows it.
    Returns the session's row as it leaves it (`doc, total_pico, reserved_pico`: see `session_from`) and
    whether `reserve` was reserved (True when it is 0); `NotFound` (first, having written nothing) when there
    is no such session. One statement reads and updates the session."""
    if not events and not reserve:
        row = db.execute("SELECT doc, total_pico, reserved_pico FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise NotFound(f"no session {session_id!r}")
        return row, True
    seq_row = db.execute(
        START_SESSION,
        {"spent": 0, "now": None, "events": len(events), "freed": 0, "reserve": reserve, "session": session_id},
    ).fetchone()
    if seq_row is None:
        raise NotFound(f"no session {session_id!r}")
    granted = bool(seq_row[1])
    if granted:
        db.execute(_ADD_RESERVATION, (session_id, orchestration_id, reserve))
    if events:
        _insert_events(db, session_id, seq_row[0], events)
    return seq_row[2:], granted or not reserve


def _insert_events(db: Executor, session_id: str, last_seq: int, events: Sequence[Event]) -> None:
    """Store `events`, numbered up to `last_seq` (the session's `event_seq` once they are counted in)."""
    seq = last_seq - len(events)
    event_rows = []
    for event in events:
        seq += 1
        event.seq = seq
        # (the event's own serializer writes what `EVENT_ADAPTER` does, without finding its class in the union first;
        # its UTF-8 is stored as the text it is, see `TEXT`)
        event_rows.append((session_id, seq, event.orchestration_id, event.__pydantic_serializer__.to_json(event)))
    db.executemany(_INSERT_EVENT, event_rows)
