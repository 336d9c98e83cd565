"""Stored orchestrations this version cannot read (one written by a newer version with a status it does not know,
one edited by hand, one an older version stored with a `null` where a number goes).

Reading one by its id raises a `StoreError` saying which run and what is wrong with it, where it was pydantic's bare
`ValidationError` (a traceback from `orchestratex runs show`). A listing does not fail for it: it lists, in its
place, a stand-in that says so (`status` "failed", `stop_reason` "error", `error` the reason; the fields that could
be read kept) and logs a WARNING, so the run keeps its position (pages, offsets and counts stay right) and every
other run can still be listed (one such run made every listing that included it fail: `runs list`, the server's
listings, the WebSocket's end-of-session check).

An event this version cannot read (a newer version's event type) is left out of `list_events`, with a WARNING: the
session's other events are still listed, replayed on the WebSocket and shown by `runs show` (one such event made them
all fail).

A session or orchestration an earlier version stored with a `cost_limit` above `MAX_AMOUNT` (versions before the bound
took any limit the store could hold, up to about $9.2 million) is read with that limit, as stored (`stored_session`):
it failed with pydantic's bare `ValidationError`, and with it every read of the session, its listing and every run
in it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from ..events import EVENT_ADAPTER, Event
from ..exceptions import StoreError
from ..records import Orchestration, Session
from ..usage import MAX_AMOUNT, PICO

__all__ = ["listed_events", "listed_orchestrations", "read_orchestration", "stored_orchestration", "stored_session"]

logger = logging.getLogger("orchestratex.stores")

_M = TypeVar("_M", Session, Orchestration)

Raw = str | bytes | Mapping[str, Any]
"""A stored orchestration: its JSON (SQLite, memory), or its document as a dict with a str `_id` (MongoDB)."""

_told: OrderedDict[object, None] = OrderedDict()
"""What was already logged (an orchestration's id, an event's session and seq), the most recent 1,024: a WebSocket's
poll or a watcher reads the same unreadable event again every fraction of a second, and logged a WARNING each time."""


_telling = threading.Lock()  # (a SQLite store reads in threads of its own)


def _first_time(key: object) -> bool:
    with _telling:
        if key in _told:
            _told.move_to_end(key)
            return False
        _told[key] = None
        if len(_told) > 1024:
            _told.popitem(last=False)
        return True


_REQUIRED_TEXT = ("thread_id", "session_id", "user_id", "prompt")


def _validate(raw: Raw) -> Orchestration:
    try:
        if isinstance(raw, str | bytes):
            return Orchestration.model_validate_json(raw)
        return Orchestration.model_validate(raw)
    except ValidationError as exc:
        return _with_stored_limits(Orchestration, raw, exc)


_STORABLE = (2**63 - 1) / PICO
"""The most dollars a store's 64-bit pico-dollar columns hold: the bound of a cost limit before `MAX_AMOUNT`."""


def stored_orchestration(raw: Raw, exc: ValidationError) -> Orchestration:
    """`stored_session` for an orchestration (its own `settings.cost_limit`)."""
    return _with_stored_limits(Orchestration, raw, exc)


def stored_session(raw: Raw, exc: ValidationError) -> Session:
    """The session stored as `raw`, which failed to validate with `exc`: read with a cost limit above `MAX_AMOUNT` an
    earlier version stored; `exc` raised again for anything else."""
    return _with_stored_limits(Session, raw, exc)


def _with_stored_limits(model: type[_M], raw: Raw, exc: ValidationError) -> _M:
    """`raw` read as `model`, a `cost_limit` (of `settings`) above `MAX_AMOUNT` that an earlier version stored kept as
    it is (it is under the stores' bound, so budgets count it exactly); `exc` raised again for any other error."""
    fields = _fields(raw)
    settings = fields.get("settings")
    limit = settings.get("cost_limit") if isinstance(settings, dict) else None
    errors = exc.errors()
    if not (
        isinstance(settings, dict)
        and isinstance(limit, int | float)
        and MAX_AMOUNT < limit <= _STORABLE
        and all(err["loc"] == ("settings", "cost_limit") for err in errors)
    ):
        raise exc
    doc = model.model_validate({**fields, "settings": {**settings, "cost_limit": None}})
    doc.settings.cost_limit = float(limit)
    return doc


def _fields(raw: Raw) -> dict[str, Any]:
    if not isinstance(raw, str | bytes):
        return dict(raw)
    try:
        fields = json.loads(raw)
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}


def _problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    found = f" (stored: {err['input']!r:.60})" if "input" in err and not isinstance(err["input"], dict | list) else ""
    more = len(exc.errors()) - 1
    said = f"{err['msg']}{found}{f'; and {more} more' if more else ''}"
    return f"{where}: {said}" if where else said


def _reason(oid: object, exc: ValidationError) -> str:
    from .. import __version__

    return (
        f"orchestration {oid} is stored in a form this version of OrchestrateX ({__version__}) cannot read (written"
        f" by another version, or edited by hand): {_problem(exc)}"
    )


def read_orchestration(raw: Raw) -> Orchestration:
    """The orchestration stored as `raw`; a `StoreError` saying what is wrong when this version cannot read it."""
    try:
        return _validate(raw)
    except ValidationError as exc:
        fields = _fields(raw)
        raise StoreError(_reason(fields.get("_id") or fields.get("id"), exc)) from None


def listed_orchestrations(raws: Iterable[Raw]) -> list[Orchestration]:
    """The orchestrations stored as `raws`, in order; one this version cannot read is a stand-in saying so (logged)."""
    listed = []
    for raw in raws:
        try:
            listed.append(_validate(raw))
        except ValidationError as exc:
            listed.append(_stand_in(raw, exc))
    return listed


def _stand_in(raw: Raw, exc: ValidationError) -> Orchestration:
    fields = _fields(raw)
    oid = fields.pop("_id", None) or fields.pop("id", None)
    reason = _reason(oid, exc)
    if _first_time(("orchestration", oid)):
        logger.warning("%s; it is listed as failed, with that error", reason)
    for err in exc.errors():  # drop what cannot be read, keep the rest (ids, prompt, times, costs)
        if err["loc"]:
            fields.pop(str(err["loc"][0]), None)
    for name in _REQUIRED_TEXT:
        if not isinstance(fields.get(name), str):
            fields[name] = ""
    fields.update(_id=str(oid), status="failed", stop_reason="error", error=reason)
    try:
        return Orchestration.model_validate(fields)
    except ValidationError:  # (a field that failed only beside another: keep the ids alone)
        return Orchestration.model_validate(
            {name: fields[name] for name in (*_REQUIRED_TEXT, "_id", "status", "error")}
        )


def listed_events(raws: Iterable[Raw]) -> list[Event]:
    """The events stored as `raws`, in order, leaving out (with a WARNING) one this version cannot read."""
    listed = []
    for raw in raws:
        try:
            listed.append(
                EVENT_ADAPTER.validate_json(raw) if isinstance(raw, str | bytes) else EVENT_ADAPTER.validate_python(raw)
            )
        except ValidationError as exc:
            fields = _fields(raw)
            if not _first_time(("event", fields.get("session_id"), fields.get("seq"))):
                continue
            logger.warning(
                "event %s of session %s (%r) is stored in a form this version of OrchestrateX cannot read (written by"
                " another version, or edited by hand): %s; it is left out",
                fields.get("seq"),
                fields.get("session_id"),
                fields.get("type"),
                _problem(exc),
            )
    return listed
