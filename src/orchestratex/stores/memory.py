"""`MemoryStore`: everything in plain dicts of one process, for tests, notebooks and one-off runs.

Every method runs without awaiting anything, so each is atomic with respect to the other tasks of
the event loop. Nothing survives the process. Not thread-safe: use it from one event loop.

Nothing stored is shared with a caller. Orchestrations and events are kept as their JSON (the
copy a commit makes: one serialisation, a few µs), threads and call records as tuples of their
field values (see `_memory_rows`): forms the cyclic garbage collector does not walk, so a store
holding many finished orchestrations does not slow every full collection. Reads decode a new
object each time. Sessions and API keys, few and changing, are kept as objects, copied in and out.

The tables are `_memory_state.MemoryState`'s; the analytics (`_memory_analytics`) and the server's API keys
and counters (`_memory_server`) are implemented beside this module, over the same tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Self, TypeVar

from .._ids import epoch_seconds, utcnow
from ..events import Event
from ..exceptions import ConfigurationError, Conflict, NotFound
from ..records import TERMINAL_ORCHESTRATION_STATUSES, CallRecord, Orchestration, Session, SessionStatus, Thread
from ._base import RoutingOutcome, RoutingStat, Started, check_session_transition, fused
from ._memory_analytics import MemoryAnalytics
from ._memory_rows import (
    O_CREATED,
    O_DOC,
    O_SESSION,
    O_USER,
    THREAD_CREATED,
    EventStream,
    OrchestrationRow,
    Row,
    call_row,
    load_orchestration,
    load_thread,
    orchestration_row,
    snapshot,
    thread_row,
)
from ._memory_server import MemoryServerTables
from ._memory_state import Budget, RoutingSums
from ._unreadable import listed_orchestrations
from .checks import (
    check_amount,
    check_commit,
    check_ids,
    check_orchestration,
    check_page,
    check_session,
    check_start,
    check_step,
    check_thread,
    check_ttl,
    from_pico,
    to_pico,
)

__all__ = ["MemoryStore"]

_T = TypeVar("_T")
_DEFAULT_DOMAIN = "general"
_RESUMABLE = frozenset({"pending", "running"})


# -- helpers shared with the SQLite store (private to the stores package) ----------------------------


def _domain(orchestration: Orchestration) -> str:
    return orchestration.domain or _DEFAULT_DOMAIN


def _page(items: Iterable[_T], limit: int, offset: int, created: Callable[[_T], float]) -> list[_T]:
    """Oldest first (by `created`, a timestamp; ties in the order given), `limit` of them from `offset`."""
    return sorted(items, key=created)[offset : offset + limit]


def _session_created(session: Session) -> float:
    return epoch_seconds(session.created_at)


def _thread_created(row: Row) -> float:
    return epoch_seconds(row[THREAD_CREATED])


def _orchestration_created(row: OrchestrationRow) -> float:
    return row[O_CREATED]


class MemoryStore(MemoryAnalytics, MemoryServerTables):
    """A `Store` in plain dicts: fast, atomic within one event loop, gone when the process ends."""

    @classmethod
    def from_url(cls, url: str) -> Self:
        """`memory://` (nothing else may follow the scheme)."""
        if url.lower() != "memory://":  # (`memory:`, without its `//`, was taken: every other store refuses that form)
            from ._url import redacted_url  # (here: `_url` imports this module)

            raise ConfigurationError(f"a memory store URL is exactly 'memory://', not {redacted_url(url)!r}")
        return cls()

    def __repr__(self) -> str:
        """`MemoryStore()`, as `Orchestrator`'s repr shows it (not `<… object at 0x…>`, in a notebook)."""
        return f"{type(self).__name__}()"

    # -- sessions -----------------------------------------------------------------------------
    async def create_session(self, session: Session) -> Session:
        if session.id in self._sessions:
            raise Conflict(f"session {session.id!r} already exists")
        check_session(session)
        limit = session.settings.cost_limit
        stored = snapshot(session)
        stored.__dict__["settings"] = snapshot(session.settings)
        self._sessions[session.id] = stored
        self._budgets[session.id] = Budget(to_pico(session.total_cost), None if limit is None else to_pico(limit))
        self._sessions_by_user.setdefault(session.user_id, []).append(session.id)
        self._events[session.id] = EventStream()
        return session

    def _session_view(self, session: Session) -> Session:
        view = snapshot(session)
        fields = view.__dict__
        fields["settings"] = snapshot(session.settings)
        budget = self._budgets[session.id]
        fields["total_cost"] = from_pico(budget.total)
        fields["reserved_cost"] = from_pico(budget.reserved)
        if budget.spent_at is not None and budget.spent_at.timestamp() > epoch_seconds(view.updated_at):
            fields["updated_at"] = budget.spent_at  # (compared as instants: a naive `updated_at` is UTC)
        return view

    async def get_session(self, session_id: str) -> Session:
        return self._session_view(self._session(session_id))

    async def list_sessions(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[Session]:
        check_page(limit, offset)
        found = (self._sessions[i] for i in self._sessions_by_user.get(user_id, ()))
        return [self._session_view(s) for s in _page(found, limit, offset, _session_created)]

    async def set_session_status(self, session_id: str, status: SessionStatus) -> Session:
        session = self._session(session_id)
        check_session_transition(session.status, status)
        if status != session.status:
            now = utcnow()
            session.status = status
            session.updated_at = now
            if status in ("completed", "cancelled"):
                session.session_end = now
        return self._session_view(session)

    # -- threads ------------------------------------------------------------------------------
    async def create_thread(self, thread: Thread) -> Thread:
        if thread.id in self._threads:
            raise Conflict(f"thread {thread.id!r} already exists")
        check_thread(thread)
        self._session(thread.session_id)
        self._threads[thread.id] = thread_row(thread)
        self._threads_by_session.setdefault(thread.session_id, []).append(thread.id)
        return thread

    async def get_thread(self, thread_id: str) -> Thread:
        thread = self._threads.get(thread_id)
        if thread is None:
            raise NotFound(f"no thread {thread_id!r}")
        return load_thread(thread)

    async def list_threads(self, session_id: str, *, limit: int = 100, offset: int = 0) -> list[Thread]:
        check_page(limit, offset)
        found = (self._threads[i] for i in self._threads_by_session.get(session_id, ()))
        return [load_thread(t) for t in _page(found, limit, offset, _thread_created)]

    # -- orchestrations -----------------------------------------------------------------------
    def _store_orchestration(self, orchestration: Orchestration) -> None:
        oid = orchestration.id
        if oid not in self._orchestrations:
            self._orchestrations_by_session.setdefault(orchestration.session_id, []).append(oid)
            by_thread = self._orchestrations_by_thread
            by_thread[orchestration.thread_id] = (*by_thread.get(orchestration.thread_id, ()), oid)
        self._orchestrations[oid] = orchestration_row(orchestration)
        if orchestration.status in _RESUMABLE:
            self._active[oid] = None
        else:
            self._active.pop(oid, None)
            self._cancel_requests.discard(oid)

    async def create_orchestration(self, orchestration: Orchestration) -> Orchestration:
        if orchestration.id in self._orchestrations:
            raise Conflict(f"orchestration {orchestration.id!r} already exists")
        check_orchestration(orchestration)
        self._session(orchestration.session_id)
        if orchestration.thread_id not in self._threads:
            raise NotFound(f"no thread {orchestration.thread_id!r}")
        self._store_orchestration(orchestration)
        return orchestration

    async def get_orchestration(self, orchestration_id: str) -> Orchestration:
        row = self._orchestrations.get(orchestration_id)
        if row is None:
            raise NotFound(f"no orchestration {orchestration_id!r}")
        return load_orchestration(row)

    async def list_orchestrations(
        self, *, session_id: str | None = None, thread_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Orchestration]:
        check_page(limit, offset)
        if thread_id is not None:
            ids: Iterable[str] = self._orchestrations_by_thread.get(thread_id, ())
        elif session_id is not None:
            ids = self._orchestrations_by_session.get(session_id, ())
        else:
            ids = self._orchestrations
        found = (self._orchestrations[i] for i in ids)
        if session_id is not None and thread_id is not None:
            found = (row for row in found if row[O_SESSION] == session_id)
        return listed_orchestrations(row[O_DOC] for row in _page(found, limit, offset, _orchestration_created))

    async def count_active_orchestrations(self, user_id: str) -> int:
        orchestrations = self._orchestrations
        return sum(orchestrations[oid][O_USER] == user_id for oid in self._active)

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
        self._commit(orchestration, events, calls, spent, released, owner)
        return events

    def _commit(
        self,
        orchestration: Orchestration,
        events: Sequence[Event],
        calls: Sequence[CallRecord],
        spent: float,
        released: float,
        owner: str | None,
    ) -> Budget:
        """`commit`, as a plain call for `commit_step` (no coroutine of its own); returns the session's budget."""
        session_id = orchestration.session_id
        budget = self._budgets.get(session_id)
        if budget is None:
            raise NotFound(f"no session {session_id!r}")
        check_commit(session_id, events, calls, spent, released)
        check_orchestration(orchestration)
        if owner is not None:
            lease = self._leases.get(orchestration.id)
            if lease is None or lease[0] != owner:
                raise Conflict(f"orchestration {orchestration.id} is not leased to {owner!r}: another process runs it")
        # Nothing below can fail: the commit is all-or-nothing.
        terminal = orchestration.status in TERMINAL_ORCHESTRATION_STATUSES  # an ended run holds nothing
        if released or terminal:
            key = (session_id, orchestration.id)
            held = self._reservations.get(key, 0)
            freed = held if terminal else min(held, to_pico(released))
            if held - freed:
                self._reservations[key] = held - freed
            else:
                self._reservations.pop(key, None)
            budget.reserved -= freed
        orchestration.updated_at = utcnow()
        if spent:
            budget.total += to_pico(spent)
            budget.spent_at = orchestration.updated_at
        self._store_orchestration(orchestration)
        if calls:
            for call in calls:
                row = call_row(call)
                self._calls_by_user.setdefault(call.user_id, []).append(row)
                self._calls_by_session.setdefault(session_id, []).append(row)
                self._calls_by_model.setdefault(call.model_name, []).append(row)
        if events:
            self._events[session_id].extend(events)
        return budget

    # -- one round trip per step -----------------------------------------------------------------
    @fused
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
        check_start(orchestration, thread, ttl_s, events, reserve)
        session_id = orchestration.session_id
        session = self._session(session_id)
        if orchestration.id in self._orchestrations:
            raise Conflict(f"orchestration {orchestration.id!r} already exists")
        if thread is not None:  # checked before anything is written: all or nothing
            if thread.id in self._threads:
                raise Conflict(f"thread {thread.id!r} already exists")
            self._threads[thread.id] = thread_row(thread)
            self._threads_by_session.setdefault(thread.session_id, []).append(thread.id)
        elif orchestration.thread_id not in self._threads:
            raise NotFound(f"no thread {orchestration.thread_id!r}")
        # nothing below can fail or suspend: one atomic step for the event loop
        self._store_orchestration(orchestration)
        self._leases[orchestration.id] = (owner, time.time() + ttl_s)
        budget = self._budgets[session_id]
        if events:
            self._events[session_id].extend(events)
        granted = self._reserve(budget, session_id, orchestration.id, to_pico(reserve)) if reserve else True
        return Started(self._session_view(session), granted)

    @fused
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
        check_step(orchestration, reserve, owner, release_lease)
        # none of these suspends: the three are one atomic step for the event loop
        budget = self._commit(orchestration, events, calls, spent, released, owner)
        oid = orchestration.id
        granted = self._reserve(budget, orchestration.session_id, oid, to_pico(reserve)) if reserve else True
        if outcomes:
            self._record_outcomes(outcomes)
        if release_lease and owner is not None:
            self._release(oid, owner)
        return granted

    # -- budget -------------------------------------------------------------------------------
    async def reserve_budget(self, session_id: str, orchestration_id: str, amount: float) -> bool:
        check_amount("amount", amount)
        budget = self._budgets.get(session_id)
        if budget is None:
            raise NotFound(f"no session {session_id!r}")
        return self._reserve(budget, session_id, orchestration_id, to_pico(amount))

    def _reserve(self, budget: Budget, session_id: str, orchestration_id: str, pico: int) -> bool:
        """Reserve `pico` (a checked amount) of `budget`, the session's, for the orchestration, if the limit allows."""
        if budget.limit is not None and budget.total + budget.reserved + pico > budget.limit:
            return False
        budget.reserved += pico
        key = (session_id, orchestration_id)
        self._reservations[key] = self._reservations.get(key, 0) + pico
        return True

    async def release_reservations(self, session_id: str, orchestration_id: str) -> float:
        budget = self._budgets.get(session_id)
        if budget is None:
            raise NotFound(f"no session {session_id!r}")
        held = self._reservations.pop((session_id, orchestration_id), 0)
        budget.reserved -= held
        return from_pico(held)

    # -- events -------------------------------------------------------------------------------
    async def list_events(
        self, session_id: str, *, since: int = 0, limit: int = 1000, orchestration_id: str | None = None
    ) -> list[Event]:
        check_page(limit, since, offset_name="since")
        stream = self._events.get(session_id)
        if stream is None:
            raise NotFound(f"no session {session_id!r}")
        return stream.page(since, limit, orchestration_id)

    # -- leases -------------------------------------------------------------------------------
    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        check_ttl(ttl_s)
        if orchestration_id not in self._orchestrations:
            raise NotFound(f"no orchestration {orchestration_id!r}")
        now = time.time()
        lease = self._leases.get(orchestration_id)
        if lease is not None and lease[0] != owner and lease[1] > now:
            return False
        self._leases[orchestration_id] = (owner, now + ttl_s)
        return True

    async def release(self, orchestration_id: str, owner: str) -> None:
        self._release(orchestration_id, owner)

    def _release(self, orchestration_id: str, owner: str) -> None:
        lease = self._leases.get(orchestration_id)
        if lease is not None and lease[0] == owner:
            del self._leases[orchestration_id]

    async def list_resumable(self, *, limit: int = 100) -> list[str]:
        check_page(limit, 0)
        now = time.time()
        free = []
        for oid in self._active:
            lease = self._leases.get(oid)
            if lease is None or lease[1] <= now:
                free.append((self._orchestrations[oid][O_CREATED], oid))
        return [oid for _, oid in _page(free, limit, 0, itemgetter(0))]

    async def expire_leases_of(self, gone: Callable[[str], bool]) -> set[str]:
        now = time.time()
        held: dict[str, list[str]] = {}
        for oid in self._active:
            lease = self._leases.get(oid)
            if lease is not None and lease[1] > now:
                held.setdefault(lease[0], []).append(oid)
        ended = {owner for owner in held if gone(owner)}
        for owner in ended:
            for oid in held[owner]:
                self._leases[oid] = (owner, now)
        return ended

    # -- cancellation -------------------------------------------------------------------------
    async def request_cancel(self, orchestration_id: str) -> bool:
        if orchestration_id not in self._orchestrations:
            raise NotFound(f"no orchestration {orchestration_id!r}")
        if orchestration_id not in self._active:
            return False
        self._cancel_requests.add(orchestration_id)
        return True

    async def cancel_requested(self, orchestration_id: str) -> bool:
        row = self._orchestrations.get(orchestration_id)
        if row is None:
            return False
        if orchestration_id in self._cancel_requests:
            return True
        session = self._sessions.get(row[O_SESSION])
        return session is not None and session.status in ("completed", "cancelled")

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
        self._record_outcomes((RoutingOutcome(router, domain, model_name, score, cost, latency_ms, output_tokens),))

    def _record_outcomes(self, outcomes: Iterable[RoutingOutcome]) -> None:
        routing = self._routing
        for o in outcomes:
            key = (o.router, o.domain, o.model_name)
            sums = routing.get(key)
            if sums is None:
                sums = routing[key] = RoutingSums()
            sums.n += 1
            sums.score_sum += o.score
            sums.score_sq_sum += o.score * o.score
            sums.cost_sum += o.cost
            sums.latency_ms_sum += o.latency_ms
            sums.output_tokens_sum += o.output_tokens

    async def routing_stats(self, router: str) -> list[RoutingStat]:
        found = sorted((domain, model, sums) for (r, domain, model), sums in self._routing.items() if r == router)
        return [sums.stat(domain, model) for domain, model, sums in found]

    async def ping(self) -> None:
        return None

    # -- one call for all of an orchestrator's runs ---------------------------------------------
    @fused
    async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
        check_ids(orchestration_ids)
        check_ttl(ttl_s)
        now = time.time()
        held: set[str] = set()
        for oid in orchestration_ids:
            lease = self._leases.get(oid)
            if oid in self._orchestrations and (lease is None or lease[0] == owner or lease[1] <= now):
                self._leases[oid] = (owner, now + ttl_s)
                held.add(oid)
        return held

    @fused
    async def cancel_requests(self, orchestration_ids: Sequence[str]) -> set[str]:
        check_ids(orchestration_ids)
        ended = ("completed", "cancelled")
        stop: set[str] = set()
        for oid in orchestration_ids:
            row = self._orchestrations.get(oid)
            if row is None:
                continue
            session = self._sessions.get(row[O_SESSION])
            if oid in self._cancel_requests or (session is not None and session.status in ended):
                stop.add(oid)
        return stop
