"""Records to and from MongoDB documents, and exact money as integer pico-dollars.

Each record is stored as its JSON-mode pydantic dump (so datetimes keep their microseconds, which a
BSON date would round to milliseconds) with the record's 24-hex id as an ObjectId `_id`, plus a few
derived fields the store queries and aggregates on:

- `created_us`: `created_at` in integer microseconds since the epoch (the sort key of every listing);
- `*_pico`: US-dollar amounts as `Int64` pico-dollars, so sums are exact (an orchestration's `total_pico` and
  `overage_pico`);
- orchestrations: `domain_key` (the domain or `general`), `n_iterations`, `stamp` (which commit wrote it)
  and the lease (`lease_owner`, `lease_expires`);
- sessions: `total_pico`, `reserved_pico`, `limit_pico`, `event_seq`, `commit_no`, `reservations`
  (pico-dollars held per orchestration), `reserve_tokens` (the last reservations applied per orchestration, see
  `_once.py`) and `pending` (commits in flight, see `_store.py`);
- counters: `value`, `expires_at` and `ops` (the last increments applied: token and resulting value);
- routing statistics: the sums and `tokens` (the last outcomes recorded).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Int64, ObjectId
from pydantic import ValidationError

from orchestratex.events import EVENT_ADAPTER, Event
from orchestratex.exceptions import UserError
from orchestratex.records import ApiKey, CallRecord, Orchestration, Session, Thread
from orchestratex.stores._unreadable import listed_events, listed_orchestrations, read_orchestration, stored_session
from orchestratex.stores.checks import MAX_AMOUNT, check_amount, check_commit, check_page, from_pico, to_pico

__all__ = [
    "MAX_AMOUNT",
    "api_key_doc",
    "api_key_from",
    "call_doc",
    "check_amount",
    "check_commit",
    "check_key",
    "check_page",
    "doc_id",
    "event_doc",
    "event_from",
    "events_from",
    "from_pico",
    "micros",
    "orchestration_fields",
    "orchestration_from",
    "orchestrations_from",
    "session_doc",
    "session_from",
    "thread_doc",
    "thread_from",
    "to_pico",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HEX24 = re.compile(r"[0-9a-f]{24}")
_DEFAULT_DOMAIN = "general"


# -- validation (the same rules and messages as the built-in stores) -----------------------------------


def check_key(name: str, value: str) -> None:
    """`value` becomes part of a field path (`reservations.<id>`): no dots, no leading `$`, not empty."""
    if not value or "." in value or value.startswith("$") or "\x00" in value:
        raise UserError(f"{name} {value!r} cannot be stored: it must be non-empty, without '.' or a leading '$'")


# -- ids and times -----------------------------------------------------------------------------------


def doc_id(value: str) -> ObjectId | str:
    """The `_id` for a record id: an ObjectId for a 24-hex id (every id OrchestrateX makes), else the string (or
    whatever else was given, which no record has: `get_session(None)` is then `NotFound`, as in the other stores,
    where it was a `TypeError` from the pattern)."""
    return ObjectId(value) if isinstance(value, str) and _HEX24.fullmatch(value) else value


def _str_id(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    out["_id"] = str(out["_id"])
    return out


def ago(now: datetime, seconds: float) -> datetime:
    """`now - seconds`, or the earliest datetime when that is before year 1 (a `recover_after_s` of 1e12 or
    `inf`: never presume a commit abandoned; it raised a raw `OverflowError`)."""
    try:
        return now - timedelta(seconds=seconds)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def micros(moment: datetime) -> int:
    """Integer microseconds since the epoch (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


# -- sessions ----------------------------------------------------------------------------------------

SESSION_PROJECTION = {"reservations": 0, "reserve_tokens": 0, "pending": 0}
"""Reading a session as a record never needs its bookkeeping sub-documents."""


def session_doc(session: Session) -> dict[str, Any]:
    limit = session.settings.cost_limit
    doc = session.model_dump(mode="json", exclude={"id", "total_cost", "reserved_cost"})
    doc.update(
        _id=doc_id(session.id),
        created_us=micros(session.created_at),
        total_pico=Int64(to_pico(session.total_cost)),
        reserved_pico=Int64(0),
        limit_pico=None if limit is None else Int64(to_pico(limit)),
        event_seq=Int64(0),
        commit_no=Int64(0),
        reservations={},
        pending={},
    )
    return doc


def session_from(doc: Mapping[str, Any]) -> Session:
    fields = _str_id(doc)
    fields["total_cost"] = from_pico(doc["total_pico"])
    fields["reserved_cost"] = from_pico(doc["reserved_pico"])
    try:
        return Session.model_validate(fields)
    except ValidationError as exc:  # (a cost limit an earlier version stored: read as stored)
        return stored_session(fields, exc)


# -- threads, orchestrations, events, calls, keys ------------------------------------------------------


def thread_doc(thread: Thread) -> dict[str, Any]:
    doc = thread.model_dump(mode="json", exclude={"id"})
    doc.update(_id=doc_id(thread.id), created_us=micros(thread.created_at))
    return doc


def thread_from(doc: Mapping[str, Any]) -> Thread:
    return Thread.model_validate(_str_id(doc))


def orchestration_fields(orchestration: Orchestration) -> dict[str, Any]:
    """Every stored field of an orchestration except `_id`, `stamp` and the lease (a commit `$set`s these)."""
    doc = orchestration.model_dump(mode="json", exclude={"id"})
    doc.update(
        created_us=micros(orchestration.created_at),
        domain_key=orchestration.domain or _DEFAULT_DOMAIN,
        total_pico=Int64(to_pico(orchestration.total_cost)),
        overage_pico=Int64(to_pico(orchestration.overage_cost)),
        n_iterations=len(orchestration.iterations),
    )
    return doc


def orchestration_from(doc: Mapping[str, Any]) -> Orchestration:
    """The orchestration stored as `doc`; a `StoreError` saying what is wrong when this version cannot read it."""
    return read_orchestration(_str_id(doc))


def orchestrations_from(docs: Iterable[Mapping[str, Any]]) -> list[Orchestration]:
    """The orchestrations stored as `docs`, one this version cannot read listed as a stand-in saying so (logged)."""
    return listed_orchestrations(_str_id(doc) for doc in docs)


def event_doc(event: Event) -> dict[str, Any]:
    """The event as stored (its `seq` is set when the commit's numbers are known)."""
    doc: dict[str, Any] = EVENT_ADAPTER.dump_python(event, mode="json")
    return doc


def event_from(doc: Mapping[str, Any]) -> Event:
    fields = dict(doc)
    fields.pop("_id", None)
    return EVENT_ADAPTER.validate_python(fields)


def events_from(docs: Iterable[Mapping[str, Any]]) -> list[Event]:
    """The events stored as `docs`, leaving out (with a WARNING) one this version cannot read (a newer version's)."""
    return listed_events({k: v for k, v in doc.items() if k != "_id"} for doc in docs)


def call_doc(call: CallRecord) -> dict[str, Any]:
    doc = call.model_dump(mode="json")
    doc.update(
        _id=ObjectId(),
        created_us=micros(call.created_at),
        cost_pico=Int64(to_pico(call.cost)),
        failed=call.error is not None,
    )
    return doc


def api_key_doc(key: ApiKey) -> dict[str, Any]:
    doc = key.model_dump(mode="json", exclude={"id"})
    doc.update(_id=doc_id(key.id), created_us=micros(key.created_at))
    return doc


def api_key_from(doc: Mapping[str, Any]) -> ApiKey:
    return ApiKey.model_validate(_str_id(doc))
