"""`MongoStore`: the `Store` contract on MongoDB, shared safely by several server processes.

Atomicity without transactions. A session's money and event counter live in the session document
(`total_pico`, `reserved_pico`, `reservations.<orchestration id>`, `event_seq`, `commit_no`), so
reserving budget, releasing it and allocating `seq` numbers are single-document atomic updates.

A `commit` writes several documents, so it is journaled:

1. the whole step (orchestration fields, events, call records, amounts) is inserted into `commits`;
2. one atomic pipeline update of the session adds `spent`, frees what the orchestration held (up to
   `released`), takes the next `len(events)` seq numbers and the next commit stamp, and records
   `pending.<commit id>` = {seq, n, stamp}. From here on the commit has happened: it is never undone;
3. events are inserted under the unique index (session_id, seq), call records under ids fixed in the
   journal, then the orchestration is upserted only if its stored `stamp` is older. Each write is
   idempotent, so repeating it (a retry, or another process helping) changes nothing;
4. `pending.<commit id>` is removed, then the journal entry.

A crash before 2 leaves a journal entry no session refers to: nothing happened, and it is dropped
after an hour. A crash after 2 leaves `pending.<commit id>`, and the orchestration still shows its
previous state (it is written last), so it stays resumable: the step is rolled forward from the
journal by whoever meets it first — `claim` by a new owner, `list_resumable` (for orchestrations
nobody holds a lease on), `list_events` once the entry is older than `recover_after_s`, or `open()`.
Readers never see a seq gap: `list_events` returns events only below the lowest seq still pending.
With `transactions` (auto-detected on replica sets and sharded clusters), steps 2–3 run in one
multi-document transaction instead, and no journal is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from bson import Int64, ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from orchestratex._ids import utcnow
from orchestratex.events import Event
from orchestratex.exceptions import ConfigurationError, Conflict, NotFound, StoreError, StoreUnavailable
from orchestratex.records import (
    TERMINAL_ORCHESTRATION_STATUSES,
    ApiKey,
    CallRecord,
    Orchestration,
    Session,
    SessionStatus,
    Thread,
)
from orchestratex.stores import (
    Analytics,
    ModelStats,
    RoutingOutcome,
    RoutingStat,
    Started,
    Store,
    check_session_transition,
)
from orchestratex.stores.checks import check_start, check_step, check_ttl

from . import _analytics
from ._codec import (
    SESSION_PROJECTION,
    api_key_doc,
    api_key_from,
    call_doc,
    check_amount,
    check_commit,
    check_key,
    check_page,
    doc_id,
    event_doc,
    event_from,
    from_pico,
    orchestration_fields,
    orchestration_from,
    session_doc,
    session_from,
    thread_doc,
    thread_from,
    to_pico,
)
from ._commit import Committer
from ._connection import ORDER, Collections, check_database_name, handshake, make_client
from ._errors import Retrier, redact_url

__all__ = ["MongoStore"]

logger = logging.getLogger("orchestratex_mongodb")

_Doc = dict[str, Any]
_Coll = AsyncCollection[_Doc]
_RESUMABLE = ["pending", "running"]
_DEFAULT_URL = "mongodb://localhost:27017/orchestratex"
_CAS_ATTEMPTS = 50
_ALL = 2**62
"""More pico-dollars than any reservation: releasing it frees everything held."""


def _now() -> datetime:
    return datetime.now(UTC)


class MongoStore(Store):
    """A `Store` on MongoDB through PyMongo's native async client (`pymongo.AsyncMongoClient`).

    Several processes may share one database: leases, budget reservations, seq numbers and counters
    are atomic in the database, and `watch_events` streams what any process commits.

    Args:
        url: `mongodb://…` or `mongodb+srv://…`; the path names the database (default `orchestratex`).
            Standard URI options (`replicaSet`, `authSource`, `w`, `serverSelectionTimeoutMS`, …) apply.
            Default: `mongodb://localhost:27017/orchestratex`, unless a `client` is given.
        database: the database name, overriding the URL's.
        client: an `AsyncMongoClient` to use instead of making one from `url` (the store does not close it).
        server_selection_timeout_ms: how long `open()` waits for a server before failing (unless the URL sets
            `serverSelectionTimeoutMS`).
        retries: how many times an idempotent operation is retried after a transient network error.
        retry_backoff_s: the first retry's delay; it doubles each time (with jitter).
        transactions: run each commit in a multi-document transaction; default: when the deployment
            supports them (replica set or sharded cluster).
        change_streams: wake `watch_events` with a change stream; default: when the deployment supports it.
        recover_after_s: a journaled commit still pending after this long is presumed abandoned by a dead
            process and rolled forward by readers (a lease takeover rolls forward at once).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        database: str | None = None,
        client: AsyncMongoClient[_Doc] | None = None,
        server_selection_timeout_ms: int = 5000,
        retries: int = 3,
        retry_backoff_s: float = 0.1,
        transactions: bool | None = None,
        change_streams: bool | None = None,
        recover_after_s: float = 10.0,
    ) -> None:
        if url is None and client is None:
            url = _DEFAULT_URL
        parts = urlsplit(url or "")
        if url is not None and parts.scheme not in ("mongodb", "mongodb+srv"):
            raise ConfigurationError(
                f"a MongoDB store URL starts with mongodb:// or mongodb+srv://, not {redact_url(url)!r}"
            )
        if server_selection_timeout_ms <= 0 or recover_after_s <= 0:
            raise ValueError("server_selection_timeout_ms and recover_after_s must be > 0")
        self.url = url
        """The connection URL (use `redacted_url` in anything you print); None with an injected client."""
        if database is not None:
            check_database_name(database, "the database argument")
        path = unquote(parts.path.lstrip("/"))
        if database is None and path:
            check_database_name(path, "the URL's path, which names the database")
        self.database = database or path or "orchestratex"
        """The database holding the store's collections."""
        self.server_selection_timeout_ms = server_selection_timeout_ms
        self.transactions = transactions
        """Whether commits use transactions (`None`: decided by `open()` from the deployment)."""
        self.change_streams = change_streams
        """Whether `watch_events` uses change streams (`None`: decided by `open()`)."""
        self.recover_after_s = recover_after_s
        self._injected = client
        self._client: AsyncMongoClient[_Doc] | None = None
        self._cols: Collections | None = None
        self._committer: Committer
        self._opening = asyncio.Lock()
        self._run = Retrier(self.redacted_url, retries=retries, backoff_s=retry_backoff_s)

    @classmethod
    def from_url(cls, url: str) -> Self:
        """The store for a `mongodb://` or `mongodb+srv://` URL (what `open_store(url)` calls)."""
        return cls(url)

    @property
    def redacted_url(self) -> str:
        """`url` with its password replaced by `***` (for an injected client: a description of it)."""
        return redact_url(self.url) if self.url is not None else "an injected client"

    def __repr__(self) -> str:
        return f"MongoStore({self.redacted_url!r}, database={self.database!r})"

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect (failing fast if no server answers), detect the deployment, create indexes, and roll
        forward commits a dead process left half-done. Idempotent."""
        async with self._opening:
            if self._cols is None:
                await self._open()

    async def _open(self) -> None:
        client = self._injected if self._injected is not None else self._make_client()
        try:
            replicated = await handshake(client, self.redacted_url, self.server_selection_timeout_ms)
            if self.transactions and not replicated:
                raise ConfigurationError(
                    f"transactions=True needs a replica set or a sharded cluster, and MongoDB at {self.redacted_url}"
                    " is a standalone server, which refuses multi-document transactions: leave `transactions` unset"
                    " (commits are then journaled) or connect to a replica set (`?replicaSet=…`)"
                )
            cols = Collections(client, self.database)
            await cols.create_indexes(self._run)
        except BaseException:
            if client is not self._injected:
                await client.close()
            raise
        if self.transactions is None:
            self.transactions = replicated
        if self.change_streams is None:
            self.change_streams = replicated
        self._client, self._cols = client, cols
        self._committer = Committer(cols, self._run, client)
        await self._committer.recover({"at": {"$lte": _now() - timedelta(seconds=self.recover_after_s)}})

    def _make_client(self) -> AsyncMongoClient[_Doc]:
        assert self.url is not None
        return make_client(self.url, server_selection_timeout_ms=self.server_selection_timeout_ms)

    async def close(self) -> None:
        client, self._client, self._cols = self._client, None, None
        if client is not None and client is not self._injected:
            await client.close()

    @property
    def _c(self) -> Collections:
        if self._cols is None:
            raise StoreError(f"{self!r} is not open: `await store.open()` or use `async with store:` first")
        return self._cols

    # -- small helpers ------------------------------------------------------------------------
    async def _find(self, what: str, coll: _Coll, query: _Doc, *, limit: int, skip: int = 0) -> list[_Doc]:
        if limit == 0:
            return []

        async def read() -> list[_Doc]:
            return await coll.find(query).sort(ORDER).skip(skip).limit(limit).to_list(limit)

        return await self._run(what, read)

    async def _one(self, what: str, coll: _Coll, query: _Doc, projection: _Doc | None = None) -> _Doc | None:
        return await self._run(what, lambda: coll.find_one(query, projection))

    async def _exists(self, coll: _Coll, record_id: str) -> bool:
        return await self._one(f"looking up {record_id!r}", coll, {"_id": doc_id(record_id)}, {"_id": 1}) is not None

    async def _insert(self, kind: str, coll: _Coll, doc: _Doc, *, same: Sequence[str] = ()) -> bool:
        """Insert `doc`; whether it was inserted now. With `same`, a document already there whose `same` fields
        equal `doc`'s is taken for this one, written by an earlier attempt of the same call (False), not a
        `Conflict`."""
        try:
            # not retried here: after a lost reply the retry would answer Conflict for our own insert (the
            # driver's retryable writes repeat it exactly once where the deployment supports them)
            await self._run(f"inserting the {kind}", lambda: coll.insert_one(doc), idempotent=False)
        except DuplicateKeyError as exc:
            if same:
                there = await self._one(f"reading the {kind}", coll, {"_id": doc["_id"]})
                if there is not None and all(there.get(name) == doc[name] for name in same):
                    return False
            raise Conflict(f"{kind} {str(doc['_id'])!r} already exists") from exc
        return True

    # -- sessions -----------------------------------------------------------------------------
    async def create_session(self, session: Session) -> Session:
        if session.reserved_cost != 0:
            raise ValueError("a new session cannot hold reserved budget (reserved_cost must be 0)")
        check_amount("total_cost", session.total_cost)
        await self._insert("session", self._c.sessions, session_doc(session))
        return session

    async def get_session(self, session_id: str) -> Session:
        doc = await self._one("reading a session", self._c.sessions, {"_id": doc_id(session_id)}, SESSION_PROJECTION)
        if doc is None:
            raise NotFound(f"no session {session_id!r}")
        return session_from(doc)

    async def list_sessions(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[Session]:
        check_page(limit, offset)
        docs = await self._find("listing sessions", self._c.sessions, {"user_id": user_id}, limit=limit, skip=offset)
        return [session_from(doc) for doc in docs]

    async def set_session_status(self, session_id: str, status: SessionStatus) -> Session:
        for _ in range(_CAS_ATTEMPTS):
            session = await self.get_session(session_id)
            current = session.status
            check_session_transition(current, status)
            if status == current:
                return session
            now = utcnow()
            session.status, session.updated_at = status, now
            if status in ("completed", "cancelled"):
                session.session_end = now
            fields = session.model_dump(mode="json", include={"status", "updated_at", "session_end"})
            query = {"_id": doc_id(session_id), "status": current}
            result = await self._run(
                "changing a session's status", partial(self._c.sessions.update_one, query, {"$set": fields})
            )
            if result.matched_count:
                return session
        raise StoreError(f"session {session_id!r} kept changing while its status was being set; try again")

    # -- threads ------------------------------------------------------------------------------
    async def create_thread(self, thread: Thread) -> Thread:
        if not await self._exists(self._c.sessions, thread.session_id):
            raise NotFound(f"no session {thread.session_id!r}")
        await self._insert("thread", self._c.threads, thread_doc(thread))
        return thread

    async def get_thread(self, thread_id: str) -> Thread:
        doc = await self._one("reading a thread", self._c.threads, {"_id": doc_id(thread_id)})
        if doc is None:
            raise NotFound(f"no thread {thread_id!r}")
        return thread_from(doc)

    async def list_threads(self, session_id: str, *, limit: int = 100, offset: int = 0) -> list[Thread]:
        check_page(limit, offset)
        query = {"session_id": session_id}
        return [
            thread_from(d)
            for d in await self._find("listing threads", self._c.threads, query, limit=limit, skip=offset)
        ]

    # -- orchestrations -----------------------------------------------------------------------
    async def create_orchestration(self, orchestration: Orchestration) -> Orchestration:
        check_key("an orchestration id", orchestration.id)
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
        return [orchestration_from(doc) for doc in docs]

    async def count_active_orchestrations(self, user_id: str) -> int:
        return await self._count(self._c.orchestrations, {"user_id": user_id, "status": {"$in": _RESUMABLE}})

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
        check_key("an orchestration id", orchestration.id)
        self._c  # noqa: B018 -- fail before changing anything when the store is not open
        if owner is not None:  # fencing (checked before the journal: a lease taken over meanwhile is not seen)
            query = {"_id": doc_id(orchestration.id)}
            lease = await self._one("reading a lease", self._c.orchestrations, query, {"lease_owner": 1})
            if lease is None or lease.get("lease_owner") != owner:
                raise Conflict(f"orchestration {orchestration.id} is not leased to {owner!r}: another process runs it")
        orchestration.updated_at = utcnow()
        journal: _Doc = {
            "_id": ObjectId(),
            "session_id": orchestration.session_id,
            "orchestration_id": orchestration.id,
            "at": _now(),
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
        orchestration, owner and no commit yet) instead of answering `Conflict`."""
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
        lease = _now() + timedelta(seconds=ttl_s)
        doc.update(_id=doc_id(orchestration.id), stamp=Int64(0), lease_owner=owner, lease_expires=lease)
        ours = ("session_id", "thread_id", "created_us", "stamp", "lease_owner")
        oid = orchestration.id
        if not await self._insert("orchestration", self._c.orchestrations, doc, same=ours) and not await self.claim(
            oid, owner, ttl_s
        ):
            raise Conflict(f"orchestration {oid} is not leased to {owner!r}: another process runs it")

        async def reserving() -> bool:
            try:
                return await self.reserve_budget(orchestration.session_id, oid, reserve)
            except Exception as exc:  # the start stands: its caller reserves again the usual way
                logger.warning("reserving with the start of %s failed: %s", oid, exc)
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
        return Started(session, granted)

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
                logger.warning("reserving with the commit of %s failed: %s", oid, exc)
                return False

        async def recording() -> None:
            try:
                await self._record_outcomes(outcomes)
            except Exception as exc:  # statistics are best effort
                logger.warning("recording routing outcomes with the commit of %s failed: %s", oid, exc)

        async def releasing() -> None:
            try:
                await self.release(oid, owner or "")
            except Exception as exc:  # the lease expires after its ttl
                logger.warning("releasing the lease of %s failed: %s", oid, exc)

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
        check_amount("amount", amount)
        check_key("an orchestration id", orchestration_id)
        pico = Int64(to_pico(amount))
        fits = {"$lte": [{"$add": ["$total_pico", "$reserved_pico", pico]}, "$limit_pico"]}
        query = {"_id": doc_id(session_id), "$or": [{"limit_pico": None}, {"$expr": fits}]}
        update = {"$inc": {"reserved_pico": pico, f"reservations.{orchestration_id}": pico}}
        sessions = self._c.sessions
        done = await self._run(
            "reserving budget",
            lambda: sessions.find_one_and_update(query, update, projection={"_id": 1}),
            idempotent=False,
        )
        if done is None:
            if not await self._exists(sessions, session_id):
                raise NotFound(f"no session {session_id!r}")
            return False
        return True

    async def release_reservations(self, session_id: str, orchestration_id: str) -> float:
        check_key("an orchestration id", orchestration_id)
        sessions, field = self._c.sessions, f"reservations.{orchestration_id}"
        for _ in range(_CAS_ATTEMPTS):
            doc = await self._one("reading a reservation", sessions, {"_id": doc_id(session_id)}, {field: 1})
            if doc is None:
                raise NotFound(f"no session {session_id!r}")
            held = int(doc.get("reservations", {}).get(orchestration_id, 0))
            if not held:
                return 0.0
            query = {"_id": doc_id(session_id), field: held}
            update = {"$unset": {field: ""}, "$inc": {"reserved_pico": Int64(-held)}}
            result = await self._run("releasing a reservation", partial(sessions.update_one, query, update))
            if result.matched_count:
                return from_pico(held)
        raise StoreError(f"the reservation of {orchestration_id!r} kept changing while being released; try again")

    # -- events -------------------------------------------------------------------------------
    async def list_events(
        self, session_id: str, *, since: int = 0, limit: int = 1000, orchestration_id: str | None = None
    ) -> list[Event]:
        check_page(limit, since)
        c = self._c
        horizon = await self._committer.horizon(session_id, self.recover_after_s)
        if limit == 0 or horizon <= since:
            return []
        query: _Doc = {"session_id": session_id, "seq": {"$gt": since, "$lte": horizon}}
        if orchestration_id is not None:
            query["orchestration_id"] = orchestration_id

        async def read() -> list[_Doc]:
            return await c.events.find(query).sort("seq", 1).limit(limit).to_list(limit)

        return [event_from(doc) for doc in await self._run("reading events", read)]

    async def watch_events(
        self, session_id: str, since: int = 0, *, poll_interval_s: float = 0.25, batch: int = 1000
    ) -> AsyncGenerator[Event, None]:
        """Every event of the session with `seq > since`, in order, then each new one as it is committed
        (by any process), forever: close the iterator to stop (`contextlib.aclosing`).

        A change stream on `events` wakes it when the deployment supports change streams (replica set,
        sharded cluster); otherwise it polls by `seq` every `poll_interval_s`. Either way it reads through
        `list_events`, so it never skips a seq and never yields one twice. Raises `NotFound` for an
        unknown session.
        """
        if not poll_interval_s > 0 or batch < 1:
            raise ValueError("poll_interval_s must be > 0 and batch >= 1")
        stream = await self._open_change_stream(session_id, poll_interval_s) if self.change_streams else None
        last = since
        try:
            while True:
                found = await self.list_events(session_id, since=last, limit=batch)
                for event in found:
                    last = event.seq
                    yield event
                if len(found) == batch:
                    continue
                if stream is None:
                    await asyncio.sleep(poll_interval_s)
                    continue
                try:
                    await self._run("waiting for events", stream.try_next)
                except StoreError as exc:  # the stream could not resume: poll from here on
                    logger.warning("change stream on session %s ended (%s); polling instead", session_id, exc)
                    with contextlib.suppress(PyMongoError):
                        await stream.close()
                    stream = None
        finally:
            if stream is not None:
                await stream.close()

    async def _open_change_stream(self, session_id: str, poll_interval_s: float) -> Any:
        pipeline = [{"$match": {"operationType": "insert", "fullDocument.session_id": session_id}}]
        watch = partial(self._c.events.watch, pipeline, max_await_time_ms=max(1, int(poll_interval_s * 1000)))
        try:  # a network error is retried, then StoreUnavailable (as any read)
            return await self._run("opening a change stream", watch)
        except StoreError as exc:
            if not isinstance(exc.__cause__, OperationFailure) or isinstance(exc, StoreUnavailable):
                raise
            # refused (a standalone server, a user without the changeStream privilege): poll instead
            logger.warning("no change streams on %s (%s); polling instead", self.redacted_url, exc.__cause__)
            self.change_streams = False
            return None

    # -- leases -------------------------------------------------------------------------------
    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        check_ttl(ttl_s)
        now = _now()
        free = [{"lease_owner": None}, {"lease_owner": owner}, {"lease_expires": {"$lte": now}}]
        query = {"_id": doc_id(orchestration_id), "$or": free}
        update = {"$set": {"lease_owner": owner, "lease_expires": now + timedelta(seconds=ttl_s)}}
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
        query = {"_id": doc_id(orchestration_id), "lease_owner": owner}
        update = {"$set": {"lease_owner": None, "lease_expires": None}}
        await self._run("releasing a lease", lambda: self._c.orchestrations.update_one(query, update))

    async def list_resumable(self, *, limit: int = 100) -> list[str]:
        check_page(limit, 0)
        if limit == 0:
            return []
        await self._committer.recover_unleased()
        query = {
            "status": {"$in": _RESUMABLE},
            "$or": [{"lease_owner": None}, {"lease_expires": {"$lte": _now()}}],
        }
        orchestrations = self._c.orchestrations

        async def read() -> list[_Doc]:
            return await orchestrations.find(query, {"_id": 1}).sort(ORDER).limit(limit).to_list(limit)

        return [str(doc["_id"]) for doc in await self._run("listing resumable orchestrations", read)]

    # -- cancellation -------------------------------------------------------------------------
    async def request_cancel(self, orchestration_id: str) -> bool:
        query = {"_id": doc_id(orchestration_id), "status": {"$in": _RESUMABLE}}
        update = {"$set": {"cancel_requested": _now()}}
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
        check_ttl(ttl_s, "counter")
        now = _now()
        expires = None if ttl_s is None else now + timedelta(seconds=ttl_s)
        fresh = {
            "$or": [
                {"$eq": [{"$ifNull": ["$value", None]}, None]},
                {"$and": [{"$ne": [{"$ifNull": ["$expires_at", None]}, None]}, {"$lte": ["$expires_at", now]}]},
            ]
        }
        update = [
            {
                "$set": {
                    "value": {"$cond": [fresh, Int64(amount), {"$add": ["$value", Int64(amount)]}]},
                    "expires_at": {"$cond": [fresh, expires, "$expires_at"]},
                }
            }
        ]
        counters = self._c.counters
        for _ in range(_CAS_ATTEMPTS):
            try:
                doc = await self._run(
                    "incrementing a counter",
                    lambda: counters.find_one_and_update(
                        {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
                    ),
                    idempotent=False,
                )
            except DuplicateKeyError:
                continue  # two processes created it at once: the other won, increment theirs
            assert doc is not None
            return int(doc["value"])
        raise StoreError(f"counter {key!r} could not be incremented; try again")

    # -- router statistics --------------------------------------------------------------------
    async def record_routing_outcome(
        self,
        router: str,
        *,
        domain: str,
        model_name: str,
        score: float,
        cost: float,
        latency_ms: float,
        output_tokens: int,
    ) -> None:
        query = {"router": router, "domain": domain, "model_name": model_name}
        increments = {
            "n": 1,
            "score_sum": float(score),
            "score_sq_sum": float(score) * float(score),
            "cost_sum": float(cost),
            "latency_ms_sum": float(latency_ms),
            "output_tokens_sum": int(output_tokens),
        }
        stats = self._c.routing_stats
        for _ in range(_CAS_ATTEMPTS):
            try:
                await self._run(
                    "recording a routing outcome",
                    lambda: stats.update_one(query, {"$inc": increments}, upsert=True),
                    idempotent=False,
                )
                return
            except DuplicateKeyError:
                continue  # a concurrent first upsert won: now it exists, increment it
        raise StoreError("the routing statistics could not be updated; try again")

    async def routing_stats(self, router: str) -> list[RoutingStat]:
        stats = self._c.routing_stats

        async def read() -> list[_Doc]:
            cursor = stats.find({"router": router}).sort([("domain", 1), ("model_name", 1)])
            return await cursor.to_list(None)

        return [
            RoutingStat(
                domain=d["domain"],
                model_name=d["model_name"],
                n=int(d["n"]),
                score_sum=float(d["score_sum"]),
                score_sq_sum=float(d["score_sq_sum"]),
                cost_sum=float(d["cost_sum"]),
                latency_ms_sum=float(d["latency_ms_sum"]),
                output_tokens_sum=int(d["output_tokens_sum"]),
            )
            for d in await self._run("reading routing statistics", read)
        ]

    # -- API keys -----------------------------------------------------------------------------
    async def create_api_key(self, key: ApiKey) -> ApiKey:
        try:
            await self._run(
                "inserting an API key", lambda: self._c.api_keys.insert_one(api_key_doc(key)), idempotent=False
            )
        except DuplicateKeyError as exc:
            raise Conflict("an API key with this hash (or id) already exists") from exc
        return key

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        doc = await self._one("reading an API key", self._c.api_keys, {"key_hash": key_hash})
        return None if doc is None else api_key_from(doc)

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        query: _Doc = {} if user_id is None else {"user_id": user_id}

        async def read() -> list[_Doc]:
            return await self._c.api_keys.find(query).sort([("created_us", 1), ("_id", 1)]).to_list(None)

        return [api_key_from(d) for d in await self._run("listing API keys", read)]

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        now = utcnow()
        oid = doc_id(key_id)
        await self._run(
            "revoking an API key",
            lambda: self._c.api_keys.update_one(
                {"_id": oid, "revoked_at": None},
                {"$set": {"revoked_at": now.isoformat(), "updated_at": now.isoformat()}},
            ),
        )
        doc = await self._one("reading an API key", self._c.api_keys, {"_id": oid})
        if doc is None:
            raise NotFound(f"no API key {key_id!r}")
        return api_key_from(doc)

    async def touch_api_key(self, key_id: str, when: datetime) -> None:
        oid = doc_id(key_id)
        await self._run(
            "recording an API key's use",
            lambda: self._c.api_keys.update_one({"_id": oid}, {"$set": {"last_used_at": when.isoformat()}}),
        )

    async def ping(self) -> None:
        await self._one("pinging the database", self._c.api_keys, {"_id": ""}, {"_id": 1})  # an indexed read

    # -- analytics ----------------------------------------------------------------------------
    async def _count(self, coll: _Coll, query: _Doc) -> int:
        return await self._run("counting", lambda: coll.count_documents(query))

    async def session_analytics(self, session_id: str) -> Analytics:
        c = self._c
        if not await self._exists(c.sessions, session_id):
            raise NotFound(f"no session {session_id!r}")
        threads = await self._count(c.threads, {"session_id": session_id})
        return await _analytics.scope_analytics(
            self._run, c.orchestrations, c.calls, "session", session_id, sessions=1, threads=threads
        )

    async def user_analytics(self, user_id: str) -> Analytics:
        c = self._c
        sessions = await self._count(c.sessions, {"user_id": user_id})
        threads = await self._count(c.threads, {"user_id": user_id})
        return await _analytics.scope_analytics(
            self._run, c.orchestrations, c.calls, "user", user_id, sessions=sessions, threads=threads
        )

    async def model_stats(self, model_name: str) -> ModelStats:
        return await _analytics.model_stats(self._run, self._c.calls, model_name)

    # -- one call for all of an orchestrator's runs ---------------------------------------------
    async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
        """One `update_many` extends the leases `owner` still holds (the usual case: one round trip); any
        other id (a lease free, expired and taken, or another's) then goes through `claim`, which rolls
        forward what a previous owner left half-done when it takes a lease over."""
        check_ttl(ttl_s)
        ids = {doc_id(oid): oid for oid in orchestration_ids}
        if not ids:
            return set()
        query = {"_id": {"$in": list(ids)}, "lease_owner": owner}
        update = {"$set": {"lease_expires": _now() + timedelta(seconds=ttl_s)}}
        orchestrations = self._c.orchestrations
        renewed = await self._run("renewing leases", lambda: orchestrations.update_many(query, update))
        if renewed.matched_count == len(ids):
            return set(ids.values())
        found = await self._run("reading leases", lambda: orchestrations.find(query, {"_id": 1}).to_list(None))
        held = {ids[doc["_id"]] for doc in found if doc["_id"] in ids}
        for oid in set(ids.values()) - held:
            with contextlib.suppress(NotFound):
                if await self.claim(oid, owner, ttl_s):
                    held.add(oid)
        return held

    async def cancel_requests(self, orchestration_ids: Sequence[str]) -> set[str]:
        """Two queries whatever the number of ids: the orchestrations, then the sessions of those not asked to stop."""
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


async def _true() -> bool:
    return True


async def _none() -> None:
    return None
