"""The `Store` contract: async persistence of everything an orchestrator and the server keep.

Every method is atomic on its own. `commit` is the durability seam of the orchestration loop:
it saves an orchestration's new state, the cost it spent, the budget it releases and the events
it emits in one step, so a crash never leaves a paid result unsaved but counted, nor an event
stored twice or lost.
"""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

from ..events import Event
from ..exceptions import StoreError
from ..records import TERMINAL_ORCHESTRATION_STATUSES, ApiKey, CallRecord, Orchestration, Session, SessionStatus, Thread

__all__ = [
    "COMPOSED_FROM",
    "SESSION_TRANSITIONS",
    "Analytics",
    "DomainUsage",
    "ModelStats",
    "ModelUsage",
    "RoutingOutcome",
    "RoutingStat",
    "Started",
    "Store",
    "check_session_transition",
    "fused",
]

_logger = logging.getLogger("orchestratex.stores")


_F = TypeVar("_F", bound=Callable[..., Any])

COMPOSED_FROM: dict[str, tuple[str, ...]] = {
    "start": ("create_thread", "create_orchestration", "claim", "commit", "reserve_budget", "get_session"),
    "commit_step": ("commit", "reserve_budget", "record_routing_outcome", "release"),
    "renew_leases": ("claim",),
    "cancel_requests": ("cancel_requested", "request_cancel"),
}
"""The methods whose `Store` default is composed of other methods (the primitives), with those primitives."""


def fused(fast: _F) -> _F:
    """Mark a store's own implementation of a method of `COMPOSED_FROM`, which does in one round trip what
    `Store`'s default does with the primitives. Called on an instance of a subclass that overrides any of
    them (to wrap `commit`, say), it runs `Store`'s default instead, built from them, so that the override
    sees every call. Which classes those are is settled once, when each class is defined (see
    `Store.__init_subclass__`): a call costs one membership test."""
    name = fast.__name__
    default = getattr(Store, name)

    @functools.wraps(fast)
    async def dispatch(self: Store, /, *args: Any, **kwargs: Any) -> Any:  # (a coroutine function, as `fast`)
        if name in type(self)._composed:
            return await default(self, *args, **kwargs)
        return await fast(self, *args, **kwargs)

    dispatch.__fused__ = True  # type: ignore[attr-defined]
    return cast(_F, dispatch)


SESSION_TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"paused", "completed", "cancelled"}),
    "paused": frozenset({"active", "completed", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}
"""Allowed session status changes; `completed` and `cancelled` are final."""


def check_session_transition(current: str, new: str) -> None:
    from ..exceptions import Conflict

    if new == current:
        return
    if new not in SESSION_TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(SESSION_TRANSITIONS.get(current, ()))) or "none (it is final)"
        raise Conflict(f"a session cannot go from {current!r} to {new!r}; allowed from {current!r}: {allowed}")


class RoutingStat(BaseModel):
    """What a router has observed for one model in one domain (sums, so updates are atomic increments)."""

    model_config = ConfigDict(defer_build=True)

    domain: str
    model_name: str
    n: int = 0
    score_sum: float = 0.0
    score_sq_sum: float = 0.0
    cost_sum: float = 0.0
    latency_ms_sum: float = 0.0
    output_tokens_sum: int = 0

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.n if self.n else None


@dataclass(frozen=True, slots=True)
class RoutingOutcome:
    """One observation for a router's statistics (the arguments of `Store.record_routing_outcome`), written
    with a step's commit by `Store.commit_step(outcomes=...)`."""

    router: str
    domain: str
    model_name: str
    score: float
    cost: float
    latency_ms: float
    output_tokens: int


class Started(NamedTuple):
    """What `Store.start` returns."""

    session: Session
    """The orchestration's session as it is after the start (`total_cost`, `reserved_cost` with the reservation)."""
    reserved: bool
    """Whether the start's `reserve` was reserved (True when it is 0)."""


class ModelUsage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    model_name: str
    calls: int
    generations: int
    judgements: int
    cost: float
    mean_score: float | None
    """Mean evaluation score of this model's answers."""
    errors: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None


class DomainUsage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    domain: str
    orchestrations: int
    cost: float
    mean_final_score: float | None


class ModelStats(BaseModel):
    """Live statistics of one model, from the recorded calls."""

    model_config = ConfigDict(defer_build=True)

    model_name: str
    requests: int = 0
    errors: int = 0
    error_rate: float = 0.0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    mean_score_by_domain: dict[str, float] = Field(default_factory=dict)
    """Mean evaluation score of the model's answers, per domain."""


