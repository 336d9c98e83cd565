"""Journaled commits: one orchestration step written as several documents, all or nothing.

See the module docstring of `_store.py` for the protocol. `Committer.journaled` is the path for
standalone servers (and the mongomock stand-in); `Committer.in_transaction` the path for replica sets
and sharded clusters; `Committer.recover` rolls forward what a dead process left half-done.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bson import Int64, ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError
from pymongo.write_concern import WriteConcern

from orchestratex.exceptions import NotFound, StoreError, StoreUnavailable

from ._codec import ago, doc_id
from ._connection import Collections
from ._errors import Retrier, is_duplicate_only

__all__ = ["Committer"]

logger = logging.getLogger("orchestratex.stores.mongodb")

_Doc = dict[str, Any]
_Coll = AsyncCollection[_Doc]
_ORPHAN_AFTER = timedelta(hours=1)
"""A journal entry no session refers to is dropped after this long (its committer died before step 2)."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Committer:
    """Writes commits (and rolls forward abandoned ones) on the store's collections."""

    def __init__(self, cols: Collections, run: Retrier, client: AsyncMongoClient[_Doc]) -> None:
        self.cols = cols
        self.run = run
        self.client = client

    async def journaled(self, journal: _Doc) -> int:
        c, cid = self.cols, journal["_id"]
        try:
            await self.run("journaling a commit", lambda: c.commits.insert_one(journal))
        except DuplicateKeyError:
            pass  # a retried insert that had succeeded
        try:
            after = await self.run("allocating seq numbers", lambda: self._allocate(journal))
        except NotFound:
            await self.run("dropping a journal entry", lambda: c.commits.delete_one({"_id": cid}))
            raise
        except StoreUnavailable as exc:  # the session update may have been applied with its reply lost
            raise StoreError(
                f"{exc.message}. Whether the step was recorded is unknown: if it was, it completes when the"
                " orchestration is next claimed"
            ) from exc
        entry = after["pending"][str(cid)]
        try:
            await self._apply(journal, int(entry["seq"]), int(entry["stamp"]))
            await self._finish(journal)
        except StoreError as exc:
            raise StoreError(
                f"{exc.message}. The step is recorded and completes when the orchestration is next claimed"
                " or the store is next opened"
            ) from exc
        return int(entry["seq"])

    def _allocation(self, journal: _Doc, *, pending: bool) -> tuple[_Doc, list[_Doc]]:
        """The session filter and pipeline update of commit step 2 (one atomic single-document write)."""
        oid, cid, n = journal["orchestration_id"], str(journal["_id"]), len(journal["events"])
        sets: _Doc = {
            "total_pico": {"$add": ["$total_pico", journal["spent"]]},
            "event_seq": {"$add": ["$event_seq", n]},
            "commit_no": {"$add": ["$commit_no", 1]},
        }
        if journal["spent"]:  # (a session's `updated_at` moves with its spending)
            sets["updated_at"] = {"$literal": _aware(journal["at"]).isoformat().replace("+00:00", "Z")}
        if journal["released"]:
            held = {"$ifNull": [f"$reservations.{oid}", Int64(0)]}
            freed = {"$min": [held, journal["released"]]}
            sets["reserved_pico"] = {"$subtract": ["$reserved_pico", freed]}
            sets[f"reservations.{oid}"] = {"$subtract": [held, freed]}
        query: _Doc = {"_id": doc_id(journal["session_id"])}
        if pending:
            sets[f"pending.{cid}"] = {
                "seq": {"$add": ["$event_seq", 1]},
                "n": n,
                "stamp": {"$add": ["$commit_no", 1]},
                "at": journal["at"],
            }
            query[f"pending.{cid}"] = {"$exists": False}
        return query, [{"$set": sets}]

    async def _allocate(self, journal: _Doc) -> _Doc:
        sessions, cid = self.cols.sessions, str(journal["_id"])
        query, update = self._allocation(journal, pending=True)
        projection = {f"pending.{cid}": 1}
        after = await sessions.find_one_and_update(
            query, update, projection=projection, return_document=ReturnDocument.AFTER
        )
        if after is None:  # no such session, or a retry after the update had been applied
            after = await sessions.find_one({"_id": query["_id"]}, projection)
            if after is None:
                raise NotFound(f"no session {journal['session_id']!r}")
            if cid not in after.get("pending", {}):
                raise StoreError(f"commit {cid} was neither applied nor pending on session {journal['session_id']!r}")
        return after

    async def _apply(self, journal: _Doc, first: int, stamp: int, session: AsyncClientSession | None = None) -> None:
        """Commit step 3: idempotent writes of the events, the calls, then the orchestration (plain writes in a
        transaction). The orchestration goes last: until it is saved, a crashed step's orchestration still shows
        its previous state, so it stays resumable and whoever resumes it rolls this step forward."""
        c, guarded = self.cols, session is None
        fields = {**journal["orchestration"], "stamp": Int64(stamp)}
        query: _Doc = {"_id": doc_id(journal["orchestration_id"])}
        if guarded:
            query["stamp"] = {"$lt": Int64(stamp)}

        async def save() -> None:
            try:
                await c.orchestrations.update_one(query, {"$set": fields}, upsert=True, session=session)
            except DuplicateKeyError:
                if not guarded:
                    raise
                # else: a newer commit saved it already (when rolling an old step forward): keep the newer one

        async def insert(coll: _Coll, docs: list[_Doc]) -> None:
            try:
                await coll.insert_many(docs, ordered=False, session=session)
            except BulkWriteError as exc:
                if not (guarded and is_duplicate_only(exc)):
                    raise

        events = [{**e, "seq": Int64(first + i)} for i, e in enumerate(journal["events"])]
        calls = [dict(call) for call in journal["calls"]]
        if events:
            await self._step("inserting events", lambda: insert(c.events, events), session)
        if calls:
            await self._step("inserting call records", lambda: insert(c.calls, calls), session)
        await self._step("saving the orchestration", save, session)

    async def _step(self, what: str, op: Callable[[], Awaitable[None]], session: AsyncClientSession | None) -> None:
        if session is None:
            await self.run(what, op)
        else:
            await op()  # inside a transaction: `with_transaction` owns the retries

    async def _finish(self, journal: _Doc) -> None:
        """Commit step 4: the session forgets the pending commit (and a reservation left at 0, with the tokens of its
        reservations), then the journal."""
        c, cid, oid = self.cols, str(journal["_id"]), journal["orchestration_id"]
        query = {"_id": doc_id(journal["session_id"])}
        unset = {f"pending.{cid}": ""}
        if journal["released"]:
            result = await self.run(
                "finishing a commit",
                lambda: c.sessions.update_one(
                    {**query, f"reservations.{oid}": 0},
                    {"$unset": {**unset, f"reservations.{oid}": "", f"reserve_tokens.{oid}": ""}},
                ),
            )
            if result.matched_count:
                unset = {}
        if unset:
            await self.run("finishing a commit", lambda: c.sessions.update_one(query, {"$unset": unset}))
        await self.run("dropping a journal entry", lambda: c.commits.delete_one({"_id": journal["_id"]}))

    async def in_transaction(self, journal: _Doc) -> int:
        c, n = self.cols, len(journal["events"])
        client = self.client

        async def body(session: AsyncClientSession) -> int:
            query, update = self._allocation(journal, pending=False)
            after = await c.sessions.find_one_and_update(
                query,
                update,
                projection={"event_seq": 1, "commit_no": 1},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if after is None:
                raise NotFound(f"no session {journal['session_id']!r}")
            first = int(after["event_seq"]) - n + 1
            await self._apply(journal, first, int(after["commit_no"]), session)
            if journal["released"]:
                oid = journal["orchestration_id"]
                await c.sessions.update_one(
                    {"_id": query["_id"], f"reservations.{oid}": 0},
                    {"$unset": {f"reservations.{oid}": "", f"reserve_tokens.{oid}": ""}},
                    session=session,
                )
            return first

        async def transaction() -> int:
            async with client.start_session() as session:
                first: int = await session.with_transaction(body, write_concern=WriteConcern("majority"))
                return first

        try:
            return await self.run("committing in a transaction", transaction, idempotent=False)
        except StoreUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, PyMongoError) and cause.has_error_label("UnknownTransactionCommitResult"):
                raise StoreError(f"{exc.message}. Whether the transaction committed is unknown") from exc
            raise  # the transaction was aborted: nothing was written

    async def recover(self, query: _Doc) -> int:
        """Roll forward the journaled commits matching `query` whose session update happened, and drop those
        that never reached it once they are older than an hour (a younger one may be about to); returns how
        many were rolled forward."""
        c, done = self.cols, 0
        orphaned = datetime.now(UTC) - _ORPHAN_AFTER

        async def read() -> list[_Doc]:
            return await c.commits.find(query).sort("at", 1).limit(1000).to_list(1000)

        entries = await self.run("reading the commit journal", read)
        for journal in entries:
            cid = str(journal["_id"])
            query = {"_id": doc_id(journal["session_id"])}
            session = await self.run("reading a session", partial(c.sessions.find_one, query, {f"pending.{cid}": 1}))
            entry = (session or {}).get("pending", {}).get(cid)
            if entry is None:  # not allocated (the committer died before step 2, or is slow), or already finished
                if _aware(journal["at"]) <= orphaned:
                    await self.run("dropping a journal entry", partial(c.commits.delete_one, {"_id": journal["_id"]}))
                continue
            await self._apply(journal, int(entry["seq"]), int(entry["stamp"]))
            await self._finish(journal)
            done += 1
        return done

    async def drop_orphans(self, session_id: str, cids: list[str]) -> None:
        """Remove pending marks of `session_id` that no journal entry backs. That takes a committer stalled for
        over an hour between journaling and its session update (so its entry was dropped as unallocated), which
        then died before finishing: the step's money is counted but its unwritten events cannot be recovered,
        and the stream must not stay blocked behind them."""
        c = self.cols
        ids = [ObjectId(cid) for cid in cids]

        async def present() -> set[str]:
            docs = await c.commits.find({"_id": {"$in": ids}}, {"_id": 1}).to_list(None)
            return {str(doc["_id"]) for doc in docs}

        orphans = set(cids) - await self.run("reading the commit journal", present)
        if orphans:
            logger.warning(
                "session %s: dropping pending commits without a journal entry: %s",
                session_id,
                orphans,
                extra={"session_id": session_id},
            )
            unset = {f"pending.{cid}": "" for cid in orphans}
            query = {"_id": doc_id(session_id)}
            await self.run(
                "dropping orphaned pending commits", partial(c.sessions.update_one, query, {"$unset": unset})
            )

    async def horizon(self, session_id: str, recover_after_s: float) -> int:
        """The highest seq below which every allocated event is written (commits in flight hold it back).

        Commits pending longer than `recover_after_s` are rolled forward first; a pending mark that no
        journal entry backs any more (see `Committer.drop_orphans`) is dropped rather than block the stream."""
        sessions, query = self.cols.sessions, {"_id": doc_id(session_id)}
        recovered = False
        while True:
            doc = await self.run("reading a session", partial(sessions.find_one, query, {"event_seq": 1, "pending": 1}))
            if doc is None:
                raise NotFound(f"no session {session_id!r}")
            pending = {cid: p for cid, p in (doc.get("pending") or {}).items() if p["n"]}
            cutoff = ago(datetime.now(UTC), recover_after_s)
            stale = [cid for cid, p in pending.items() if _aware(p["at"]) <= cutoff]
            if not stale:
                return min((int(p["seq"]) for p in pending.values()), default=int(doc["event_seq"]) + 1) - 1
            if recovered:
                await self.drop_orphans(session_id, stale)
            else:
                await self.recover({"session_id": session_id, "at": {"$lte": cutoff}})
            recovered = True

    async def recover_unleased(self) -> None:
        """Roll forward journaled commits of orchestrations nobody holds a lease on (their driver died)."""
        c = self.cols

        async def journaled() -> list[str]:
            docs = await c.commits.find({}, {"orchestration_id": 1}).limit(1000).to_list(1000)
            return sorted({doc["orchestration_id"] for doc in docs})

        ids = await self.run("reading the commit journal", journaled)
        if not ids:
            return
        query = {
            "_id": {"$in": [doc_id(i) for i in ids]},
            "$or": [{"lease_owner": None}, {"lease_expires": {"$lte": datetime.now(UTC)}}],
        }

        async def unleased() -> list[_Doc]:
            return await c.orchestrations.find(query, {"_id": 1}).to_list(None)

        free = [str(doc["_id"]) for doc in await self.run("reading leases", unleased)]
        if free:
            await self.recover({"orchestration_id": {"$in": free}})
