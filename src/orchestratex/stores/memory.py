"""`MemoryStore`: everything in plain dicts of one process, for tests, notebooks and one-off runs.

Every method runs without awaiting anything, so each is atomic with respect to the other tasks of
the event loop. Nothing survives the process. Not thread-safe: use it from one event loop.

Nothing stored is shared with a caller. Orchestrations and events are kept as their JSON (the
copy a commit makes: one serialisation, a few µs), threads and call records as tuples of their
field values (see `_memory_rows`): forms the cyclic garbage collector does not walk, so a store
holding many finished orchestrations does not slow every full collection. Reads decode a new
object each time. Sessions and API keys, few and changing, are kept as objects, copied in and out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel

from .._ids import utcnow
from ..events import Event
from ..exceptions import ConfigurationError, Conflict, NotFound, UserError
from ..records import TERMINAL_ORCHESTRATION_STATUSES, ApiKey, CallRecord, Orchestration, Session, SessionStatus, Thread
from ._base import (
    Analytics,
    DomainUsage,
    ModelStats,
    ModelUsage,
    RoutingOutcome,
    RoutingStat,
    Started,
    Store,
    check_session_transition,
    fused,
)
from ._memory_rows import (
    C_COST,
    C_DOMAIN,
    C_ERROR,
    C_INPUT_TOKENS,
    C_LATENCY,
    C_MODEL,
    C_OUTPUT_TOKENS,
    C_ROLE,
    C_SCORE,
    O_COST,
    O_CREATED,
    O_DOMAIN,
    O_ITERATIONS,
    O_OVERAGE,
    O_SCORE,
    O_SESSION,
    O_STATUS,
    O_USER,
    THREAD_CREATED,
    THREAD_USER,
    EventStream,
    OrchestrationRow,
    Row,
    call_row,
    load_orchestration,
    load_thread,
    orchestration_row,
    thread_row,
)
from .checks import check_amount, check_commit, check_page, check_start, check_step, check_ttl, from_pico, to_pico

__all__ = ["MemoryStore"]

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")
_DEFAULT_DOMAIN = "general"
_RESUMABLE = frozenset({"pending", "running"})
_SWEEP_AT = 10_000
"""Expired counters are swept when this many exist (and then when the live ones double)."""
_new = object.__new__
_setattr = object.__setattr__


# -- helpers shared with the SQLite store (private to the stores package) ----------------------------


def _rank_offset(n: int, percent: int) -> int:
    """0-based position of the nearest-rank `percent` percentile among `n` sorted values."""
    return max(1, -(-percent * n // 100)) - 1


def _domain(orchestration: Orchestration) -> str:
    return orchestration.domain or _DEFAULT_DOMAIN


def _snapshot(model: _M) -> _M:
    """A copy of `model` that shares nested models but not lists or dicts (about 1 µs; `model_copy` is slower)."""
    new = _new(model.__class__)
    fields = model.__dict__.copy()
    for name, value in fields.items():
        if type(value) is list or type(value) is dict:
            fields[name] = value.copy()
    _setattr(new, "__dict__", fields)
    _setattr(new, "__pydantic_fields_set__", model.__pydantic_fields_set__.copy())
    _setattr(new, "__pydantic_extra__", model.__pydantic_extra__)
    _setattr(new, "__pydantic_private__", model.__pydantic_private__)
    return new


def _page(items: Iterable[_T], limit: int, offset: int, created: Callable[[_T], float]) -> list[_T]:
    """Oldest first (by `created`, a timestamp; ties in the order given), `limit` of them from `offset`."""
    return sorted(items, key=created)[offset : offset + limit]


def _session_created(session: Session) -> float:
    return session.created_at.timestamp()


def _thread_created(row: Row) -> float:
    return float(row[THREAD_CREATED].timestamp())


def _orchestration_created(row: OrchestrationRow) -> float:
    return row[O_CREATED]


class _Budget:
    """A session's money, in pico-dollars."""

    __slots__ = ("limit", "reserved", "spent_at", "total")

    def __init__(self, total: int, limit: int | None) -> None:
        self.total = total
        self.reserved = 0
        self.limit = limit
        self.spent_at: datetime | None = None
        """When the last spending was recorded: the session's `updated_at` from then on."""


