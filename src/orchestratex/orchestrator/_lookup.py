"""Reading the session or thread a run names by id, saying so when the id is one of another kind of record: `run`
takes a `session` and a `thread`, and an `Orchestration` carries both ids beside its own, so they are easily mixed up
(`run(..., session=result.orchestration.thread_id)` said only "no session '…'")."""

from __future__ import annotations

from ..exceptions import NotFound
from ..records import Session, Thread
from ..stores import Store

__all__ = ["read_session", "read_thread"]

_SESSION_HINT = {
    "thread": "it is a thread's id: pass it as thread=… (a run on a thread continues it, in its session)",
    "orchestration": "it is an orchestration's id: its session's is orchestration.session_id",
}
_THREAD_HINT = {
    "session": "it is a session's id: pass it as session=… (a run given only a session starts a thread of its own)",
    "orchestration": "it is an orchestration's id: its thread's is orchestration.thread_id",
}


async def read_session(store: Store, session_id: str) -> Session:
    """`store.get_session(session_id)`; its `NotFound` says when the id is a thread's or an orchestration's."""
    try:
        return await store.get_session(session_id)
    except NotFound:
        kind = await _kind_of(store, session_id, ("thread", "orchestration"))
        if kind is None:
            raise
        raise NotFound(f"no session {session_id!r}: {_SESSION_HINT[kind]}") from None


async def read_thread(store: Store, thread_id: str) -> Thread:
    """`store.get_thread(thread_id)`; its `NotFound` says when the id is a session's or an orchestration's."""
    try:
        return await store.get_thread(thread_id)
    except NotFound:
        kind = await _kind_of(store, thread_id, ("session", "orchestration"))
        if kind is None:
            raise
        raise NotFound(f"no thread {thread_id!r}: {_THREAD_HINT[kind]}") from None


async def _kind_of(store: Store, ident: str, kinds: tuple[str, ...]) -> str | None:
    """Which of `kinds` of record `ident` is the id of, if any (a store that fails to say is taken as none)."""
    reads = {"session": store.get_session, "thread": store.get_thread, "orchestration": store.get_orchestration}
    for kind in kinds:
        try:
            await reads[kind](ident)
        except Exception:  # (NotFound, or a store fault: the caller's NotFound stands as it was)
            continue
        return kind
    return None