class Analytics(BaseModel):
    """Aggregates over a session's or a user's orchestrations, computed inside the store."""

    model_config = ConfigDict(defer_build=True)

    scope: str
    """`session` or `user`."""
    scope_id: str
    """The session's or the user's id."""
    sessions: int = 0
    """How many sessions it counts."""
    threads: int = 0
    """How many threads it counts."""
    orchestrations: int = 0
    """How many orchestrations it counts."""
    by_status: dict[str, int] = Field(default_factory=dict)
    """The orchestrations by status (`completed`, `failed`, …)."""
    total_cost: float = 0.0
    """US dollars spent in all: answers and judges."""
    overage_cost: float = 0.0
    """The part of `total_cost` that providers billed above the worst case reserved for their calls
    (see `Orchestration.overage_cost`); 0 when every provider stayed within its bounds."""
    input_tokens: int = 0
    """Tokens read by every model call."""
    output_tokens: int = 0
    """Tokens written by every model call."""
    total_iterations: int = 0
    """Attempts made by all its orchestrations."""
    mean_iterations: float | None = None
    """Attempts per orchestration; None without orchestrations."""
    mean_final_score: float | None = None
    """The mean final score of the orchestrations that have one."""
    median_final_score: float | None = None
    """The median final score of the orchestrations that have one."""
    latency_p50_ms: float | None = None
    """Over all model calls."""
    latency_p95_ms: float | None = None
    """Over all model calls."""
    models: list[ModelUsage] = Field(default_factory=list)
    """Calls, cost, mean score, errors and latency per model."""
    domains: list[DomainUsage] = Field(default_factory=list)
    """Orchestrations, cost and mean final score per domain."""


