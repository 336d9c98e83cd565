"""The forms a `MemoryStore` keeps its documents in: JSON bytes and tuples of atomic values.

The cyclic garbage collector walks every container object (a pydantic model, its `__dict__`, a
list), so a store that keeps its orchestrations, events and call records as objects makes every
full collection slower as it fills: about 40 tracked objects per finished single-iteration
orchestration. Bytes, strings, numbers and datetimes are not tracked, and CPython stops tracking a
plain `tuple` that holds only such values at the first collection it survives
(`gc.is_tracked(row)` is then False). So:

- an orchestration is an `OrchestrationRow`: its JSON (`Orchestration.model_validate_json` reads it
  back) and the fields that listings, limits and analytics read without decoding it;
- an event is its JSON, kept in an `EventStream` beside its ids (not repeated in its JSON);
- a thread or a call record (atomic fields only) is the tuple of its field values, in field order;
- a session or an API key, few and changing, is kept as an object, copied in and out (`snapshot`).

Serialising is also the copy that isolates the store from its callers: nothing stored is shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice
from operator import attrgetter
from typing import Any, Final, TypeAlias, TypeVar

from pydantic import BaseModel
from pydantic_core import to_json

from .._ids import epoch_seconds
from ..events import EVENT_ADAPTER, Event
from ..records import CallRecord, Orchestration, Thread
from ._unreadable import read_orchestration

__all__ = [
    "C_COST",
    "C_DOMAIN",
    "C_ERROR",
    "C_INPUT_TOKENS",
    "C_LATENCY",
    "C_MODEL",
    "C_OUTPUT_TOKENS",
    "C_ROLE",
    "C_SCORE",
    "O_COST",
    "O_CREATED",
    "O_DOC",
    "O_DOMAIN",
    "O_ITERATIONS",
    "O_OVERAGE",
    "O_SCORE",
    "O_SESSION",
    "O_STATUS",
    "O_THREAD",
    "O_USER",
    "THREAD_CREATED",
    "THREAD_USER",
    "EventStream",
    "OrchestrationRow",
    "Row",
    "call_row",
    "load_orchestration",
    "load_thread",
    "orchestration_row",
    "snapshot",
    "thread_row",
]

_M = TypeVar("_M", bound=BaseModel)
_new = object.__new__
_setattr = object.__setattr__

Row: TypeAlias = tuple[Any, ...]
OrchestrationRow: TypeAlias = tuple[bytes, str, str, str, float, str, str, "float | None", int, float, float]
"""(JSON, user_id, session_id, thread_id, created_at timestamp, status, domain or `general`, final_score,
number of iterations, total_cost, overage_cost), at the positions `O_DOC` … `O_OVERAGE`."""


O_DOC: Final = 0
O_USER: Final = 1
O_SESSION: Final = 2
O_THREAD: Final = 3
O_CREATED: Final = 4
O_STATUS: Final = 5
O_DOMAIN: Final = 6
O_SCORE: Final = 7
O_ITERATIONS: Final = 8
O_COST: Final = 9
O_OVERAGE: Final = 10


def orchestration_row(orchestration: Orchestration) -> OrchestrationRow:
    """`orchestration` as a row: its JSON (about 5 µs for one iteration) and the fields queries read."""
    o = orchestration
    return (
        o.__pydantic_serializer__.to_json(o),  # `model_dump_json` as bytes, without the decode to str
        o.user_id,
        o.session_id,
        o.thread_id,
        epoch_seconds(o.created_at),
        o.status,
        o.domain or "general",
        o.final_score,
        len(o.iterations),
        o.total_cost,
        o.overage_cost,
    )


def load_orchestration(row: OrchestrationRow) -> Orchestration:
    """A new `Orchestration` from its row (about 10 µs for one iteration); a `StoreError` when it cannot be read."""
    return read_orchestration(row[O_DOC])


_THREAD_FIELDS: Final = tuple(Thread.model_fields)
thread_row: Callable[[Thread], Row] = attrgetter(*_THREAD_FIELDS)
"""A thread's field values in field order (every field of a `Thread` is atomic)."""
THREAD_CREATED: Final = _THREAD_FIELDS.index("created_at")
THREAD_USER: Final = _THREAD_FIELDS.index("user_id")


