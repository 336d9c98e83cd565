"""`Store.start`'s default, composed of the older methods: several writes, so an attempt that fails part way (a
`StoreUnavailable` from its commit, say, which the orchestrator retries) may leave what it wrote before the failure.
Called again with the same orchestration, thread and events, it recognises those writes as its own and completes
the start, instead of answering `Conflict` for its own thread or orchestration."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..events import Event
from ..exceptions import Conflict
from ..records import Orchestration, Thread

if TYPE_CHECKING:
    from ._base import Started, Store

__all__ = ["composed_start"]

_logger = logging.getLogger("orchestratex.stores")


async def composed_start(
    store: Store,
    orchestration: Orchestration,
    thread: Thread | None,
    owner: str,
    ttl_s: float,
    events: Sequence[Event],
    reserve: float,
) -> Started:
    """See `Store.start`: `create_thread`, `create_orchestration`, `claim`, `commit` (of the events), `reserve_budget`
    and `get_session`, completing what an earlier attempt of the same start wrote (see the module docstring)."""
    from ._base import Started
    from .checks import check_start

    check_start(orchestration, thread, ttl_s, events, reserve)
    oid, session_id = orchestration.id, orchestration.session_id
    if thread is not None:
        try:
            await store.create_thread(thread)
        except Conflict:
            if not _same_thread(await store.get_thread(thread.id), thread):
                raise
    try:
        await store.create_orchestration(orchestration)
    except Conflict:
        await _started_before(store, orchestration, owner, ttl_s, events)
    else:
        try:
            claimed = await store.claim(oid, owner, ttl_s)
        except BaseException:  # (`StoreUnavailable`: the orchestrator retries, and its retry finds the run stored)
            _unclaimed(oid, owner)
            raise
        if not claimed:
            raise Conflict(f"orchestration {oid} is being run by another process") from None
        if events:
            await store.commit(orchestration, events, owner=owner)
    granted = True
    if reserve:
        try:
            granted = await store.reserve_budget(session_id, oid, reserve)
        except Exception as exc:  # the start stands: its caller reserves again the usual way
            _logger.warning("reserving with the start of %s failed: %s", oid, exc, extra={"orchestration_id": oid})
            granted = False
    return Started(await store.get_session(session_id), granted)


async def _started_before(
    store: Store, orchestration: Orchestration, owner: str, ttl_s: float, events: Sequence[Event]
) -> None:
    """The orchestration exists: complete the start when an earlier attempt of this one created it (it is the same
    run, and `owner` holds its lease), else raise `Conflict` having written nothing."""
    oid = orchestration.id
    exists = Conflict(f"orchestration {oid!r} already exists")
    if not _same_run(await store.get_orchestration(oid), orchestration):
        raise exists
    landed = await store.list_events(orchestration.session_id, orchestration_id=oid, limit=len(events) + 1)
    if events and [e.type for e in landed] == [e.type for e in events]:  # its commit was written, then it failed
        if not await store.claim(oid, owner, ttl_s):
            raise Conflict(f"orchestration {oid} is being run by another process")
        for event, stored in zip(events, landed, strict=True):
            event.seq = stored.seq
    elif landed:
        raise exists
    elif _UNCLAIMED.pop((oid, owner), False):  # the earlier attempt created it, then failed at its claim
        if not await store.claim(oid, owner, ttl_s):  # (another process took it meanwhile, to resume it)
            raise Conflict(f"orchestration {oid} is being run by another process")
        if events:
            await store.commit(orchestration, events, owner=owner)
    else:
        try:  # a commit fenced by `owner` applies only if the earlier attempt took the lease; else it writes nothing
            await store.commit(orchestration, events, owner=owner)
        except Conflict:
            raise exists from None
    # what the earlier attempt may have reserved before it failed (reserved again below): held twice otherwise
    await store.release_reservations(orchestration.session_id, oid)


_UNCLAIMED: dict[tuple[str, str], bool] = {}
"""(orchestration id, owner) of the starts that created their orchestration and then failed at its claim: a
retry takes such a run for its own and claims it (the store cannot tell it from one created by
`create_orchestration`, which a start refuses). The oldest are dropped past `_UNCLAIMED_KEPT`."""

_UNCLAIMED_KEPT = 1024


def _unclaimed(oid: str, owner: str) -> None:
    _UNCLAIMED[oid, owner] = True
    while len(_UNCLAIMED) > _UNCLAIMED_KEPT:
        del _UNCLAIMED[next(iter(_UNCLAIMED))]


def _same_thread(stored: Thread, given: Thread) -> bool:
    return (stored.session_id, stored.user_id, stored.original_prompt, stored.created_at) == (
        given.session_id,
        given.user_id,
        given.original_prompt,
        given.created_at,
    )


def _same_run(stored: Orchestration, given: Orchestration) -> bool:
    return (stored.session_id, stored.thread_id, stored.user_id, stored.prompt, stored.created_at) == (
        given.session_id,
        given.thread_id,
        given.user_id,
        given.prompt,
        given.created_at,
    )