class Store(ABC):
    """Async persistence of sessions, threads, orchestrations, events, router statistics, API keys,
    budget reservations, counters and leases.

    Implementations: `MemoryStore`, `SQLiteStore` (built in), `MongoStore` (orchestratex-mongodb). All
    pass the contract suite, `orchestratex.testing.store_contract.StoreContract`, which a third-party
    store runs too (see docs/stores.md, "Writing your own store"; such a store also gives its class a
    `from_url(url)` classmethod for `open_store`). What to implement: `sorted(Store.__abstractmethods__)`.

    Conventions every method follows: an unknown id raises `NotFound` where a method names one record
    (`get_*`, `set_session_status`, `claim`, ...), a `create_*` of an existing id raises `Conflict`, and
    invalid arguments raise `ValueError` (the checks of `orchestratex.stores.checks` give the built-in
    stores' messages). Listing methods return oldest first: by `created_at`, ties in the order the
    records were stored; `limit` and `offset` page them (`ValueError` when negative).
    """

    _composed: ClassVar[frozenset[str]] = frozenset()
    """The `fused` methods this class runs as `Store`'s default: it overrides one of their primitives."""
    _made_by_orchestrator = False
    """Whether an orchestrator made it (from a URL, or by default): then it opens and closes it, which `_not_open`
    says."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        composed = set()
        for klass in cls.__mro__:  # each `fused` method, and whether `cls` overrides a primitive below it
            for name, method in vars(klass).items():
                if getattr(method, "__fused__", False):
                    if any(getattr(cls, p) is not getattr(klass, p) for p in COMPOSED_FROM[name]):
                        composed.add(name)
        cls._composed = frozenset(composed)

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and create tables/indexes (idempotent). Called by `async with store`."""
        return None

    async def close(self) -> None:
        """Release what `open` acquired."""
        return None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    def _not_open(self) -> StoreError:
        """The error of a store used while it is not open, saying who opens it: its orchestrator, for a store made from
        a URL (read before its first run, or after `close()`: "`await store.open()`" named no store of the user's)."""
        if self._made_by_orchestrator:
            return StoreError(
                f"{self!r} is not open: the Orchestrator that made it from its URL opens it (at its next run, or as"
                " `with orchestrator:` or `async with orchestrator:` begins) and closes it (close(), aclose()); read it"
                " within such a block, or after a run and before close()"
            )
        return StoreError(f"{self!r} is not open: `await store.open()` or use `async with store:` first")

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sessions -----------------------------------------------------------------------------
    @abstractmethod
    async def create_session(self, session: Session) -> Session:
        """Store a new session and return it. `Conflict` when its id exists; `ValueError` unless its
        `reserved_cost` is 0, its `total_cost` a valid amount (kept: a session may start with spending) and its
        fields could be read back (`checks.check_session`, which checks all of that)."""

    @abstractmethod
    async def get_session(self, session_id: str) -> Session:
        """Raise `NotFound` when absent (an id that is None too: one read from a request that lacked it)."""

    @abstractmethod
    async def list_sessions(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[Session]:
        """The user's sessions, oldest first (`[]` for a user with none). `UserError` for a `limit` or `offset` that
        is not an int from 0 to 2**63 - 1 (`checks.check_page(limit, offset)`), as every listing."""

    @abstractmethod
    async def set_session_status(self, session_id: str, status: SessionStatus) -> Session:
        """Change status along `SESSION_TRANSITIONS` (else `Conflict`); a final status sets `session_end`."""

    # -- threads ------------------------------------------------------------------------------
    @abstractmethod
    async def create_thread(self, thread: Thread) -> Thread:
        """Store a new thread and return it. `NotFound` when its session does not exist (whatever that
        session's status: the orchestrator checks it is active); `Conflict` when its id exists; `ValueError` when its
        fields could not be read back (`checks.check_thread`)."""

    @abstractmethod
    async def get_thread(self, thread_id: str) -> Thread:
        """Raise `NotFound` when absent."""

    @abstractmethod
    async def list_threads(self, session_id: str, *, limit: int = 100, offset: int = 0) -> list[Thread]:
        """The session's threads, oldest first (`[]` for an unknown session)."""

    # -- orchestrations -----------------------------------------------------------------------
    @abstractmethod
    async def create_orchestration(self, orchestration: Orchestration) -> Orchestration:
        """Store a new orchestration as given and return it. `NotFound` when its session or its thread does
        not exist; `Conflict` when its id exists; `ValueError` when it could not be kept and read back (a NaN
        cost, an unknown status, None where text goes: `checks.check_orchestration`)."""

    @abstractmethod
    async def get_orchestration(self, orchestration_id: str) -> Orchestration:
        """Raise `NotFound` when absent."""

    @abstractmethod
    async def list_orchestrations(
        self, *, session_id: str | None = None, thread_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Orchestration]:
        """The orchestrations of `session_id` and/or `thread_id` (every one when neither is given), oldest
        first; `[]` for an unknown session or thread."""

    async def count_active_orchestrations(self, user_id: str) -> int:
        """How many of the user's orchestrations are `pending` or `running` (the server's concurrency limit).

        This default pages through the user's sessions and their orchestrations, so it is correct
        for any store but slow for a long history: the built-in stores answer from an index.
        """
        active, page = 0, 100
        offset = 0
        while sessions := await self.list_sessions(user_id, limit=page, offset=offset):
            for session in sessions:
                skip = 0
                while orchestrations := await self.list_orchestrations(session_id=session.id, limit=page, offset=skip):
                    active += sum(o.status not in TERMINAL_ORCHESTRATION_STATUSES for o in orchestrations)
                    skip += page
            offset += page
        return active

    @abstractmethod
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
        """Atomically: save `orchestration` (replacing the stored one, its `updated_at` set to now, on the given
        object too; the built-in stores store one never created, a store may refuse it with `NotFound`
        instead), add `spent` to its session's `total_cost`, release `released` of the budget this
        orchestration reserved, record `calls`, and append `events` with the session's next `seq` numbers
        (assigned on the given objects, which are returned). All of it happens, or none.

        When `orchestration.status` is final (`completed`, `failed`, `cancelled`), the commit releases
        everything the orchestration still holds reserved, whatever `released` says: no reservation
        outlives its run, even one whose writer was cancelled before it learnt the result.

        With `owner`, the commit applies only while `owner` holds the orchestration's lease (see `claim`),
        else it raises `Conflict` and writes nothing: a process whose lease ran out and was taken over
        cannot write over the run its successor drives (fencing). The lease is `owner`'s as long as no other
        owner has taken it: an expired lease nobody claimed since still fences for its owner.

        `NotFound` when the session does not exist; `ValueError` on invalid amounts or events or calls of
        another session (`checks.check_commit`), or an orchestration that could not be kept and read back
        (`checks.check_orchestration`); none of them writes anything.

        A commit that raises `StoreUnavailable` wrote nothing, so the orchestrator retries it; a store
        that cannot tell (a lost acknowledgement) must find out before raising it."""

    # -- one round trip per step -----------------------------------------------------------------
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
        """Atomically: create `thread` when given (the orchestration's new thread), create `orchestration` (as
        given: already `running` with its first iteration selected, say), give `owner` its lease for `ttl_s`
        seconds (see `claim`), append `events` with the session's next `seq` numbers (assigned on the given
        objects) and reserve `reserve` dollars for the orchestration's first call (the rule of
        `reserve_budget`). Returns the session as it is then, and whether `reserve` was reserved.

        All of it happens, or none (a `NotFound` session or thread, a `Conflict` on an existing id, a
        `ValueError` on invalid arguments write nothing), except the reservation: refused, it returns
        `reserved=False` and the rest stands, as with `commit_step`.

        This is how an orchestrator starts a run in one round trip: it routes first, then stores the
        orchestration with its first routing decision and the reservation of that call's worst case.

        This default composes `create_thread`, `create_orchestration`, `claim`, `commit` (for the events),
        `reserve_budget` and `get_session` (up to six round trips, not atomic: a failure part way leaves an
        orchestration without a lease, which `list_resumable` returns); a store overrides it to do the same
        in one. Called again after such a failure (the orchestrator retries a `StoreUnavailable`), it completes
        the start: the thread and the orchestration its earlier attempt wrote are taken for its own (the same
        run, leased to `owner`), not answered with `Conflict`.
        """
        from ._starting import composed_start

        return await composed_start(self, orchestration, thread, owner, ttl_s, events, reserve)

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
        """`commit`, extended so that one step is one round trip: after the commit's own changes, reserve
        `reserve` dollars for the orchestration's next call (the rule of `reserve_budget`, counted after
        this commit's `spent` and `released`), add `outcomes` to the routers' statistics (as
        `record_routing_outcome` does) and, with `release_lease`, give up `owner`'s lease (the run's final
        commit). Returns whether `reserve` was reserved (True when it is 0).

        The commit is all or nothing and raises as `commit` does. The reservation, the statistics and the
        lease release never make it fail: a reservation refused returns False and the commit stands (the
        caller then reserves the usual way, or stops); none of them happens without the commit.

        This default calls `commit`, then `reserve_budget`, `record_routing_outcome` and `release` (a
        fault of one of them after the commit counts as not reserved / not recorded / not released: the
        lease then expires after its ttl); so a store that implements only `commit` keeps working, with
        more round trips. The built-in stores do it in one.
        """
        from .checks import check_step

        check_step(orchestration, reserve, owner, release_lease)
        await self.commit(orchestration, events, calls=calls, spent=spent, released=released, owner=owner)
        granted = True
        if reserve:
            try:
                granted = await self.reserve_budget(orchestration.session_id, orchestration.id, reserve)
            except Exception as exc:  # the step is committed: its caller reserves again the usual way
                _logger.warning(
                    "reserving with the commit of %s failed: %s",
                    orchestration.id,
                    exc,
                    extra={"orchestration_id": orchestration.id},
                )
                granted = False
        for o in outcomes:
            try:
                await self.record_routing_outcome(
                    o.router,
                    domain=o.domain,
                    model_name=o.model_name,
                    score=o.score,
                    cost=o.cost,
                    latency_ms=o.latency_ms,
                    output_tokens=o.output_tokens,
                )
            except Exception as exc:  # statistics are best effort
                _logger.warning("recording %s's outcome for %s failed: %s", o.model_name, o.router, exc)
        if release_lease and owner is not None:
            try:
                await self.release(orchestration.id, owner)
            except Exception as exc:  # the lease expires after its ttl
                _logger.warning(
                    "releasing the lease of %s failed: %s",
                    orchestration.id,
                    exc,
                    extra={"orchestration_id": orchestration.id},
                )
        return granted

    # -- budget -------------------------------------------------------------------------------
    @abstractmethod
    async def reserve_budget(self, session_id: str, orchestration_id: str, amount: float) -> bool:
        """Reserve `amount` dollars if `total_cost + reserved_cost + amount <= cost_limit` (always when
        the session has no limit); remember it against `orchestration_id`. Atomic; returns whether
        it was reserved. `NotFound` for an unknown session (the built-in stores do not look the orchestration
        up: the orchestrator creates it first; a store may refuse an unknown one with `NotFound` too);
        `ValueError` for an invalid amount (`checks.check_amount("amount", amount)`)."""

    @abstractmethod
    async def release_reservations(self, session_id: str, orchestration_id: str) -> float:
        """Release whatever `orchestration_id` still holds reserved (after a crash); returns the amount (0.0 when
        it holds none). `NotFound` for an unknown session (the orchestration id is not looked up, as in
        `reserve_budget`)."""

    # -- events -------------------------------------------------------------------------------
    @abstractmethod
    async def list_events(
        self, session_id: str, *, since: int = 0, limit: int = 1000, orchestration_id: str | None = None
    ) -> list[Event]:
        """Events of the session with `seq > since` (of one orchestration with `orchestration_id`), in `seq`
        order, at most `limit`. `NotFound` for an unknown session; `ValueError` for a negative `since` or
        `limit` (`checks.check_page(limit, since, offset_name="since")`)."""

    # -- leases (one process drives an orchestration at a time) ----------------------------------
    @abstractmethod
    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        """Take or renew the lease for `ttl_s` seconds if it is free, expired or already `owner`'s; returns
        whether `owner` holds it now. Atomic. `NotFound` for an unknown orchestration; `ValueError` when
        `ttl_s <= 0` (`checks.check_ttl`)."""

    @abstractmethod
    async def release(self, orchestration_id: str, owner: str) -> None:
        """Give the lease up (only if `owner` holds it; nothing happens otherwise, nor for an unknown id)."""

    @abstractmethod
    async def list_resumable(self, *, limit: int = 100) -> list[str]:
        """Ids of orchestrations `pending` or `running` whose lease is free or expired, oldest first, at most `limit`
        (`UserError` unless an int from 0 to 2**63 - 1: `checks.check_page(limit, 0)`)."""

    async def expire_leases_of(self, gone: Callable[[str], bool]) -> set[str]:
        """Expire now the leases held by processes that have ended, so that `list_resumable` returns their runs at
        once rather than when the leases expire (up to `lease_ttl_s` later: 60 s for the server). Optional.

        Call `gone(owner)` once for each distinct `lease_owner` of the `pending` or `running` orchestrations whose lease
        has not expired; for each owner it answers True, set `lease_expires` to now on those orchestrations (the owner
        stays recorded: it fences that owner's commits, as any expired lease does, until another claims the run).
        Returns the owners whose leases were expired. `gone` is synchronous and cheap (a system call), and True only for
        an owner known for certain to be gone; a lease another owner took meanwhile is left alone.

        A server calls this before each resume pass with a `gone` that knows the processes of its own machine (a lease
        owner names its process and machine). This default does nothing and returns an empty set: a store whose
        processes are on other machines loses nothing by it, their runs are resumed when their leases expire.
        """
        return set()

    async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
        """`claim` for each of `orchestration_ids` at once: take or renew the lease for `ttl_s` seconds
        where it is free, expired or already `owner`'s. Returns the ids whose lease `owner` now holds;
        a lease another owner holds, and an unknown id, are left out (no `NotFound`). `ValueError` when
        `ttl_s <= 0`, as `claim`; `UserError` for one id given as a string (`checks.check_ids`).

        An orchestrator renews the leases of all the runs it drives with one call every `lease_ttl_s / 3`.
        This default calls `claim` once per id; a store overrides it to renew them in one statement.
        """
        from ..exceptions import NotFound
        from .checks import check_ids, check_ttl

        check_ids(orchestration_ids)
        check_ttl(ttl_s)
        held: set[str] = set()
        for oid in dict.fromkeys(orchestration_ids):
            try:
                if await self.claim(oid, owner, ttl_s):
                    held.add(oid)
            except NotFound:
                continue
        return held

    # -- cancellation (any process may ask the one driving a run to stop it) -----------------------
    async def request_cancel(self, orchestration_id: str) -> bool:
        """Ask whichever process drives `orchestration_id` to stop it (it then ends `cancelled`).

        Returns whether the orchestration is still `pending` or `running` (the request was recorded),
        False when it has already ended. Raises `NotFound` when absent. Idempotent.

        This default keeps the request in a counter (`cancel:<id>`); the built-in stores keep it in
        a table or collection of their own.
        """
        doc = await self.get_orchestration(orchestration_id)
        if doc.status in TERMINAL_ORCHESTRATION_STATUSES:
            return False
        await self.incr(f"cancel:{orchestration_id}", 1)
        return True

    async def cancel_requested(self, orchestration_id: str) -> bool:
        """Whether the run of `orchestration_id` should stop: a cancel was requested (`request_cancel`)
        or its session has ended (`completed` or `cancelled`). A cheap read, polled by the driving
        process about once a second; False for an unknown id. Once the run has ended nobody asks: a
        store may then keep the request (True) or drop it (False)."""
        from ..exceptions import NotFound

        try:
            doc = await self.get_orchestration(orchestration_id)
            session = await self.get_session(doc.session_id)
        except NotFound:
            return False
        if session.status in ("completed", "cancelled"):
            return True
        return await self.incr(f"cancel:{orchestration_id}", 0) > 0

    async def cancel_requests(self, orchestration_ids: Sequence[str]) -> set[str]:
        """`cancel_requested` for each of `orchestration_ids` at once: the ids whose run should stop (a
        cancel was requested, or the session has ended); unknown ids are left out.

        An orchestrator asks this once every `cancel_check_s` for all the runs it drives. This default
        calls `cancel_requested` once per id; a store overrides it to answer in one query. `UserError` for one id
        given as a string (`checks.check_ids`).
        """
        from .checks import check_ids

        check_ids(orchestration_ids)
        return {oid for oid in dict.fromkeys(orchestration_ids) if await self.cancel_requested(oid)}

    # -- counters (rate limits, concurrency) ----------------------------------------------------
    @abstractmethod
    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        """Atomically add `amount` to counter `key` and return the new value. With `ttl_s`, a counter
        created by this call expires after that many seconds (fixed windows): the next `incr` of the key
        after that starts again from 0. `ValueError` when `ttl_s` is given and not > 0
        (`checks.check_ttl(ttl_s, "counter")`), `amount` is not an int of 64 bits (`checks.check_incr`), or `key` is
        not a string (`checks.check_name("a counter's key", key)`).
        Values are signed 64-bit integers: an `incr` whose sum would leave that range raises
        `checks.counter_overflow(key, value, amount)` (a `UserError`) and adds nothing."""

    # -- router statistics ----------------------------------------------------------------------
    @abstractmethod
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
        """Atomically add one observation to the statistics of (`router`, `domain`, `model_name`)."""

    @abstractmethod
    async def routing_stats(self, router: str) -> list[RoutingStat]:
        """Every (domain, model) statistics of `router`, sorted by domain, then model name (`[]` for a router
        with none)."""

    # -- API keys -----------------------------------------------------------------------------
    @abstractmethod
    async def create_api_key(self, key: ApiKey) -> ApiKey:
        """Store a new API key (only its hash is ever stored) and return it; `Conflict` when its `key_hash`, or its
        `id`, exists; `ValueError` when its fields could not be read back (`checks.check_api_key`)."""

    @abstractmethod
    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not; None when there is none (not `NotFound`: the server asks
        this of every request's key)."""

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        """Every API key (of `user_id` when given), revoked ones included, oldest first: by `created_at`, then
        `id` (`checks.created_order`), not in the order they were stored."""
        raise NotImplementedError(f"{type(self).__name__} does not implement list_api_keys")

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        """Mark the key with id `key_id` revoked (kept, for the record) and return it; `NotFound` when
        there is none. Revoking a revoked key keeps its first `revoked_at`."""
        raise NotImplementedError(f"{type(self).__name__} does not implement revoke_api_key")

    async def touch_api_key(self, key_id: str, when: datetime) -> None:
        """Record that the key was used at `when` (best effort: the default does nothing)."""
        return None

    async def ping(self) -> None:
        """Raise `StoreUnavailable` (or another `StoreError`) unless the database answers; the server's
        readiness check. The default reads one (missing) session."""
        from ..exceptions import NotFound

        try:
            await self.get_session("0" * 24)
        except NotFound:
            return

    # -- analytics ----------------------------------------------------------------------------
    @abstractmethod
    async def session_analytics(self, session_id: str) -> Analytics:
        """`Analytics` of the session (`scope="session"`, `sessions=1`, `threads` its threads); `NotFound`
        for an unknown session. See docs/stores.md, "Analytics", for each figure."""

    @abstractmethod
    async def user_analytics(self, user_id: str) -> Analytics:
        """`Analytics` of the user (`scope="user"`): its sessions, threads, orchestrations and call records are
        those whose own `user_id` is `user_id` (the orchestrator gives each the session's); all zeros for a user
        with none (not `NotFound`). `ValueError` for a `user_id` that is not a string
        (`checks.check_name("user_id", user_id)`)."""

    @abstractmethod
    async def model_stats(self, model_name: str) -> ModelStats:
        """Live statistics of one model over every recorded call (all users, generations and judgements):
        requests, errors, latency percentiles; `mean_score_by_domain` averages the scores of its
        generations only (a judge call's score is the verdict it gave, not one it earned). An unknown
        model has all zeros. `ValueError` for a `model_name` that is not a string
        (`checks.check_name("model_name", model_name)`)."""
