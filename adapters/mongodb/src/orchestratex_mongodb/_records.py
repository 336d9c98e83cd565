"""Sessions, threads and API keys: the records created once and then read (a session's status changes)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from pymongo.errors import DuplicateKeyError

from orchestratex._ids import utcnow
from orchestratex.exceptions import Conflict, NotFound, StoreError
from orchestratex.records import ApiKey, Session, SessionStatus, Thread
from orchestratex.stores import check_session_transition
from orchestratex.stores.checks import check_api_key, check_session, check_thread

from ._base import CAS_ATTEMPTS, MongoBase, now_utc
from ._codec import (
    SESSION_PROJECTION,
    api_key_doc,
    api_key_from,
    check_page,
    doc_id,
    session_doc,
    session_from,
    thread_doc,
    thread_from,
)

__all__ = ["Records"]

_Doc = dict[str, Any]


class Records(MongoBase):
    """The `Store` methods of sessions, threads and API keys."""

    # -- sessions -----------------------------------------------------------------------------
    async def create_session(self, session: Session) -> Session:
        check_session(session)
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
        for _ in range(CAS_ATTEMPTS):
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
        check_thread(thread)
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

    # -- API keys -----------------------------------------------------------------------------
    async def create_api_key(self, key: ApiKey) -> ApiKey:
        check_api_key(key)
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
        """An indexed read; after a write was refused because the server's disk is full, also a write (of a counter
        that expires at once), `StoreFull` while the disk is still full: a server's readiness probe then takes it out
        of service, as it does a SQLite store on a full disk, instead of sending it runs whose every write fails. A
        probe of a store whose writes go through writes nothing."""
        if self._run.full:
            await self._run(
                "writing to check that the disk has room again",
                lambda: self._c.counters.update_one(
                    {"_id": "orchestratex:ping"}, {"$set": {"expires_at": now_utc()}}, upsert=True
                ),
            )
            self._run.full = False
        await self._one("pinging the database", self._c.api_keys, {"_id": ""}, {"_id": 1})  # an indexed read
