"""Loading a record the caller may see: anything else is `NotFound`, exactly as a missing record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from .._ids import is_object_id
from ..exceptions import NotFound
from ..records import Orchestration, Session, Thread
from ._app import ServerState
from ._auth import USER_LIMIT_DEFERRED, Principal, ensure_owner
from ._errors import quoted

__all__ = ["id_rule", "load_orchestration", "load_session", "load_thread", "load_to_stop"]

_T = TypeVar("_T")


def id_rule(ident: str, also: str = "") -> str:
    """Why `ident` (not an id) names nothing, for its 404: what ids are; for one in capitals (`6B14A3FD…`, read
    from a log or a tool that prints hexadecimal so), that they are written in lowercase, and for one with white space
    around it (copied with a line's end), that it has none; then how it is written."""
    if is_object_id(ident.lower()):
        return f"(ids are 24 hexadecimal digits in lowercase{also}: {ident.lower()!r})"
    if ident != ident.strip() and is_object_id(ident.strip().lower()):  # (copied with a space or a line's end)
        return f"(ids are 24 hexadecimal digits, with no white space around them{also}: {ident.strip().lower()!r})"
    return f"(ids are 24 hexadecimal digits{also})"


def _check_id(kind: str, ident: str) -> None:
    if not is_object_id(ident):
        raise NotFound(f"no {kind} {quoted(ident)} {id_rule(ident)}")


async def load_session(state: ServerState, principal: Principal, session_id: str) -> Session:
    _check_id("session", session_id)
    try:
        session = await state.store.get_session(session_id)
        ensure_owner(principal, session.user_id, "session", session_id)
    except NotFound:
        raise await _not_found(state, principal, "session", session_id) from None
    return session


async def load_thread(state: ServerState, principal: Principal, thread_id: str) -> Thread:
    _check_id("thread", thread_id)
    try:
        thread = await state.store.get_thread(thread_id)
        ensure_owner(principal, thread.user_id, "thread", thread_id)
    except NotFound:
        raise await _not_found(state, principal, "thread", thread_id) from None
    return thread


async def load_orchestration(state: ServerState, principal: Principal, orchestration_id: str) -> Orchestration:
    _check_id("orchestration", orchestration_id)
    try:
        doc = await state.store.get_orchestration(orchestration_id)
        ensure_owner(principal, doc.user_id, "orchestration", orchestration_id)
    except NotFound:
        raise await _not_found(state, principal, "orchestration", orchestration_id) from None
    return doc


_READ_AT = {
    "session": "GET /api/sessions/{}",
    "thread": "GET /api/threads/{}",
    "orchestration": "GET /api/orchestration/status/{}",
}
"""Where a record of each kind is read."""


async def _not_found(state: ServerState, principal: Principal, kind: str, ident: str) -> NotFound:
    """The 404 for `ident`, no `kind` the caller may see. When it is the id of a record of another kind that the
    caller may see (a thread's id where its orchestration's goes: `start` takes the one and answers the other), the
    answer says so; else it is the same, word for word, for a record that does not exist and for another user's."""
    reads: dict[str, Callable[[str], Awaitable[Session | Thread | Orchestration]]] = {
        "session": state.store.get_session,
        "thread": state.store.get_thread,
        "orchestration": state.store.get_orchestration,
    }
    for other, read in reads.items():
        if other == kind:
            continue
        try:
            record = await read(ident)
        except NotFound:
            continue
        if principal.may_see(record.user_id):
            where = _READ_AT[other].format(ident)
            article = "an" if other == "orchestration" else "a"
            return NotFound(f"no {kind} {ident!r}: it is the id of {article} {other} ({where})")
        break  # (another user's: said no more of than a missing record)
    return NotFound(f"no {kind} {ident!r}")


async def load_to_stop(
    state: ServerState, principal: Principal, scope: Mapping[str, object], load: Callable[[], Awaitable[_T]]
) -> tuple[_T, bool]:
    """`load()` the record a request that may stop spending names (a run to cancel, a session to end), and whether
    the middleware left refusing it for the user's rate to the route (`USER_LIMIT_DEFERRED`, for
    `RateLimiter.hit_stop`). A record not found stops nothing: it is refused past the user's limit, as any request."""
    deferred = bool(scope.get(USER_LIMIT_DEFERRED))
    try:
        return await load(), deferred
    except NotFound:
        if deferred:
            state.rate.check_user(principal.user_id)
        raise