class _RoutingSums:
    """The sums of one `RoutingStat`, in a plain slotted object (a pydantic model's `+=` costs ~1 µs each)."""

    __slots__ = ("cost_sum", "latency_ms_sum", "n", "output_tokens_sum", "score_sq_sum", "score_sum")

    def __init__(self) -> None:
        self.n = self.output_tokens_sum = 0
        self.score_sum = self.score_sq_sum = self.cost_sum = self.latency_ms_sum = 0.0

    def stat(self, domain: str, model_name: str) -> RoutingStat:
        return RoutingStat(
            domain=domain,
            model_name=model_name,
            n=self.n,
            score_sum=self.score_sum,
            score_sq_sum=self.score_sq_sum,
            cost_sum=self.cost_sum,
            latency_ms_sum=self.latency_ms_sum,
            output_tokens_sum=self.output_tokens_sum,
        )


class MemoryStore(Store):
    """A `Store` in plain dicts: fast, atomic within one event loop, gone when the process ends."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._budgets: dict[str, _Budget] = {}
        self._sessions_by_user: dict[str, list[str]] = {}
        self._threads: dict[str, Row] = {}
        self._threads_by_session: dict[str, list[str]] = {}
        self._orchestrations: dict[str, OrchestrationRow] = {}
        self._orchestrations_by_session: dict[str, list[str]] = {}
        self._orchestrations_by_thread: dict[str, tuple[str, ...]] = {}
        """A tuple, not a list: most threads have one orchestration, and a tuple of strings is not GC-tracked."""
        self._active: dict[str, None] = {}
        """Ids of pending/running orchestrations, in insertion order."""
        self._events: dict[str, EventStream] = {}
        self._calls_by_user: dict[str, list[Row]] = {}
        self._calls_by_session: dict[str, list[Row]] = {}
        self._calls_by_model: dict[str, list[Row]] = {}
        self._reservations: dict[tuple[str, str], int] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._counters: dict[str, list[Any]] = {}
        self._sweep_at = _SWEEP_AT
        self._routing: dict[tuple[str, str, str], _RoutingSums] = {}
        self._api_keys: dict[str, ApiKey] = {}
        self._cancel_requests: set[str] = set()

    @classmethod
    def from_url(cls, url: str) -> Self:
        """`memory://` (nothing else may follow the scheme)."""
        parts = urlsplit(url)
        if parts.scheme != "memory" or parts.netloc or parts.path or parts.query or parts.fragment:
            raise ConfigurationError(f"a memory store URL is exactly 'memory://', not {url!r}")
        return cls()

    # -- sessions -----------------------------------------------------------------------------
    async def create_session(self, session: Session) -> Session:
        if session.id in self._sessions:
            raise Conflict(f"session {session.id!r} already exists")
        if session.reserved_cost != 0:
            raise UserError("a new session cannot hold reserved budget (reserved_cost must be 0)")
        check_amount("total_cost", session.total_cost)
        limit = session.settings.cost_limit
        stored = _snapshot(session)
        stored.__dict__["settings"] = _snapshot(session.settings)
        self._sessions[session.id] = stored
        self._budgets[session.id] = _Budget(to_pico(session.total_cost), None if limit is None else to_pico(limit))
        self._sessions_by_user.setdefault(session.user_id, []).append(session.id)
        self._events[session.id] = EventStream()
        return session

    def _session(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFound(f"no session {session_id!r}")
        return session

    def _session_view(self, session: Session) -> Session:
        view = _snapshot(session)
        fields = view.__dict__
        fields["settings"] = _snapshot(session.settings)
        budget = self._budgets[session.id]
        fields["total_cost"] = from_pico(budget.total)
        fields["reserved_cost"] = from_pico(budget.reserved)
        if budget.spent_at is not None and budget.spent_at > view.updated_at:
            fields["updated_at"] = budget.spent_at
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
        return [load_orchestration(row) for row in _page(found, limit, offset, _orchestration_created)]

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
    ) -> _Budget:
        """`commit`, as a plain call for `commit_step` (no coroutine of its own); returns the session's budget."""
        session_id = orchestration.session_id
        budget = self._budgets.get(session_id)
        if budget is None:
            raise NotFound(f"no session {session_id!r}")
        check_commit(session_id, events, calls, spent, released)
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

    def _reserve(self, budget: _Budget, session_id: str, orchestration_id: str, pico: int) -> bool:
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
        check_page(limit, since)
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

    # -- counters -----------------------------------------------------------------------------
    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        check_ttl(ttl_s, "counter")
        now = time.time()
        counter = self._counters.get(key)
        if counter is None or (counter[1] is not None and counter[1] <= now):
            if len(self._counters) >= self._sweep_at:
                self._sweep_counters(now)
            self._counters[key] = [amount, None if ttl_s is None else now + ttl_s]
            return amount
        counter[0] += amount
        return int(counter[0])

    def _sweep_counters(self, now: float) -> None:
        """Forget expired counters; the next sweep waits until the live ones have doubled (amortised O(1))."""
        for key in [k for k, (_, expires) in self._counters.items() if expires is not None and expires <= now]:
            del self._counters[key]
        self._sweep_at = max(_SWEEP_AT, 2 * len(self._counters))

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
                sums = routing[key] = _RoutingSums()
            sums.n += 1
            sums.score_sum += o.score
            sums.score_sq_sum += o.score * o.score
            sums.cost_sum += o.cost
            sums.latency_ms_sum += o.latency_ms
            sums.output_tokens_sum += o.output_tokens

    async def routing_stats(self, router: str) -> list[RoutingStat]:
        found = sorted((domain, model, sums) for (r, domain, model), sums in self._routing.items() if r == router)
        return [sums.stat(domain, model) for domain, model, sums in found]

    # -- API keys -----------------------------------------------------------------------------
    async def create_api_key(self, key: ApiKey) -> ApiKey:
        if key.key_hash in self._api_keys:
            raise Conflict("an API key with this hash already exists")
        self._api_keys[key.key_hash] = _snapshot(key)
        return key

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        key = self._api_keys.get(key_hash)
        return None if key is None else _snapshot(key)

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        keys = [k for k in self._api_keys.values() if user_id is None or k.user_id == user_id]
        return [_snapshot(k) for k in sorted(keys, key=lambda k: (k.created_at, k.id))]

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        key = self._api_key_by_id(key_id)
        if key.revoked_at is None:
            key.revoked_at = key.updated_at = utcnow()
        return _snapshot(key)

    async def touch_api_key(self, key_id: str, when: datetime) -> None:
        with contextlib.suppress(NotFound):
            self._api_key_by_id(key_id).last_used_at = when

    async def ping(self) -> None:
        return None

    def _api_key_by_id(self, key_id: str) -> ApiKey:
        for key in self._api_keys.values():
            if key.id == key_id:
                return key
        raise NotFound(f"no API key {key_id!r}")

    # -- analytics ----------------------------------------------------------------------------
    async def session_analytics(self, session_id: str) -> Analytics:
        self._session(session_id)
        orchestrations = [self._orchestrations[i] for i in self._orchestrations_by_session.get(session_id, ())]
        return _analytics(
            "session",
            session_id,
            sessions=1,
            threads=len(self._threads_by_session.get(session_id, ())),
            orchestrations=orchestrations,
            calls=self._calls_by_session.get(session_id, ()),
        )

    async def user_analytics(self, user_id: str) -> Analytics:
        session_ids = self._sessions_by_user.get(user_id, ())
        orchestrations = [row for row in self._orchestrations.values() if row[O_USER] == user_id]
        threads = sum(1 for row in self._threads.values() if row[THREAD_USER] == user_id)
        return _analytics(
            "user",
            user_id,
            sessions=len(session_ids),
            threads=threads,
            orchestrations=orchestrations,
            calls=self._calls_by_user.get(user_id, ()),
        )

    async def model_stats(self, model_name: str) -> ModelStats:
        calls = self._calls_by_model.get(model_name, ())
        if not calls:
            return ModelStats(model_name=model_name)
        errors = sum(1 for c in calls if c[C_ERROR] is not None)
        p50, p95 = _percentiles([c[C_LATENCY] for c in calls])
        by_domain: dict[str, list[float]] = {}
        for c in calls:
            if c[C_ROLE] == "generate" and c[C_SCORE] is not None:
                by_domain.setdefault(c[C_DOMAIN], []).append(c[C_SCORE])
        return ModelStats(
            model_name=model_name,
            requests=len(calls),
            errors=errors,
            error_rate=errors / len(calls),
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            mean_score_by_domain={d: sum(s) / len(s) for d, s in sorted(by_domain.items())},
        )

    # -- one call for all of an orchestrator's runs ---------------------------------------------
    @fused
    async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
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


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    """Nearest-rank p50 and p95."""
    if not values:
        return None, None
    values.sort()
    return values[_rank_offset(len(values), 50)], values[_rank_offset(len(values), 95)]