def load_thread(row: Row) -> Thread:
    """A new `Thread` from its row (every field counts as set, as after a JSON round trip)."""
    return Thread.model_construct(set(_THREAD_FIELDS), **dict(zip(_THREAD_FIELDS, row, strict=True)))


_CALL_FIELDS: Final = tuple(CallRecord.model_fields)
call_row: Callable[[CallRecord], Row] = attrgetter(*_CALL_FIELDS)
"""A call record's field values in field order (every field of a `CallRecord` is atomic); `C_MODEL` …
`C_ERROR` are the positions analytics read."""


C_MODEL: Final = _CALL_FIELDS.index("model_name")
C_ROLE: Final = _CALL_FIELDS.index("role")
C_DOMAIN: Final = _CALL_FIELDS.index("domain")
C_COST: Final = _CALL_FIELDS.index("cost")
C_INPUT_TOKENS: Final = _CALL_FIELDS.index("input_tokens")
C_OUTPUT_TOKENS: Final = _CALL_FIELDS.index("output_tokens")
C_LATENCY: Final = _CALL_FIELDS.index("latency_ms")
C_SCORE: Final = _CALL_FIELDS.index("score")
C_ERROR: Final = _CALL_FIELDS.index("error")


_IDS: Final = {"orchestration_id", "thread_id", "session_id"}


class EventStream:
    """A session's events in `seq` order: each one's JSON without its three ids, which are kept beside it (they
    are strings shared with the orchestration: about 120 bytes less per event than in its JSON)."""

    __slots__ = ("docs", "orchestration_ids", "session_ids", "thread_ids")

    def __init__(self) -> None:
        self.docs: list[bytes] = []
        self.orchestration_ids: list[str] = []
        self.thread_ids: list[str] = []
        self.session_ids: list[str] = []

    def extend(self, events: Iterable[Event]) -> None:
        """Number `events` after those stored (their `seq`, set in place: 1, 2, 3, … in the session) and store them."""
        seq = len(self.docs)
        for event in events:
            seq += 1
            event.seq = seq
            self.docs.append(event.__pydantic_serializer__.to_json(event, exclude=_IDS))
            self.orchestration_ids.append(event.orchestration_id)
            self.thread_ids.append(event.thread_id)
            self.session_ids.append(event.session_id)

    def page(self, since: int, limit: int, orchestration_id: str | None) -> list[Event]:
        """New events with `seq > since`, at most `limit`, of `orchestration_id` only when given."""
        if orchestration_id is None:
            found: Iterable[int] = range(since, min(since + limit, len(self.docs)))
        else:
            oids = self.orchestration_ids
            found = islice((i for i in range(since, len(oids)) if oids[i] == orchestration_id), limit)
        return [self._event(i) for i in found]

    def _event(self, i: int) -> Event:
        ids = to_json(
            {
                "orchestration_id": self.orchestration_ids[i],
                "thread_id": self.thread_ids[i],
                "session_id": self.session_ids[i],
            }
        )
        doc = self.docs[i]
        return EVENT_ADAPTER.validate_json(ids[:-1] + b"," + doc[1:] if len(doc) > 2 else ids)


def snapshot(model: _M) -> _M:
    """A copy of `model` that shares nested models but not lists or dicts (about 1 µs; `model_copy` is slower)."""
    new = _new(model.__class__)
    fields = model.__dict__.copy()
    for name, value in fields.items():
        if type(value) is list or type(value) is dict:
            fields[name] = value.copy()
    _setattr(new, "__dict__", fields)
    _setattr(new, "__pydantic_fields_set__", model.__pydantic_fields_set__.copy())
    _setattr(new, "__pydantic_extra__", model.__pydantic_extra__)
    _setattr(new, "__pydantic_private__", model.__pydantic_private__)
    return new
