"""What several processes sharing one database coordinate with: leases, cancellation requests and counters."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from bson import Int64, ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from orchestratex.exceptions import NotFound, StoreError
from orchestratex.stores.checks import (
    COUNTER_MAX,
    COUNTER_MIN,
    check_ids,
    check_incr,
    check_name,
    check_ttl,
    counter_overflow,
)

from ._base import CAS_ATTEMPTS, RESUMABLE, MongoBase, expires_in, now_utc
from ._codec import check_page, doc_id
from ._connection import ORDER
from ._once import KEEP

__all__ = ["Coordination"]

_Doc = dict[str, Any]


class Coordination(MongoBase):
    """The `Store` methods of leases, cancellation and counters, and their calls for many runs at once."""

    # -- leases -------------------------------------------------------------------------------
    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        # Its caller reads the run as stored (`drive`, a resumption): a commit of it is not one of a run this process
        # drove all along (see `Orchestrations.commit`), unlike one after `renew_leases`.
        self._held_write(orchestration_id, None)
        return await self._claim(orchestration_id, owner, ttl_s)

    async def _claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        check_ttl(ttl_s)
        now = now_utc()
        free = [{"lease_owner": None}, {"lease_owner": owner}, {"lease_expires": {"$lte": now}}]
        query = {"_id": doc_id(orchestration_id), "$or": free}
        update = {"$set": {"lease_owner": owner, "lease_expires": expires_in(now, ttl_s)}}
        orchestrations = self._c.orchestrations
        before = await self._run(
            "claiming a lease",
            lambda: orchestrations.find_one_and_update(query, update, projection={"lease_owner": 1}),
        )
        if before is None:
            if not await self._exists(orchestrations, orchestration_id):
                raise NotFound(f"no orchestration {orchestration_id!r}")
            return False
        if before.get("lease_owner") != owner:  # taken over: finish what the previous owner left half-done
            await self._committer.recover({"orchestration_id": orchestration_id})
        return True

    async def release(self, orchestration_id: str, owner: str) -> None:
        self._held_write(orchestration_id, None)
        query = {"_id": doc_id(orchestration_id), "lease_owner": owner}
        update = {"$set": {"lease_owner": None, "lease_expires": None}}
        await self._run("releasing a lease", lambda: self._c.orchestrations.update_one(query, update))

    async def list_resumable(self, *, limit: int = 100) -> list[str]:
        check_page(limit, 0)
        if limit == 0:
            return []
        await self._committer.recover_unleased()
        query = {
            "status": {"$in": RESUMABLE},
            "$or": [{"lease_owner": None}, {"lease_expires": {"$lte": now_utc()}}],
        }
        orchestrations = self._c.orchestrations

        async def read() -> list[_Doc]:
            return await orchestrations.find(query, {"_id": 1}).sort(ORDER).limit(limit).to_list(limit)

        return [str(doc["_id"]) for doc in await self._run("listing resumable orchestrations", read)]

    async def expire_leases_of(self, gone: Callable[[str], bool]) -> set[str]:
        # One read of the owners holding leases (grouped in the server); a write only for one gone (a process killed).
        held = {"status": {"$in": RESUMABLE}, "lease_owner": {"$ne": None}, "lease_expires": {"$gt": now_utc()}}
        orchestrations = self._c.orchestrations

        async def read() -> list[_Doc]:
            cursor = await orchestrations.aggregate([{"$match": held}, {"$group": {"_id": "$lease_owner"}}])
            return await cursor.to_list(None)

        rows = await self._run("reading the owners of leases", read)
        ended = {row["_id"] for row in rows if isinstance(row["_id"], str) and gone(row["_id"])}
        for owner in ended:
            now = now_utc()
            query = {"status": {"$in": RESUMABLE}, "lease_owner": owner, "lease_expires": {"$gt": now}}
            update = {"$set": {"lease_expires": now}}
            await self._run(
                "expiring the leases of an ended process",
                partial(orchestrations.update_many, query, update),
            )
        return ended

    # -- cancellation -------------------------------------------------------------------------
    async def request_cancel(self, orchestration_id: str) -> bool:
        query = {"_id": doc_id(orchestration_id), "status": {"$in": RESUMABLE}}
        update = {"$set": {"cancel_requested": now_utc()}}
        result = await self._run("requesting a cancellation", lambda: self._c.orchestrations.update_one(query, update))
        if result.matched_count:
            return True
        if not await self._exists(self._c.orchestrations, orchestration_id):
            raise NotFound(f"no orchestration {orchestration_id!r}")
        return False

    async def cancel_requested(self, orchestration_id: str) -> bool:
        doc = await self._one(
            "reading a cancellation request",
            self._c.orchestrations,
            {"_id": doc_id(orchestration_id)},
            {"session_id": 1, "cancel_requested": 1},
        )
        if doc is None:
            return False
        if doc.get("cancel_requested") is not None:
            return True
        session = await self._one(
            "reading a session's status", self._c.sessions, {"_id": doc_id(doc["session_id"])}, {"status": 1}
        )
        return session is not None and session.get("status") in ("completed", "cancelled")

    # -- counters -----------------------------------------------------------------------------
    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        """One round trip, exactly once despite lost replies (see `_once.py`): the pipeline update leaves a
        counter whose `ops` already hold its token as it is, and every attempt returns the value recorded with
        the token (what the first application made it)."""
        check_name("a counter's key", key)
        check_incr(amount)
        check_ttl(ttl_s, "counter")
        value, refused = await self._unresolved.once(
            ("incr", key, amount, ttl_s), partial(self._incr, key, amount, ttl_s)
        )
        if refused:  # (raised here, not in `once`: a refused write is settled, its token not kept for a retry)
            raise counter_overflow(key, value, amount)
        return value

    async def _incr(self, key: str, amount: int, ttl_s: float | None, token: ObjectId) -> tuple[int, bool]:
        """The counter's value after the write, and whether the write was refused (the sum would leave 64 bits;
        MongoDB would make it a double), each recorded with the token."""
        now = now_utc()
        expires = None if ttl_s is None else expires_in(now, ttl_s)
        fresh = {
            "$or": [
                {"$eq": [{"$ifNull": ["$value", None]}, None]},
                {"$and": [{"$ne": [{"$ifNull": ["$expires_at", None]}, None]}, {"$lte": ["$expires_at", now]}]},
            ]
        }
        if amount == 0:
            past: Any = {"$literal": False}
        elif amount > 0:
            past = {"$gt": ["$value", Int64(COUNTER_MAX - amount)]}
        else:
            past = {"$lt": ["$value", Int64(COUNTER_MIN - amount)]}
        refused = {"$cond": [fresh, False, past]}  # (not `$and` with `$not`, which mongomock evaluates wrongly)
        ops = {"$ifNull": ["$ops", []]}
        applied = {"$in": [token, {"$map": {"input": ops, "in": "$$this.t"}}]}
        # (the new entry is built by `$map` over one item: an array literal holding an expression is evaluated
        # by MongoDB, but not by mongomock, which the tests run on)
        entry = {"$map": {"input": [0], "in": {"t": token, "v": "$value", "r": "$refused"}}}
        update: list[_Doc] = [
            {
                "$set": {
                    "value": {
                        "$cond": [
                            applied,
                            "$value",
                            {
                                "$cond": [
                                    fresh,
                                    Int64(amount),
                                    {"$cond": [past, "$value", {"$add": ["$value", Int64(amount)]}]},
                                ]
                            },
                        ]
                    },
                    "refused": {"$cond": [applied, "$refused", refused]},
                    "expires_at": {"$cond": [applied, "$expires_at", {"$cond": [fresh, expires, "$expires_at"]}]},
                }
            },
            {"$set": {"ops": {"$cond": [applied, ops, {"$slice": [{"$concatArrays": [ops, entry]}, -KEEP]}]}}},
        ]
        counters = self._c.counters
        for _ in range(CAS_ATTEMPTS):
            try:
                doc = await self._run(
                    "incrementing a counter",
                    lambda: counters.find_one_and_update(
                        {"_id": key}, update, upsert=True, projection={"ops": 1}, return_document=ReturnDocument.AFTER
                    ),
                )
            except DuplicateKeyError:
                continue  # two processes created it at once: the other won, increment theirs
            assert doc is not None
            op = next(op for op in doc["ops"] if op["t"] == token)
            return int(op["v"]), bool(op.get("r"))
        raise StoreError(f"counter {key!r} could not be incremented; try again")

    # -- one call for all of an orchestrator's runs ---------------------------------------------
    async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
        """One `update_many` extends the leases `owner` still holds (the usual case: one round trip); any
        other id (a lease free, expired and taken, or another's) then goes through `claim`, which rolls
        forward what a previous owner left half-done when it takes a lease over."""
        check_ids(orchestration_ids)
        check_ttl(ttl_s)
        ids = {doc_id(oid): oid for oid in orchestration_ids}
        if not ids:
            return set()
        query = {"_id": {"$in": list(ids)}, "lease_owner": owner}
        update = {"$set": {"lease_expires": expires_in(now_utc(), ttl_s)}}
        orchestrations = self._c.orchestrations
        renewed = await self._run("renewing leases", lambda: orchestrations.update_many(query, update))
        if renewed.matched_count == len(ids):
            return set(ids.values())
        found = await self._run("reading leases", lambda: orchestrations.find(query, {"_id": 1}).to_list(None))
        held = {ids[doc["_id"]] for doc in found if doc["_id"] in ids}
        for oid in set(ids.values()) - held:
            with contextlib.suppress(NotFound):
                if await self._claim(oid, owner, ttl_s):
                    held.add(oid)
        return held

    async def cancel_requests(self, orchestration_ids: Sequence[str]) -> set[str]:
        """Two queries whatever the number of ids: the orchestrations, then the sessions of those not asked to stop."""
        check_ids(orchestration_ids)
        ids = {doc_id(oid): oid for oid in orchestration_ids}
        if not ids:
            return set()
        c = self._c
        docs = await self._run(
            "reading cancellation requests",
            lambda: c.orchestrations.find(
                {"_id": {"$in": list(ids)}}, {"session_id": 1, "cancel_requested": 1}
            ).to_list(None),
        )
        stop = {ids[d["_id"]] for d in docs if d.get("cancel_requested") is not None and d["_id"] in ids}
        by_session: dict[str, list[str]] = {}
        for d in docs:
            if d.get("cancel_requested") is None and d["_id"] in ids:
                by_session.setdefault(d["session_id"], []).append(ids[d["_id"]])
        if by_session:
            sessions = {doc_id(s): s for s in by_session}
            query = {"_id": {"$in": list(sessions)}, "status": {"$in": ["completed", "cancelled"]}}
            ended = await self._run(
                "reading sessions' status", lambda: c.sessions.find(query, {"_id": 1}).to_list(None)
            )
            for session in ended:
                stop.update(by_session.get(sessions.get(session["_id"], ""), ()))
        return stop
