"""The records of a `SQLiteStore` other than the orchestrations: sessions and their budget, threads, events, counters,
the routers' statistics, API keys and analytics (`SQLiteStore` adds the orchestrations)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import datetime
from typing import Any

from ..._ids import epoch_seconds, utcnow
from ...events import Event
from ...exceptions import Conflict, NotFound, StoreError
from ...records import ApiKey, Session, SessionStatus, Thread
from .._base import Analytics, ModelStats, RoutingOutcome, RoutingStat, check_session_transition
from .._unreadable import listed_events
from ..checks import (
    check_amount,
    check_api_key,
    check_incr,
    check_name,
    check_page,
    check_session,
    check_thread,
    check_ttl,
    counter_overflow,
    created_order,
    from_pico,
    to_pico,
)
from . import _analytics
from ._connections import SQLiteConnections, refused_insert
from ._rows import (
    INCR,
    INSERT_SESSION,
    INSERT_THREAD,
    RECORD_OUTCOME,
    RESERVE,
    Read,
    Write,
    outcome_row,
    session_from,
    thread_row,
)

__all__ = ["SQLiteRecords"]


class SQLiteRecords(SQLiteConnections):
    """`SQLiteStore` but its orchestrations (which it adds: its `fused` methods must be in the class that defines
    their primitives, or below it, see `Store.__init_subclass__`)."""

    _incrs: int

    # -- sessions -----------------------------------------------------------------------------
    async def create_session(self, session: Session) -> Session:
        check_session(session)
        limit = session.settings.cost_limit
        row = (
            session.id,
            session.user_id,
            session.status,
            epoch_seconds(session.created_at),
            to_pico(session.total_cost),
            None if limit is None else to_pico(limit),
            session.model_dump_json(),
        )
        await self._run(self._insert, "session", INSERT_SESSION, row)
        return session

    def _session_sync(self, session_id: str) -> Session:
        row = self._db.execute(
            "SELECT doc, total_pico, reserved_pico FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no session {session_id!r}")
        return session_from(row)

    async def get_session(self, session_id: str) -> Session:
        return await self._lookup(self._session_sync, session_id)

    async def list_sessions(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[Session]:
        check_page(limit, offset)
        rows = await self._read(
            self._fetch,
            "SELECT doc, total_pico, reserved_pico FROM sessions WHERE user_id = ?"
            " ORDER BY created_at, rowid LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [session_from(row) for row in rows]

    async def set_session_status(self, session_id: str, status: SessionStatus) -> Session:
        return await self._run(self._set_status_sync, session_id, status)

    def _set_status_sync(self, session_id: str, status: SessionStatus) -> Session:
        with Write(self._db) as db:
            session = self._session_sync(session_id)
            check_session_transition(session.status, status)
            if status != session.status:
                now = utcnow()
                session.status = status
                session.updated_at = now
                if status in ("completed", "cancelled"):
                    session.session_end = now
                db.execute(
                    "UPDATE sessions SET status = ?, doc = ? WHERE id = ?",
                    (status, session.model_dump_json(), session_id),
                )
            return session

    # -- threads ------------------------------------------------------------------------------
    async def create_thread(self, thread: Thread) -> Thread:
        check_thread(thread)
        await self._run(self._create_thread_sync, thread_row(thread))
        return thread

    def _create_thread_sync(self, row: tuple[Any, ...]) -> None:
        with Write(self._db):
            if not self._exists("sessions", row[1]):
                raise NotFound(f"no session {row[1]!r}")
            self._insert("thread", INSERT_THREAD, row)

    async def get_thread(self, thread_id: str) -> Thread:
        rows = await self._lookup(self._fetch, "SELECT doc FROM threads WHERE id = ?", (thread_id,))
        if not rows:
            raise NotFound(f"no thread {thread_id!r}")
        return Thread.model_validate_json(rows[0][0])

    async def list_threads(self, session_id: str, *, limit: int = 100, offset: int = 0) -> list[Thread]:
        check_page(limit, offset)
        rows = await self._read(
            self._fetch,
            "SELECT doc FROM threads WHERE session_id = ? ORDER BY created_at, rowid LIMIT ? OFFSET ?",
            (session_id, limit, offset),
        )
        return [Thread.model_validate_json(doc) for (doc,) in rows]

    # -- budget -------------------------------------------------------------------------------
    async def reserve_budget(self, session_id: str, orchestration_id: str, amount: float) -> bool:
        check_amount("amount", amount)
        return await self._run(self._reserve_sync, session_id, orchestration_id, to_pico(amount))

    def _reserve_sync(self, session_id: str, orchestration_id: str, amount: int) -> bool:
        with Write(self._db) as db:
            if db.execute(RESERVE, {"amount": amount, "session": session_id}).fetchone() is None:
                if not self._exists("sessions", session_id):
                    raise NotFound(f"no session {session_id!r}")
                return False
            db.execute(
                "INSERT INTO reservations VALUES (?, ?, ?) ON CONFLICT (session_id, orchestration_id)"
                " DO UPDATE SET amount_pico = amount_pico + excluded.amount_pico",
                (session_id, orchestration_id, amount),
            )
            return True

    async def release_reservations(self, session_id: str, orchestration_id: str) -> float:
        return from_pico(await self._run(self._release_all_sync, session_id, orchestration_id))

    def _release_all_sync(self, session_id: str, orchestration_id: str) -> int:
        with Write(self._db) as db:
            row = db.execute(
                "DELETE FROM reservations WHERE session_id = ? AND orchestration_id = ? RETURNING amount_pico",
                (session_id, orchestration_id),
            ).fetchone()
            held: int = 0 if row is None else row[0]
            updated = db.execute(
                "UPDATE sessions SET reserved_pico = reserved_pico - ? WHERE id = ?", (held, session_id)
            ).rowcount
            if not updated:
                raise NotFound(f"no session {session_id!r}")
            return held

    # -- events -------------------------------------------------------------------------------
    async def list_events(
        self, session_id: str, *, since: int = 0, limit: int = 1000, orchestration_id: str | None = None
    ) -> list[Event]:
        check_page(limit, since, offset_name="since")
        events: list[Event] = []
        while True:  # (again past events this version cannot read: `limit` counts those it lists)
            wanted = limit - len(events)
            rows = await self._read(self._events_sync, session_id, since, wanted, orchestration_id)
            events += listed_events(doc for _, doc in rows)
            if len(rows) < wanted or len(events) >= limit:
                return events
            since = rows[-1][0]

    def _events_sync(
        self, session_id: str, since: int, limit: int, orchestration_id: str | None
    ) -> list[tuple[int, bytes]]:
        params: tuple[Any, ...]
        if orchestration_id is None:
            sql, params = "", (session_id, since, limit)
        else:
            sql, params = " AND orchestration_id = ?", (session_id, since, orchestration_id, limit)
        rows = self._db.execute(
            f"SELECT seq, doc FROM events WHERE session_id = ? AND seq > ?{sql} ORDER BY seq LIMIT ?", params
        ).fetchall()
        if not rows and not self._exists("sessions", session_id):
            raise NotFound(f"no session {session_id!r}")
        return rows

    # -- counters -----------------------------------------------------------------------------
    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        check_name("a counter's key", key)
        check_incr(amount)
        check_ttl(ttl_s, "counter")
        return await self._run(self._incr_sync, key, amount, ttl_s)

    def _incr_sync(self, key: str, amount: int, ttl_s: float | None) -> int:
        now = time.time()
        params = {"key": key, "amount": amount, "expires": None if ttl_s is None else now + ttl_s, "now": now}
        row = self._db.execute(INCR, params).fetchone()
        if row is None:  # (the upsert's WHERE refused a sum past 64 bits, which SQLite would make a REAL)
            (held,) = self._db.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
            raise counter_overflow(key, held, amount)
        value: int = row[0]
        self._incrs += 1
        if self._incrs % 1000 == 0:  # forget expired windows now and then (amortised: ~1 µs per call)
            self._db.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
        return value

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
        row = outcome_row(RoutingOutcome(router, domain, model_name, score, cost, latency_ms, output_tokens))
        await self._run(self._fetch, RECORD_OUTCOME, row)

    async def routing_stats(self, router: str) -> list[RoutingStat]:
        rows = await self._read(
            self._fetch,
            "SELECT domain, model_name, n, score_sum, score_sq_sum, cost_sum, latency_ms_sum, output_tokens_sum"
            " FROM routing_stats WHERE router = ? ORDER BY domain, model_name",
            (router,),
        )
        return [
            RoutingStat(
                domain=d,
                model_name=m,
                n=n,
                score_sum=s,
                score_sq_sum=sq,
                cost_sum=c,
                latency_ms_sum=lat,
                output_tokens_sum=tok,
            )
            for d, m, n, s, sq, c, lat, tok in rows
        ]

    # -- API keys -----------------------------------------------------------------------------
    async def create_api_key(self, key: ApiKey) -> ApiKey:
        check_api_key(key)
        row = (key.id, key.key_hash, key.user_id, key.model_dump_json())
        try:
            await self._run(self._fetch, "INSERT INTO api_keys VALUES (?, ?, ?, ?)", row)
        except StoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, sqlite3.IntegrityError):
                refused = refused_insert("API key", key.id, cause)
                if isinstance(refused, Conflict):
                    raise Conflict("an API key with this hash (or id) already exists") from exc
                raise refused from exc
            raise
        return key

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        rows = await self._lookup(self._fetch, "SELECT doc FROM api_keys WHERE key_hash = ?", (key_hash,))
        return ApiKey.model_validate_json(rows[0][0]) if rows else None

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        where, params = ("WHERE user_id = ?", (user_id,)) if user_id is not None else ("", ())
        # (a read: on the reader thread, not behind writes waiting for another process's lock, as it was)
        rows = await self._read(self._fetch, f"SELECT doc FROM api_keys {where}", params)
        return sorted((ApiKey.model_validate_json(row[0]) for row in rows), key=created_order)

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        return await self._run(self._update_api_key_sync, key_id, "revoked_at", utcnow())

    async def touch_api_key(self, key_id: str, when: datetime) -> None:
        with contextlib.suppress(NotFound):
            await self._run(self._update_api_key_sync, key_id, "last_used_at", when)

    def _update_api_key_sync(self, key_id: str, field: str, when: datetime) -> ApiKey:
        with Write(self._db) as db:
            rows = db.execute("SELECT doc FROM api_keys WHERE id = ?", (key_id,)).fetchall()
            if not rows:
                raise NotFound(f"no API key {key_id!r}")
            key = ApiKey.model_validate_json(rows[0][0])
            if field == "last_used_at" or key.revoked_at is None:
                setattr(key, field, when)
                if field == "revoked_at":
                    key.updated_at = when
                db.execute("UPDATE api_keys SET doc = ? WHERE id = ?", (key.model_dump_json(), key_id))
            return key

    # -- analytics ----------------------------------------------------------------------------
    async def session_analytics(self, session_id: str) -> Analytics:
        return await self._read(self._session_analytics_sync, session_id)

    def _session_analytics_sync(self, session_id: str) -> Analytics:
        with Read(self._db) as db:
            if not self._exists("sessions", session_id):
                raise NotFound(f"no session {session_id!r}")
            (threads,) = db.execute("SELECT COUNT(*) FROM threads WHERE session_id = ?", (session_id,)).fetchone()
            return _analytics.scope_analytics(db, "session", session_id, 1, threads)

    async def user_analytics(self, user_id: str) -> Analytics:
        check_name("user_id", user_id)
        return await self._read(self._user_analytics_sync, user_id)

    def _user_analytics_sync(self, user_id: str) -> Analytics:
        with Read(self._db) as db:
            (sessions,) = db.execute("SELECT COUNT(*) FROM sessions WHERE user_id = ?", (user_id,)).fetchone()
            (threads,) = db.execute("SELECT COUNT(*) FROM threads WHERE user_id = ?", (user_id,)).fetchone()
            return _analytics.scope_analytics(db, "user", user_id, sessions, threads)

    async def model_stats(self, model_name: str) -> ModelStats:
        check_name("model_name", model_name)
        return await self._read(self._model_stats_sync, model_name)

    def _model_stats_sync(self, model_name: str) -> ModelStats:
        with Read(self._db) as db:
            return _analytics.model_stats(db, model_name)