def _model_usage(model_name: str, calls: list[Row]) -> ModelUsage:
    scores = [c[C_SCORE] for c in calls if c[C_ROLE] == "generate" and c[C_SCORE] is not None]
    p50, p95 = _percentiles([c[C_LATENCY] for c in calls])
    return ModelUsage(
        model_name=model_name,
        calls=len(calls),
        generations=sum(1 for c in calls if c[C_ROLE] == "generate"),
        judgements=sum(1 for c in calls if c[C_ROLE] == "judge"),
        cost=from_pico(sum(to_pico(c[C_COST]) for c in calls)),
        mean_score=sum(scores) / len(scores) if scores else None,
        errors=sum(1 for c in calls if c[C_ERROR] is not None),
        latency_p50_ms=p50,
        latency_p95_ms=p95,
    )


def _analytics(
    scope: str,
    scope_id: str,
    *,
    sessions: int,
    threads: int,
    orchestrations: list[OrchestrationRow],
    calls: Sequence[Row],
) -> Analytics:
    by_status: dict[str, int] = {}
    by_domain: dict[str, list[OrchestrationRow]] = {}
    for o in orchestrations:
        by_status[o[O_STATUS]] = by_status.get(o[O_STATUS], 0) + 1
        by_domain.setdefault(o[O_DOMAIN], []).append(o)
    scores = [o[O_SCORE] for o in orchestrations if o[O_SCORE] is not None]
    iterations = sum(o[O_ITERATIONS] for o in orchestrations)
    by_model: dict[str, list[Row]] = {}
    for c in calls:
        by_model.setdefault(c[C_MODEL], []).append(c)
    p50, p95 = _percentiles([c[C_LATENCY] for c in calls])
    domains = []
    for domain, group in sorted(by_domain.items()):
        group_scores = [o[O_SCORE] for o in group if o[O_SCORE] is not None]
        domains.append(
            DomainUsage(
                domain=domain,
                orchestrations=len(group),
                cost=from_pico(sum(to_pico(o[O_COST]) for o in group)),
                mean_final_score=sum(group_scores) / len(group_scores) if group_scores else None,
            )
        )
    from statistics import median  # analytics only: kept out of `import orchestratex`

    return Analytics(
        scope=scope,
        scope_id=scope_id,
        sessions=sessions,
        threads=threads,
        orchestrations=len(orchestrations),
        by_status=by_status,
        total_cost=from_pico(sum(to_pico(o[O_COST]) for o in orchestrations)),
        overage_cost=from_pico(sum(to_pico(o[O_OVERAGE]) for o in orchestrations if o[O_OVERAGE])),
        input_tokens=sum(c[C_INPUT_TOKENS] for c in calls),
        output_tokens=sum(c[C_OUTPUT_TOKENS] for c in calls),
        total_iterations=iterations,
        mean_iterations=iterations / len(orchestrations) if orchestrations else None,
        mean_final_score=sum(scores) / len(scores) if scores else None,
        median_final_score=median(scores) if scores else None,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        models=[_model_usage(name, group) for name, group in sorted(by_model.items())],
        domains=domains,
    )
