"""Orchestrations: their records, the journaled `commit` (see `_store.py`), `start`, `commit_step`, and the
session budget the runs reserve and release."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from bson import Int64, ObjectId

from orchestratex._ids import utcnow
from orchestratex.events import Event
from orchestratex.exceptions import Conflict, NotFound, StoreError
from orchestratex.records import TERMINAL_ORCHESTRATION_STATUSES, CallRecord, Orchestration, Thread
from orchestratex.stores import RoutingOutcome, Started
from orchestratex.stores.checks import check_orchestration, check_start, check_step

from ._base import CAS_ATTEMPTS, RESUMABLE, MongoBase, expires_in, now_utc
from ._codec import (
    call_doc,
    check_amount,
    check_commit,
    check_key,
    check_page,
    doc_id,
    event_doc,
    from_pico,
    orchestration_fields,
    orchestration_from,
    orchestrations_from,
    thread_doc,
    to_pico,
)
from ._once import KEEP

__all__ = ["Orchestrations"]

logger = logging.getLogger("orchestratex.stores.mongodb")

_Doc = dict[str, Any]
_ALL = 2**62
"""More pico-dollars than any reservation: releasing it frees everything held."""


class Orchestrations(MongoBase):
    """The `Store` methods of orchestrations, their commits and the budget they reserve."""

    # -- orchestrations -----------------------------------------------------------------------
    async def create_orchestration(self, orchestration: Orchestration) -> Orchestration:
        check_key("an orchestration id", orchestration.id)
        check_orchestration(orchestration)
        if not await self._exists(self._c.sessions, orchestration.session_id):
            raise NotFound(f"no session {orchestration.session_id!r}")
        if not await self._exists(self._c.threads, orchestration.thread_id):
            raise NotFound(f"no thread {orchestration.thread_id!r}")
        doc = orchestration_fields(orchestration)
        doc.update(_id=doc_id(orchestration.id), stamp=Int64(0), lease_owner=None, lease_expires=None)
        await self._insert("orchestration", self._c.orchestrations, doc)
        return orchestration

    async def get_orchestration(self, orchestration_id: str) -> Orchestration:
        query = {"_id": doc_id(orchestration_id)}
        doc = await self._one("reading an orchestration", self._c.orchestrations, query)
        if doc is None:
            raise NotFound(f"no orchestration {orchestration_id!r}")
        return orchestration_from(doc)

    async def list_orchestrations(
        self, *, session_id: str | None = None, thread_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Orchestration]:
        check_page(limit, offset)
        query: _Doc = {}
        if session_id is not None:
            query["session_id"] = session_id
        if thread_id is not None:
            query["thread_id"] = thread_id
        docs = await self._find("listing orchestrations", self._c.orchestrations, query, limit=limit, skip=offset)
        return orchestrations_from(docs)

    async def count_active_orchestrations(self, user_id: str) -> int:
        return await self._count(self._c.orchestrations, {"user_id": user_id, "status": {"$in": RESUMABLE}})

    async def commit(
        self,
        orchestration: Orchestration,
        events: Sequence[Event] = (),
        *,
        calls: Sequence[CallRecord] = (),
        spent: float = 0.0,
        released: float = 0.0,
        owner: str | None = None,
    ) -> Sequence[Event]:
        check_commit(orchestration.session_id, events, calls, spent, released)
        check_orchestration(orchestration)
        check_key("an orchestration id", orchestration.id)
        self._c  # noqa: B018 -- fail before changing anything when the store is not open
        oid = orchestration.id
        if owner is not None:  # fencing (checked before the journal: a lease taken over meanwhile is not seen)
            query = {"_id": doc_id(oid)}
            fields = {"lease_owner": 1, "updated_at": 1}
            lease = await self._one("reading a lease", self._c.orchestrations, query, fields)
            if lease is None or lease.get("lease_owner") != owner:
                raise Conflict(f"orchestration {oid} is not leased to {owner!r}: another process runs it")
            wrote = self._wrote.get(oid)
            if wrote is not None and lease.get("updated_at") != wrote:
                # Written by another process since this one last did under a lease it has held since, as far as it
                # knows: the lease lapsed in between (this process paused past its ttl_s) and another took the run
                # over, to its end perhaps; a renewal took the lease back since. The run is the other's now.
                raise Conflict(
                    f"orchestration {oid} was written by another process since {owner!r} last wrote it: its lease"
                    " lapsed meanwhile and another process took the run over"
                )
        self._held_write(oid, None)  # (until this commit is known written)
        orchestration.updated_at = utcnow()
        journal: _Doc = {
            "_id": ObjectId(),
            "session_id": orchestration.session_id,
            "orchestration_id": orchestration.id,
            "at": now_utc(),
            "spent": Int64(to_pico(spent) if spent else 0),
            # an ended run holds nothing: its final commit frees whatever it still has reserved
            "released": Int64(_ALL if orchestration.status in TERMINAL_ORCHESTRATION_STATUSES else to_pico(released)),
            "orchestration": orchestration_fields(orchestration),
            "events": [event_doc(e) for e in events],
            "calls": [call_doc(c) for c in calls],
        }
        if self.transactions:
            first = await self._committer.in_transaction(journal)
        else:
            first = await self._committer.journaled(journal)
        for i, event in enumerate(events):
            event.seq = first + i
        if owner is not None and orchestration.status not in TERMINAL_ORCHESTRATION_STATUSES:
            self._held_write(oid, journal["orchestration"]["updated_at"])
        return events

    async def start(
        self,
        orchestration: Orchestration,
        *,
        thread: Thread | None = None,
        owner: str,
        ttl_s: float,
        events: Sequence[Event] = (),
        reserve: float = 0.0,
    ) -> Started:
        """Up to five round trips (not the default's eight): the session read (which checks it exists), the
        thread's insert, the orchestration's insert with its lease already taken, then the journaled commit
        of `events` and the reservation, concurrently (and the session read again when it was reserved).
        Not one atomic write: should the orchestration's insert fail, the new thread stays, empty (as after
        `create_thread`); a failure after it leaves a leased orchestration, resumed once its lease expires.
        Calling it again after `StoreUnavailable` (as the orchestrator does) completes it: the thread and the
        orchestration a failed attempt inserted are recognised (same session, creation time and, for the
        orchestration, owner) instead of answering `Conflict`, its events are not committed twice, and what it
        reserved is reserved once."""
        check_start(orchestration, thread, ttl_s, events, reserve)
        check_key("an orchestration id", orchestration.id)
        session = await self.get_session(orchestration.session_id)
        # A start that raised `StoreUnavailable` after some of its writes (a later one failed) is called again
        # (the orchestrator retries it): what the first attempt wrote is recognised as its own, not a Conflict.
        if thread is not None:
            await self._insert(
                "thread",
                self._c.threads,
                thread_doc(thread),
                same=("session_id", "user_id", "original_prompt", "created_us"),
            )
        elif not await self._exists(self._c.threads, orchestration.thread_id):
            raise NotFound(f"no thread {orchestration.thread_id!r}")
        doc = orchestration_fields(orchestration)
        lease = expires_in(now_utc(), ttl_s)
        doc.update(_id=doc_id(orchestration.id), stamp=Int64(0), lease_owner=owner, lease_expires=lease)
        ours = ("session_id", "thread_id", "created_us", "lease_owner")
        oid = orchestration.id
        if not await self._insert("orchestration", self._c.orchestrations, doc, same=ours):
            events = await self._started_before(orchestration, owner, ttl_s, events)

        async def reserving() -> bool:
            try:
                return await self.reserve_budget(orchestration.session_id, oid, reserve)
            except Exception as exc:  # the start stands: its caller reserves again the usual way
                logger.warning("reserving with the start of %s failed: %s", oid, exc, extra={"orchestration_id": oid})
                return False

        async def committing() -> None:
            await self.commit(orchestration, events)

        if events and reserve:
            _, granted = await asyncio.gather(committing(), reserving())
        elif events:
            await committing()
            granted = True
        else:
            granted = await reserving() if reserve else True
        if reserve and granted:
            session = await self.get_session(orchestration.session_id)
        self._held_write(oid, orchestration.model_dump(mode="json", include={"updated_at"})["updated_at"])
        return Started(session, granted)

    async def _started_before(
        self, orchestration: Orchestration, owner: str, ttl_s: float, events: Sequence[Event]
    ) -> Sequence[Event]:
        """An earlier attempt of this start inserted the orchestration, leased to `owner`, then raised: take the
        lease again and free what that attempt reserved (reserved again by this one). The events still to commit:
        none when the attempt's commit was written (it moved the run's `stamp` on; they get its `seq` numbers)."""
        oid, session_id = orchestration.id, orchestration.session_id
        if not await self.claim(oid, owner, ttl_s):
            raise Conflict(f"orchestration {oid} is not leased to {owner!r}: another process runs it")
        there = await self._one("reading the orchestration", self._c.orchestrations, {"_id": doc_id(oid)}, {"stamp": 1})
        if there is not None and there.get("stamp"):  # a commit of the run was written
            landed = await self.list_events(session_id, orchestration_id=oid, limit=len(events) + 1)
            if [e.type for e in landed] != [e.type for e in events]:  # (not this start's commit: another's)
                raise Conflict(f"orchestration {oid!r} already exists")
            for event, stored in zip(events, landed, strict=True):
                event.seq = stored.seq
            events = ()
        await self.release_reservations(session_id, oid)
        return events

    async def commit_step(
        self,
        orchestration: Orchestration,
        events: Sequence[Event] = (),
        *,
        calls: Sequence[CallRecord] = (),
        spent: float = 0.0,
        released: float = 0.0,
        owner: str | None = None,
        reserve: float = 0.0,
        outcomes: Sequence[RoutingOutcome] = (),
        release_lease: bool = False,
    ) -> bool:
        """The journaled `commit`, then the reservation, the statistics and the lease release concurrently: one
        round trip of latency after the commit's, not one per part."""
        check_step(orchestration, reserve, owner, release_lease)
        await self.commit(orchestration, events, calls=calls, spent=spent, released=released, owner=owner)
        oid = orchestration.id

        async def reserving() -> bool:
            try:
                return await self.reserve_budget(orchestration.session_id, oid, reserve)
            except Exception as exc:  # the step is committed: its caller reserves again the usual way
                logger.warning("reserving with the commit of %s failed: %s", oid, exc, extra={"orchestration_id": oid})
                return False

        async def recording() -> None:
            try:
                await self._record_outcomes(outcomes)
            except Exception as exc:  # statistics are best effort
                logger.warning(
                    "recording routing outcomes with the commit of %s failed: %s",
                    oid,
                    exc,
                    extra={"orchestration_id": oid},
                )

        async def releasing() -> None:
            try:
                await self.release(oid, owner or "")
            except Exception as exc:  # the lease expires after its ttl
                logger.warning("releasing the lease of %s failed: %s", oid, exc, extra={"orchestration_id": oid})

        granted, *_ = await asyncio.gather(
            reserving() if reserve else _true(),
            recording() if outcomes else _none(),
            releasing() if release_lease else _none(),
        )
        return bool(granted)

    async def _record_outcomes(self, outcomes: Sequence[RoutingOutcome]) -> None:
        """Add `outcomes` to the routers' statistics, concurrently (one round trip of latency)."""
        await asyncio.gather(
            *(
                self.record_routing_outcome(
                    o.router,
                    domain=o.domain,
                    model_name=o.model_name,
                    score=o.score,
                    cost=o.cost,
                    latency_ms=o.latency_ms,
                    output_tokens=o.output_tokens,
                )
                for o in outcomes
            )
        )

    # -- budget -------------------------------------------------------------------------------
    async def reserve_budget(self, session_id: str, orchestration_id: str, amount: float) -> bool:
        """One round trip when it fits. Exactly once despite lost replies (see `_once.py`): the update carries a
        token, records it under `reserve_tokens.<orchestration id>` and skips a session that holds it already;
        when the update matches nothing, one read tells a refusal from our own write retried."""
        check_amount("amount", amount)
        check_key("an orchestration id", orchestration_id)
        pico = Int64(to_pico(amount))
        key = ("reserve", session_id, orchestration_id, int(pico))
        return await self._unresolved.once(key, partial(self._reserve, session_id, orchestration_id, pico))

    async def _reserve(self, session_id: str, orchestration_id: str, pico: Int64, token: ObjectId) -> bool:
        tokens = f"reserve_tokens.{orchestration_id}"
        fits = {"$lte": [{"$add": ["$total_pico", "$reserved_pico", pico]}, "$limit_pico"]}
        query = {"_id": doc_id(session_id), tokens: {"$ne": token}, "$or": [{"limit_pico": None}, {"$expr": fits}]}
        update = {
            "$inc": {"reserved_pico": pico, f"reservations.{orchestration_id}": pico},
            "$push": {tokens: {"$each": [token], "$slice": -KEEP}},
        }
        sessions = self._c.sessions
        done = await self._run(
            "reserving budget", lambda: sessions.find_one_and_update(query, update, projection={"_id": 1})
        )
        if done is not None:
            return True
        doc = await self._one("reading a reservation", sessions, {"_id": doc_id(session_id)}, {tokens: 1})
        if doc is None:
            raise NotFound(f"no session {session_id!r}")
        return token in doc.get("reserve_tokens", {}).get(orchestration_id, [])  # an earlier attempt's, or refused

    async def release_reservations(self, session_id: str, orchestration_id: str) -> float:
        check_key("an orchestration id", orchestration_id)
        sessions, field = self._c.sessions, f"reservations.{orchestration_id}"
        for _ in range(CAS_ATTEMPTS):
            doc = await self._one("reading a reservation", sessions, {"_id": doc_id(session_id)}, {field: 1})
            if doc is None:
                raise NotFound(f"no session {session_id!r}")
            held = int(doc.get("reservations", {}).get(orchestration_id, 0))
            if not held:
                return 0.0
            query = {"_id": doc_id(session_id), field: held}
            unset = {field: "", f"reserve_tokens.{orchestration_id}": ""}
            update = {"$unset": unset, "$inc": {"reserved_pico": Int64(-held)}}
            result = await self._run("releasing a reservation", partial(sessions.update_one, query, update))
            if result.matched_count:
                return from_pico(held)
        raise StoreError(f"the reservation of {orchestration_id!r} kept changing while being released; try again")


async def _true() -> bool:
    return True


async def _none() -> None:
    return None
