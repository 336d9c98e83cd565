"""`Idempotency-Key` on `POST /api/orchestration/start`: a start sent again (its 202 lost to a timeout or a dropped
connection) answers the orchestration its first attempt stored, instead of starting a second one, billed again.

The store holds the key: an orchestration started with one has an id derived from its user and the key
(`keyed_id`), so a second start with the key finds it, and two sent at once (to one server or to two sharing the
store) store one orchestration: the store refuses the second id as it refuses any existing id (`Conflict`), and that
start answers the first one's. Nothing is kept beside the orchestration: the key holds as long as it does."""

from __future__ import annotations

import hashlib

from fastapi import Request

from ..exceptions import Conflict, NotFound
from ..orchestrator import Orchestrator
from ..orchestrator._checks import preferred_names
from ..orchestrator._plan import start_settings
from ..records import Orchestration, Session, Thread
from ._errors import ApiError
from ._schemas import OrchestrationStart

__all__ = ["HEADER", "IDEMPOTENCY_PARAMETER", "REPLAYED", "check_same", "idempotency_key", "keyed_id", "started_before"]

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
"""The answer header (`true`) of a start answered with the orchestration an earlier one stored with its key."""
_LONGEST = 255
IDEMPOTENCY_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": _LONGEST, "pattern": "^[!-~]+$"},
    "description": "A key of your own (a UUID, say), new for each orchestration: the same start sent again with it"
    " answers the orchestration the first one stored instead of starting another.",
}
"""The header in the OpenAPI schema of the start."""


def idempotency_key(request: Request) -> str | None:
    """The request's `Idempotency-Key`, or None without one; 422 for one given twice, empty, longer than 255
    characters, or holding other than printable ASCII (a space included)."""
    given = request.headers.getlist(HEADER)
    if not given:
        return None
    if len(given) > 1:
        raise _invalid("given more than once: give it once")
    key = given[0]
    if not key or len(key) > _LONGEST or not all("!" <= ch <= "~" for ch in key):
        raise _invalid(
            f"must be 1 to {_LONGEST} printable ASCII characters without spaces (a UUID, say), not"
            f" {_shown(key)} ({len(key)} characters)"
        )
    return key


def _shown(key: str) -> str:
    return repr(key if len(key) <= 40 else key[:40] + "…")


def _invalid(message: str) -> ApiError:
    detail = f"{HEADER}: {message}"
    return ApiError(422, detail, errors=[{"loc": ["header", HEADER], "msg": message, "type": "value_error"}])


def keyed_id(user_id: str, key: str) -> str:
    """The id of the orchestration user `user_id` starts with `key`: 24 hex digits, as every id (not time-ordered)."""
    return hashlib.sha256(f"{user_id}\0{key}".encode()).hexdigest()[:24]


async def started_before(orchestrator: Orchestrator, user_id: str, key: str) -> Orchestration | None:
    """The orchestration user `user_id` started with `key`, or None (one store read)."""
    try:
        doc = await orchestrator.store.get_orchestration(keyed_id(user_id, key))
    except NotFound:
        return None
    return doc if doc.user_id == user_id else None


def check_same(
    orchestrator: Orchestrator, earlier: Orchestration, body: OrchestrationStart, thread: Thread, session: Session
) -> None:
    """`Conflict` unless `body` starts what `earlier` (stored with the same key) is: the same thread, prompt and
    settings, each of the start's settings (`StartSettings`) resolved as the start resolves it (`start_settings`: an
    unset one is the session's, or the server's default)."""
    given = body.settings.model_dump()
    if given["preferred_models"] is not None:
        given["preferred_models"] = preferred_names(orchestrator.catalog, given["preferred_models"])
    asked = start_settings(orchestrator, session, **given)
    prompt = body.prompt if body.prompt is not None else thread.original_prompt
    same = (("thread_id", body.thread_id), ("prompt", prompt))
    differ = [name for name, value in same if value != getattr(earlier, name)]
    differ += [f"settings.{name}" for name in given if getattr(asked, name) != getattr(earlier.settings, name)]
    if differ:
        raise Conflict(
            f"{HEADER} was already used for another start, orchestration {earlier.id} ({earlier.status}), whose"
            f" {', '.join(differ)} differ from this request's: send a new key for a new orchestration, or this"
            " request's body as it was first sent"
        )
