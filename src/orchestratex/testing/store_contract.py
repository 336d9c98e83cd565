"""The contract every `Store` must pass: subclass `StoreContract` and give it a `store_factory` fixture.

```python
import pytest
from orchestratex.stores import MemoryStore
from orchestratex.testing.store_contract import StoreContract, StoreFactory


class TestMyStore(StoreContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return MemoryStore  # any callable returning a new, empty, unopened store
```

Each test opens a fresh store from the factory (the property tests open one per example) and
closes it afterwards. The suite needs pytest, pytest-asyncio (in either mode, `strict` or `auto`) and
hypothesis. It sleeps a few tenths of a second in all, to let leases and counter windows expire. One test sets
the process's time zone (`TZ`, with `time.tzset`) to America/New_York while it runs, to check that a naive
`created_at` is taken as UTC, and sets it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .._ids import utcnow
from ..events import Event, ModelSelected, OrchestrationStarted
from ..exceptions import Conflict, NotFound, UserError
from ..records import (
    ApiKey,
    CallRecord,
    Evaluation,
    Iteration,
    JudgeVerdict,
    Orchestration,
    OrchestrationStatus,
    Session,
    SessionSettings,
    Thread,
)
from ..stores import Analytics, DomainUsage, ModelStats, ModelUsage, RoutingOutcome, RoutingStat, Store
from ..usage import add_costs

__all__ = ["StoreContract", "StoreFactory"]

StoreFactory = Callable[[], Store]
"""Returns a new, empty, unopened store each time it is called."""

_T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _refused(kind: type[Exception], call: Awaitable[object]) -> None:
    """Await `call`, a store method's coroutine, which must raise `kind`; a failure names the method and its
    arguments (a failed `pytest.raises` block shows neither)."""
    what = _call_text(call)
    try:
        await call
    except kind:
        return
    pytest.fail(f"store.{what} should raise {kind.__name__}; it returned without raising", pytrace=False)


def _call_text(call: Awaitable[object]) -> str:
    """`method(arguments)` of a coroutine not started yet (its frame's locals are its arguments)."""
    frame, code = getattr(call, "cr_frame", None), getattr(call, "cr_code", None)
    if frame is None or code is None:
        return repr(call)
    given = {k: v for k, v in frame.f_locals.items() if k != "self"}
    name = code.co_name
    if isinstance(given.get("args"), tuple) and isinstance(given.get("kwargs"), dict):  # a wrapper (`fused`)
        name = given["name"] if isinstance(given.get("name"), str) else name
        parts = [_short(a) for a in given["args"]] + [f"{k}={_short(v)}" for k, v in given["kwargs"].items()]
    else:
        parts = [f"{k}={_short(v)}" for k, v in given.items()]
    return f"{name}({', '.join(parts)})"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _at(seconds: float) -> datetime:
    return _T0 + timedelta(seconds=seconds)


async def _session(store: Store, user_id: str = "alice", cost_limit: float | None = None, **kw: object) -> Session:
    return await store.create_session(Session(user_id=user_id, settings=SessionSettings(cost_limit=cost_limit), **kw))


async def _thread(store: Store, session: Session, **kw: object) -> Thread:
    thread = Thread(session_id=session.id, user_id=session.user_id, original_prompt="Write a haiku", **kw)
    return await store.create_thread(thread)


async def _orchestration(store: Store, thread: Thread, **kw: object) -> Orchestration:
    orchestration = Orchestration(
        thread_id=thread.id,
        session_id=thread.session_id,
        user_id=thread.user_id,
        prompt=thread.original_prompt,
        **kw,
    )
    return await store.create_orchestration(orchestration)


async def _tree(store: Store, cost_limit: float | None = None) -> tuple[Session, Thread, Orchestration]:
    session = await _session(store, cost_limit=cost_limit)
    thread = await _thread(store, session)
    return session, thread, await _orchestration(store, thread)


def _selected(o: Orchestration, iteration: int = 1) -> ModelSelected:
    return ModelSelected(
        orchestration_id=o.id,
        thread_id=o.thread_id,
        session_id=o.session_id,
        model_name="sim:alpha",
        reasoning="best for the domain",
        iteration=iteration,
    )


def _iterations(n: int) -> list[Iteration]:
    return [Iteration(index=i + 1, model_name="sim:alpha", prompt="p") for i in range(n)]


def _call(
    o: Orchestration,
    model: str,
    role: str,
    domain: str,
    cost: float,
    tokens: tuple[int, int],
    latency_ms: float,
    score: float | None,
    error: str | None = None,
) -> CallRecord:
    return CallRecord(
        orchestration_id=o.id,
        session_id=o.session_id,
        user_id=o.user_id,
        model_name=model,
        role=role,
        domain=domain,
        cost=cost,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        latency_ms=latency_ms,
        score=score,
        error=error,
    )


def _started(o: Orchestration) -> OrchestrationStarted:
    return OrchestrationStarted(
        orchestration_id=o.id,
        thread_id=o.thread_id,
        session_id=o.session_id,
        prompt=o.prompt,
        domain="general",
        max_iterations=3,
        evaluation_threshold=8.0,
    )


@contextlib.contextmanager
def _local_time_zone(zone: str) -> Iterator[None]:
    """The process's local time zone set to `zone` for the block (where `time.tzset` exists: not on Windows)."""
    if not hasattr(time, "tzset"):
        yield
        return
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def _implements(store: Store, method: str) -> bool:
    """Whether the store overrides `Store`'s default of an optional method (`list_api_keys`, `revoke_api_key`, which
    raise `NotImplementedError`, and `touch_api_key`, which does nothing): the suite checks only those it has."""
    return getattr(type(store), method) is not getattr(Store, method)


def _composed_start(store: Store) -> bool:
    """Whether `store.start` runs `Store.start`'s default, several writes (see `StoreContract.atomic_start`)."""
    cls = type(store)
    return cls.start is Store.start or "start" in cls._composed


class StoreContract:
    """The shared tests. Subclasses (named `Test…`) provide the `store_factory` fixture."""

    atomic_start = True
    """Whether the store's `start` is one atomic write (False for a store that documents its start as several
    writes): a start that fails after its first write then leaves that write. A store whose `start` is
    `Store.start`'s default (composed of several writes) is taken as not atomic whatever this says: one that
    does not override `start`, or a subclass of a built-in store that wraps `commit` (or another method the
    built-in `start` stands in for, `orchestratex.stores.COMPOSED_FROM`), which then runs the default."""

    pytestmark = pytest.mark.asyncio  # (so the suite runs in pytest-asyncio's strict mode too, its default)

    @pytest_asyncio.fixture
    async def store(self, store_factory: StoreFactory) -> AsyncIterator[Store]:
        async with store_factory() as store:
            yield store

    # -- lifecycle ----------------------------------------------------------------------------
    async def test_open_is_idempotent(self, store: Store) -> None:
        await store.open()
        session = await _session(store)
        assert (await store.get_session(session.id)).id == session.id

    # -- sessions -----------------------------------------------------------------------------
    async def test_session_round_trip(self, store: Store) -> None:
        session = await _session(store, cost_limit=2.5, max_iterations=7, total_cost=0.25)  # (it may start spent)
        got = await store.get_session(session.id)
        assert got.total_cost == 0.25, "a session created with a total_cost must keep it (it counts against its limit)"
        assert got.model_dump() == session.model_dump()
        assert got.settings.cost_limit == 2.5
        await _refused(Conflict, store.create_session(session))

    async def test_unknown_ids_are_not_found(self, store: Store) -> None:
        missing = "0" * 24
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: store.get_session(missing),
            lambda: store.set_session_status(missing, "paused"),
            lambda: store.get_thread(missing),
            lambda: store.get_orchestration(missing),
            lambda: store.list_events(missing),
            lambda: store.reserve_budget(missing, missing, 0.1),
            lambda: store.release_reservations(missing, missing),
            lambda: store.claim(missing, "worker", 10),
            lambda: store.request_cancel(missing),
            lambda: store.session_analytics(missing),
            lambda: store.create_thread(Thread(session_id=missing, user_id="u", original_prompt="p")),
        ]
        for call in calls:
            await _refused(NotFound, call())
        assert await store.get_api_key("no-such-hash") is None
        assert await store.list_sessions("nobody") == [] and await store.list_threads(missing) == []

    async def test_a_session_whose_cost_limit_cannot_be_kept_is_refused(self, store: Store) -> None:
        # (a limit set on the settings after they were validated: a NaN failed with "cannot convert float NaN to
        # integer", $10 trillion with an OverflowError, and a negative one was stored: MemoryStore kept it, SQLite
        # and MongoDB kept a session they could no longer read)
        for bad in (math.nan, math.inf, -1.0, 1e13):
            session = Session(user_id="alice")
            session.settings.cost_limit = bad
            await _refused(UserError, store.create_session(session))
            await _refused(NotFound, store.get_session(session.id))
        assert await store.list_sessions("alice") == []

    async def test_a_session_or_thread_that_could_not_be_read_back_is_refused(self, store: Store) -> None:
        # (a field set by hand after the record was made, or a status of a newer version: SQLite and MongoDB stored
        # it, then `get_session` raised pydantic's ValidationError and every `list_sessions` of the user failed;
        # MemoryStore kept it, and some of them (`settings=None`) failed with a bare AttributeError)
        for name, bad in (
            ("status", "archived"),
            ("user_id", None),
            ("max_iterations", None),
            ("settings", None),
            ("session_start", None),
            ("created_at", "2026-01-01"),
        ):
            session = Session(user_id="alice")
            setattr(session, name, bad)
            await _refused(UserError, store.create_session(session))
            await _refused(NotFound, store.get_session(session.id))
        session = Session(user_id="alice")
        session.settings.judges = "sim:beta"  # type: ignore[assignment]
        await _refused(UserError, store.create_session(session))
        assert await store.list_sessions("alice") == []
        session = await _session(store)
        for field, value in (("original_prompt", None), ("user_id", None), ("domain", 5), ("context", b"x")):
            thread = Thread(session_id=session.id, user_id="alice", original_prompt="p")
            setattr(thread, field, value)
            await _refused(UserError, store.create_thread(thread))
            o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
            await _refused(UserError, store.start(o, thread=thread, owner="w", ttl_s=10))
            await _refused(NotFound, store.get_thread(thread.id))
        assert await store.list_threads(session.id) == []
        assert [s.id for s in await store.list_sessions("alice")] == [session.id]

    async def test_an_api_key_that_could_not_be_read_back_is_refused(self, store: Store) -> None:
        # (a field set by hand after the key was made: SQLite and MongoDB stored `admin=None` or a number for a label,
        # then every `list_api_keys` and every request with the key failed with pydantic's ValidationError)
        for field, value in (("admin", None), ("label", 5), ("user_id", None), ("revoked_at", "yesterday")):
            key = ApiKey(key_hash="cd" * 32, user_id="alice")
            setattr(key, field, value)
            await _refused(UserError, store.create_api_key(key))
            assert await store.get_api_key("cd" * 32) is None
        if _implements(store, "list_api_keys"):
            assert await store.list_api_keys() == []

    async def test_an_id_that_is_none_is_not_found(self, store: Store) -> None:
        # (an id read from a request or a config that lacked it: MongoStore raised a TypeError from its id pattern)
        none: Any = None
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: store.get_session(none),
            lambda: store.get_thread(none),
            lambda: store.get_orchestration(none),
            lambda: store.list_events(none),
            lambda: store.claim(none, "worker", 10),
            lambda: store.request_cancel(none),
            lambda: store.session_analytics(none),
        ]
        for call in calls:
            await _refused(NotFound, call())
        assert await store.cancel_requested(none) is False
        await store.release(none, "worker")
        # (a user's analytics and a model's statistics have no NotFound, an unknown one is all zeros; given None, every
        # store failed with pydantic's ValidationError about `scope_id` or `model_name`)
        await _refused(UserError, store.user_analytics(none))
        await _refused(UserError, store.model_stats(none))
        await _refused(UserError, store.user_analytics(5))  # type: ignore[arg-type]

    async def test_list_sessions_oldest_first_with_limit_and_offset(self, store: Store) -> None:
        made = [await _session(store, created_at=_at(s)) for s in (30, 10, 20, 40, 0)]
        await _session(store, user_id="bob")
        listed = await store.list_sessions("alice")
        ordered = sorted(made, key=lambda s: s.created_at)
        assert [s.id for s in listed] == [s.id for s in ordered]
        assert [s.id for s in await store.list_sessions("alice", limit=2, offset=1)] == [s.id for s in ordered[1:3]]
        assert await store.list_sessions("alice", offset=10) == []
        assert await store.list_sessions("nobody") == []
        await _refused(ValueError, store.list_sessions("alice", limit=-1))

    async def test_listings_order_created_at_by_the_moment_it_names(self, store: Store) -> None:
        # a naive `created_at` is UTC whatever the machine's time zone (`datetime.timestamp()` takes it as local
        # time), and one with an offset sorts by the moment it names (its ISO text does not): run in a zone other
        # than UTC, so a store sorting either way fails here, not only on a machine away from UTC
        times = [  # noon UTC, then every quarter of an hour written another way
            _T0,
            (_T0 + timedelta(minutes=15)).replace(tzinfo=None),
            (_T0 + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=5))),
            (_T0 + timedelta(minutes=45)).astimezone(timezone(timedelta(hours=-5))),
        ]
        shuffled = [2, 0, 3, 1]
        with _local_time_zone("America/New_York"):
            sessions = {i: await _session(store, created_at=times[i]) for i in shuffled}
            assert [s.id for s in await store.list_sessions("alice")] == [sessions[i].id for i in range(4)]
            session = sessions[0]
            threads = {i: await _thread(store, session, created_at=times[i]) for i in shuffled}
            assert [t.id for t in await store.list_threads(session.id)] == [threads[i].id for i in range(4)]
            runs = {i: await _orchestration(store, threads[i], created_at=times[i]) for i in shuffled}
            ordered = [runs[i].id for i in range(4)]
            assert [o.id for o in await store.list_orchestrations(session_id=session.id)] == ordered
            assert await store.list_resumable() == ordered
            keys = {i: ApiKey(key_hash=f"{i:064x}", user_id="alice", created_at=times[i]) for i in shuffled}
            for i in shuffled:
                await store.create_api_key(keys[i])
            if _implements(store, "list_api_keys"):
                assert [k.id for k in await store.list_api_keys("alice")] == [keys[i].id for i in range(4)]

    async def test_session_status_transitions(self, store: Store) -> None:
        session = await _session(store)
        await asyncio.sleep(0.002)  # (so that "now" is after the session's creation on any clock)
        paused = await store.set_session_status(session.id, "paused")
        assert paused.status == "paused" and paused.updated_at > session.updated_at  # a change moves updated_at
        assert await store.get_session(session.id) == paused
        assert await store.set_session_status(session.id, "paused") == paused  # no change: nothing moves
        active = await store.set_session_status(session.id, "active")
        assert active.status == "active" and active.session_end is None
        done = await store.set_session_status(session.id, "completed")
        assert done.status == "completed" and done.session_end is not None
        assert done.updated_at == done.session_end
        for status in ("active", "paused", "cancelled"):
            await _refused(Conflict, store.set_session_status(session.id, status))
        got = await store.get_session(session.id)
        assert got.status == "completed" and got.session_end == done.session_end
        other = await _session(store)
        cancelled = await store.set_session_status(other.id, "cancelled")
        assert cancelled.session_end is not None

    # -- threads ------------------------------------------------------------------------------
    async def test_threads(self, store: Store) -> None:
        session = await _session(store)
        other = await _session(store)
        threads = [await _thread(store, session, created_at=_at(s), domain="coding") for s in (5, 1, 3)]
        await _thread(store, other)
        got = await store.get_thread(threads[0].id)
        assert got.model_dump() == threads[0].model_dump()
        ordered = sorted(threads, key=lambda t: t.created_at)
        assert [t.id for t in await store.list_threads(session.id)] == [t.id for t in ordered]
        assert [t.id for t in await store.list_threads(session.id, limit=1, offset=2)] == [ordered[2].id]
        await _refused(Conflict, store.create_thread(threads[0]))

    # -- orchestrations -----------------------------------------------------------------------
    async def test_orchestrations(self, store: Store) -> None:
        session, thread, first = await _tree(store)
        second_thread = await _thread(store, session)
        later = await _orchestration(store, thread, created_at=_at(100))
        earlier = await _orchestration(store, second_thread, created_at=_at(50))
        other_session, other_thread, elsewhere = await _tree(store)
        got = await store.get_orchestration(first.id)
        assert got.model_dump() == first.model_dump()
        by_session = await store.list_orchestrations(session_id=session.id)
        assert [o.id for o in by_session] == [earlier.id, later.id, first.id]
        assert [o.id for o in await store.list_orchestrations(thread_id=thread.id)] == [later.id, first.id]
        both = await store.list_orchestrations(session_id=session.id, thread_id=second_thread.id)
        assert [o.id for o in both] == [earlier.id]
        assert await store.list_orchestrations(session_id=other_session.id, thread_id=thread.id) == []
        assert len(await store.list_orchestrations()) == 4
        assert [o.id for o in await store.list_orchestrations(session_id=session.id, limit=1, offset=1)] == [later.id]
        # (paged by thread, or over every orchestration, too: a store paging only its by-session query passed)
        assert [o.id for o in await store.list_orchestrations(thread_id=thread.id, limit=1, offset=1)] == [first.id]
        assert [o.id for o in await store.list_orchestrations(thread_id=thread.id, limit=1)] == [later.id]
        assert len(await store.list_orchestrations(limit=3, offset=2)) == 2
        await _refused(Conflict, store.create_orchestration(first))
        with pytest.raises(NotFound):
            await store.create_orchestration(
                Orchestration(thread_id="0" * 24, session_id=session.id, user_id="alice", prompt="p")
            )
        assert elsewhere.thread_id == other_thread.id

    async def test_commit_saves_orchestration_events_and_calls(self, store: Store) -> None:
        session, _, o = await _tree(store)
        before = o.updated_at
        o.status = "running"
        o.iterations = _iterations(2)
        o.interrupted_calls, o.abandoned_calls = 1, 3  # (a suspended run's, for the run resuming it)
        events = [_selected(o, 1), _selected(o, 2)]
        returned = await store.commit(
            o, events, calls=[_call(o, "sim:alpha", "generate", "general", 0.5, (1, 2), 9, 7)]
        )
        assert list(returned) == events and [e.seq for e in events] == [1, 2]
        assert o.updated_at >= before
        got = await store.get_orchestration(o.id)
        assert got.status == "running" and len(got.iterations) == 2
        assert got.model_dump() == o.model_dump()
        stored = await store.list_events(session.id)
        assert [e.model_dump() for e in stored] == [e.model_dump() for e in events]
        assert isinstance(stored[0], ModelSelected)
        assert (await store.model_stats("sim:alpha")).requests == 1

    async def test_commit_stores_a_snapshot(self, store: Store) -> None:
        _, _, o = await _tree(store)
        o.iterations = _iterations(1)
        await store.commit(o)
        o.status = "failed"
        o.iterations[0].response = "changed after the commit"
        o.iterations.append(Iteration(index=2, model_name="x", prompt="p"))
        got = await store.get_orchestration(o.id)
        assert got.status == "pending" and len(got.iterations) == 1 and got.iterations[0].response is None
        got.iterations.clear()
        assert len((await store.get_orchestration(o.id)).iterations) == 1

    async def test_records_are_not_shared_with_callers(self, store: Store) -> None:
        # a store that keeps the objects given to it, or hands out the ones it keeps, lets a caller's later change
        # (a handler editing an event, a route editing a session it read) change what is stored
        session = Session(user_id="alice", settings=SessionSettings(cost_limit=1.0, preferred_models=["sim:alpha"]))
        await store.create_session(session)
        session.user_id, session.max_iterations = "mallory", 9
        session.settings.preferred_models.append("sim:beta")  # type: ignore[union-attr]
        for got in (await store.get_session(session.id), (await store.list_sessions("alice"))[0]):
            assert (got.user_id, got.max_iterations, got.settings.preferred_models) == ("alice", 5, ["sim:alpha"])
            got.max_iterations, got.status = 7, "paused"
            got.settings.preferred_models = None
        thread = Thread(session_id=session.id, user_id="alice", original_prompt="Write a haiku")
        await store.create_thread(thread)
        thread.original_prompt = "changed"
        for got_thread in (await store.get_thread(thread.id), (await store.list_threads(session.id))[0]):
            assert got_thread.original_prompt == "Write a haiku"
            got_thread.original_prompt = "changed"
        o = await _orchestration(store, thread)
        event = _selected(o)
        await store.commit(o, [event])
        event.reasoning = "changed"
        for listed in (await store.list_events(session.id), await store.list_events(session.id)):
            assert [(e.seq, getattr(e, "reasoning", None)) for e in listed] == [(1, "best for the domain")]
            listed[0].seq = 9
            listed[0].reasoning = "changed"  # type: ignore[union-attr]
        key = ApiKey(key_hash="ab" * 32, user_id="alice")
        await store.create_api_key(key)
        key.admin, key.user_id = True, "mallory"
        listed_keys = await store.list_api_keys() if _implements(store, "list_api_keys") else []
        for got_key in (await store.get_api_key("ab" * 32), *listed_keys):
            assert got_key is not None and (got_key.admin, got_key.user_id) == (False, "alice")
            got_key.admin, got_key.user_id = True, "mallory"
        got = await store.get_session(session.id)
        assert (got.max_iterations, got.status, got.settings.preferred_models) == (5, "active", ["sim:alpha"])

    async def test_commit_is_all_or_nothing(self, store: Store) -> None:
        session, _, o = await _tree(store)
        stray = Orchestration(thread_id="t" * 24, session_id="0" * 24, user_id="alice", prompt="p")
        await _refused(NotFound, store.commit(stray, [_selected(stray)], spent=1.0))
        foreign = _selected(stray)
        await _refused(ValueError, store.commit(o, [_selected(o), foreign], spent=0.5))
        await _refused(ValueError, store.commit(o, spent=-1.0))
        assert (await store.get_session(session.id)).total_cost == 0.0
        assert await store.list_events(session.id) == []
        await _refused(NotFound, store.get_orchestration(stray.id))

    async def test_commit_refuses_call_records_analytics_cannot_count(self, store: Store) -> None:
        # (history imported from a table, whose missing values are NaN: a NaN latency failed SQLite with "NOT NULL
        # constraint failed: calls.latency_ms", a NaN cost MongoDB with "cannot convert float NaN to integer", and a
        # MemoryStore took both, then failed every analytics of the user; tokens past 64 bits an OverflowError; a NaN
        # score was no score to SQLite and made the other stores' mean scores NaN)
        session, _, o = await _tree(store)
        good = _call(o, "m", "generate", "general", 0.5, (10, 20), 100.0, 8.0)
        for bad in (
            {"latency_ms": math.nan},
            {"latency_ms": math.inf},
            {"score": math.nan},
            {"cost": math.nan},
            {"cost": -math.inf},
            {"input_tokens": 2**63},
            {"output_tokens": -(2**63) - 1},
        ):
            call = good.model_copy(update=bad)
            await _refused(ValueError, store.commit(o, [_selected(o)], calls=[good, call], spent=0.5))
            await _refused(ValueError, store.commit_step(o, calls=[call], spent=0.5, reserve=0.25))
        assert (await store.get_session(session.id)).total_cost == 0.0
        assert await store.list_events(session.id) == []
        assert (await store.session_analytics(session.id)).models == []
        await store.commit(o, calls=[good], spent=0.5)
        assert [m.latency_p50_ms for m in (await store.user_analytics("alice")).models] == [100.0]

    async def test_an_orchestration_whose_costs_cannot_be_kept_is_refused(self, store: Store) -> None:
        # (a total set by hand from a table's missing value: a MemoryStore kept a NaN `total_cost` as null, and the run
        # could no longer be read, listed or counted; SQLite and MongoDB failed with "cannot convert float NaN to
        # integer")
        session, thread, o = await _tree(store)
        o.total_cost = 0.25
        await store.commit(o, spent=0.25)
        for bad in ({"total_cost": math.nan}, {"overage_cost": math.inf}, {"total_cost": -1.0}, {"total_cost": 1e13}):
            changed = o.model_copy(update=bad)
            await _refused(UserError, store.commit(changed, [_selected(changed)], spent=0.5))
            await _refused(UserError, store.commit_step(changed, spent=0.5))
            new = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p", **bad)
            await _refused(UserError, store.create_orchestration(new))
            await _refused(UserError, store.start(new, owner="w", ttl_s=10, events=[_selected(new)]))
            await _refused(NotFound, store.get_orchestration(new.id))
        assert (await store.get_orchestration(o.id)).total_cost == 0.25
        assert [r.total_cost for r in await store.list_orchestrations(session_id=session.id)] == [0.25]
        assert (await store.get_session(session.id)).total_cost == 0.25
        assert await store.list_events(session.id) == []
        assert (await store.user_analytics("alice")).total_cost == 0.25

    async def test_an_orchestration_that_could_not_be_read_back_is_refused(self, store: Store) -> None:
        # (a status of a newer version, or a field set to None by hand: every store took it, after which
        # `get_orchestration` raised and listings showed a failed stand-in in its place)
        session, thread, o = await _tree(store)
        for field, value in (("status", "archived"), ("prompt", None), ("stop_reason", "timeout"), ("error", 5)):
            new = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
            setattr(new, field, value)
            await _refused(UserError, store.create_orchestration(new))
            await _refused(UserError, store.start(new, owner="w", ttl_s=10, events=[_selected(new)]))
            await _refused(NotFound, store.get_orchestration(new.id))
            good = getattr(o, field)
            setattr(o, field, value)
            await _refused(UserError, store.commit(o, [_selected(o)], spent=0.5))
            await _refused(UserError, store.commit_step(o, spent=0.5))
            setattr(o, field, good)
        assert [(r.id, r.status, r.prompt) for r in await store.list_orchestrations()] == [(o.id, "pending", o.prompt)]
        assert (await store.get_session(session.id)).total_cost == 0.0
        assert await store.list_events(session.id) == []

    async def test_an_iteration_whose_numbers_cannot_be_kept_is_refused(self, store: Store) -> None:
        # (a latency or a cost set by hand from a table's missing value: JSON keeps a NaN as null, and every store
        # took it, after which the run could not be read: `get_orchestration` raised and listings showed a stand-in)
        session, thread, o = await _tree(store)
        verdict = JudgeVerdict(judge_model="sim:beta", score=7.0, latency_ms=80.0, cost=0.01)
        evaluation = Evaluation(score=7.0, feedback="ok", judge_models=["sim:beta"], verdicts=[verdict], cost=0.01)
        first = Iteration(
            index=1,
            model_name="sim:alpha",
            prompt="p",
            cost=0.1,
            catalog_cost=0.1,
            latency_ms=120.0,
            evaluation=evaluation,
        )
        o.iterations.append(first)
        o.total_cost = 0.11
        await store.commit(o, spent=0.11)  # (stored: a later commit may write only what changed)
        for target, name, bad in (
            (first, "latency_ms", math.nan),
            (first, "cost", math.inf),
            (first, "catalog_cost", math.nan),
            (evaluation, "cost", math.nan),
            (verdict, "latency_ms", math.inf),
            (verdict, "score", math.nan),
        ):
            good = getattr(target, name)
            setattr(target, name, bad)
            await _refused(UserError, store.commit(o, [_selected(o)], spent=0.5))
            await _refused(UserError, store.commit_step(o, spent=0.5))
            setattr(target, name, good)
        o.iterations.append(Iteration(index=2, model_name="sim:alpha", prompt="p", latency_ms=math.nan))
        await _refused(UserError, store.commit_step(o, spent=0.5))
        new = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
        new.iterations.append(Iteration(index=1, model_name="sim:alpha", prompt="p", cost=math.nan))
        await _refused(UserError, store.create_orchestration(new))
        await _refused(UserError, store.start(new, owner="w", ttl_s=10, events=[_selected(new)]))
        await _refused(NotFound, store.get_orchestration(new.id))
        got = await store.get_orchestration(o.id)
        assert [(it.latency_ms, it.cost) for it in got.iterations] == [(120.0, 0.1)]
        assert got.iterations[0].evaluation == evaluation
        listed = await store.list_orchestrations(session_id=session.id)
        assert [(r.id, r.status, len(r.iterations)) for r in listed] == [(o.id, "pending", 1)]
        assert (await store.get_session(session.id)).total_cost == 0.11
        assert await store.list_events(session.id) == []
        o.iterations.pop()
        await store.commit(o, [_selected(o)], spent=0.1)  # (the store still takes the run's good commits)
        assert (await store.get_orchestration(o.id)).iterations[0].latency_ms == 120.0

    async def test_list_events_since_limit_and_orchestration(self, store: Store) -> None:
        session, thread, a = await _tree(store)
        b = await _orchestration(store, thread)
        for i in range(1, 4):
            await store.commit(a, [_selected(a, i)])
            await store.commit(b, [_selected(b, i)])
        assert [e.seq for e in await store.list_events(session.id)] == [1, 2, 3, 4, 5, 6]
        assert [e.seq for e in await store.list_events(session.id, since=2, limit=3)] == [3, 4, 5]
        only_b = await store.list_events(session.id, since=1, orchestration_id=b.id)
        assert [e.seq for e in only_b] == [2, 4, 6]
        assert [e.seq for e in await store.list_events(session.id, orchestration_id=b.id, limit=2)] == [2, 4]
        # (`since` is a seq of the session, not a count of the orchestration's events: a stream of one run resumed
        # from its last seq got every event again from a store that dropped `since` with `orchestration_id`)
        assert [e.seq for e in await store.list_events(session.id, since=2, orchestration_id=b.id)] == [4, 6]
        assert [e.seq for e in await store.list_events(session.id, since=3, orchestration_id=a.id, limit=1)] == [5]
        assert await store.list_events(session.id, since=6) == []

    async def test_pages_are_ints_within_64_bits(self, store: Store) -> None:
        # a float, a string or None met a raw TypeError (or SQLite's "datatype mismatch"), and a limit of 2**63 an
        # OverflowError on SQLite alone; 2**63 - 1 (sys.maxsize) is every item
        session, _, o = await _tree(store)
        await store.commit(o, [_selected(o, 1)])
        top = 2**63 - 1
        assert len(await store.list_sessions(session.user_id, limit=top)) == 1
        assert await store.list_threads(session.id, offset=top) == []
        assert [e.seq for e in await store.list_events(session.id, limit=top)] == [1]
        assert len(await store.list_orchestrations(session_id=session.id, limit=top)) == 1
        calls: list[Callable[[Any, Any], Awaitable[object]]] = [
            lambda n, at: store.list_sessions(session.user_id, limit=n, offset=at),
            lambda n, at: store.list_threads(session.id, limit=n, offset=at),
            lambda n, at: store.list_orchestrations(session_id=session.id, limit=n, offset=at),
            lambda n, at: store.list_events(session.id, since=at, limit=n),
        ]
        for limit, offset in ((2**63, 0), (0, 2**63), (1.5, 0), (True, 0), ("10", 0), (10, None)):
            for call in calls:
                with pytest.raises(UserError, match=r"must be ints between 0 and 2\*\*63 - 1 \(got limit="):
                    await call(limit, offset)
        with pytest.raises(UserError, match=r"must be ints between 0 and 2\*\*63 - 1"):
            await store.list_resumable(limit=2**63)

    async def test_costs_add_up_exactly(self, store: Store) -> None:
        session, _, o = await _tree(store)
        amounts = [0.1, 0.2, 0.3, 0.07, 0.000123, 1e-12] * 20
        for amount in amounts:
            await store.commit(o, spent=amount)
        total = (await store.get_session(session.id)).total_cost
        assert total == add_costs(*amounts)
        assert total == float(sum(Decimal(repr(a)) for a in amounts))

    async def test_concurrent_commits_number_events_without_gaps(self, store: Store) -> None:
        session, thread, _ = await _tree(store)
        runs = [await _orchestration(store, thread) for _ in range(5)]

        async def step(o: Orchestration, i: int) -> Sequence[Event]:
            return await store.commit(o, [_selected(o, i), _selected(o, i)], spent=0.01)

        results = await asyncio.gather(*(step(o, i) for o in runs for i in range(10)))
        for pair in results:
            assert pair[1].seq == pair[0].seq + 1
        stored = await store.list_events(session.id, limit=1000)
        assert [e.seq for e in stored] == list(range(1, 101))
        assert sorted(e.seq for pair in results for e in pair) == list(range(1, 101))
        assert (await store.get_session(session.id)).total_cost == 0.5

    @settings(
        max_examples=10,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
    )
    @given(batches=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4)), min_size=1, max_size=20))
    async def test_property_events_are_numbered_contiguously(
        self, store_factory: StoreFactory, batches: list[tuple[int, int]]
    ) -> None:
        async with store_factory() as store:
            session, thread, first = await _tree(store)
            runs = [first, await _orchestration(store, thread), await _orchestration(store, thread)]
            committed = await asyncio.gather(
                *(store.commit(runs[i], [_selected(runs[i], k) for k in range(size)]) for i, size in batches)
            )
            for batch in committed:
                assert [e.seq for e in batch] == list(range(batch[0].seq, batch[0].seq + len(batch))) if batch else True
            total = sum(size for _, size in batches)
            stored = await store.list_events(session.id, limit=total + 1)
            assert [e.seq for e in stored] == list(range(1, total + 1))
            for i, run in enumerate(runs):
                mine = await store.list_events(session.id, orchestration_id=run.id)
                assert len(mine) == sum(size for j, size in batches if j == i)

    # -- budget -------------------------------------------------------------------------------
    async def test_a_final_commit_releases_everything_the_orchestration_holds(self, store: Store) -> None:
        session, thread, o = await _tree(store, cost_limit=1.0)
        other = await _orchestration(store, thread)
        assert await store.reserve_budget(session.id, o.id, 0.25)
        assert await store.reserve_budget(session.id, o.id, 0.125)  # its writer never learnt of this one
        assert await store.reserve_budget(session.id, other.id, 0.5)
        o.status = "running"
        await store.commit(o, spent=0.125, released=0.25)  # a step releases what it names
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.125, 0.625)
        o.status = "cancelled"
        await store.commit(o, spent=0.0625)  # the run ended: nothing of it stays reserved
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.1875, 0.5)
        assert await store.release_reservations(session.id, o.id) == 0.0
        assert await store.release_reservations(session.id, other.id) == 0.5

    async def test_a_commit_with_an_owner_applies_only_under_its_lease(self, store: Store) -> None:
        session, _, o = await _tree(store, cost_limit=1.0)
        assert await store.claim(o.id, "first", 60)
        o.status = "running"
        await store.commit(o, [_selected(o)], spent=0.25, owner="first")
        # another process's lease: nothing is written
        await _refused(Conflict, store.commit(o, [_selected(o, 2)], spent=0.5, owner="second"))
        await store.release(o.id, "first")
        # nobody's lease: a commit naming an owner is refused as well
        await _refused(Conflict, store.commit(o, [_selected(o, 2)], spent=0.5, owner="first"))
        assert (await store.get_session(session.id)).total_cost == 0.25
        assert [e.seq for e in await store.list_events(session.id)] == [1]
        await store.commit(o, [_selected(o, 2)], spent=0.5)  # without an owner: no fencing
        assert (await store.get_session(session.id)).total_cost == 0.75

    async def test_reservations_respect_the_limit(self, store: Store) -> None:
        session, _, o = await _tree(store, cost_limit=1.0)
        assert await store.reserve_budget(session.id, o.id, 0.6)
        assert not await store.reserve_budget(session.id, o.id, 0.5)
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.0, 0.6)
        await store.commit(o, spent=0.5, released=0.6)
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.5, 0.0)
        assert await store.reserve_budget(session.id, o.id, 0.2)
        assert await store.reserve_budget(session.id, o.id, 0.3)  # exactly up to the limit
        assert not await store.reserve_budget(session.id, o.id, 1e-9)
        assert await store.reserve_budget(session.id, o.id, 0.0)
        await _refused(ValueError, store.reserve_budget(session.id, o.id, -0.1))
        await _refused(ValueError, store.reserve_budget(session.id, o.id, float("nan")))

    async def test_amounts_are_numbers_and_decimals_count_exactly(self, store: Store) -> None:
        session, _, o = await _tree(store, cost_limit=1.0)
        assert await store.reserve_budget(session.id, o.id, Decimal("0.3"))  # type: ignore[arg-type]
        await store.commit(o, spent=Decimal("0.1"), released=Decimal("0.3"))  # type: ignore[arg-type]
        assert await store.reserve_budget(session.id, o.id, Decimal("0.9"))  # type: ignore[arg-type]
        assert not await store.reserve_budget(session.id, o.id, Decimal("0.000000000001"))  # type: ignore[arg-type]
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.1, 0.9)
        for bad in ("0.1", True, Decimal("NaN")):
            await _refused(ValueError, store.reserve_budget(session.id, o.id, bad))  # type: ignore[arg-type]
            await _refused(ValueError, store.commit(o, spent=bad))  # type: ignore[arg-type]
        await _refused(ValueError, store.reserve_budget(session.id, o.id, None))  # type: ignore[arg-type]
        assert (await store.get_session(session.id)).total_cost == 0.1

    async def test_unlimited_session_always_reserves(self, store: Store) -> None:
        session, _, o = await _tree(store)
        assert await store.reserve_budget(session.id, o.id, 1000.0)
        assert await store.reserve_budget(session.id, o.id, 0.25)
        assert (await store.get_session(session.id)).reserved_cost == 1000.25
        await _refused(ValueError, store.reserve_budget(session.id, o.id, 1e9))

    async def test_release_reservations_per_orchestration(self, store: Store) -> None:
        session, thread, a = await _tree(store, cost_limit=10.0)
        b = await _orchestration(store, thread)
        assert await store.reserve_budget(session.id, a.id, 0.1)
        assert await store.reserve_budget(session.id, a.id, 0.2)
        assert await store.reserve_budget(session.id, b.id, 0.7)
        assert await store.release_reservations(session.id, a.id) == 0.3
        assert await store.release_reservations(session.id, a.id) == 0.0
        assert (await store.get_session(session.id)).reserved_cost == 0.7
        await store.commit(b, spent=0.25, released=5.0)  # releases only what b holds
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.25, 0.0)
        assert await store.release_reservations(session.id, b.id) == 0.0

    async def test_concurrent_reservations_never_exceed_the_limit(self, store: Store) -> None:
        session, thread, _ = await _tree(store, cost_limit=1.0)
        runs = [await _orchestration(store, thread) for _ in range(4)]
        results = await asyncio.gather(
            *(store.reserve_budget(session.id, runs[i % 4].id, 0.01) for i in range(200)), return_exceptions=True
        )
        assert results.count(True) == 100 and results.count(False) == 100
        assert (await store.get_session(session.id)).reserved_cost == 1.0
        released = await asyncio.gather(*(store.release_reservations(session.id, o.id) for o in runs))
        assert add_costs(*released) == 1.0
        assert (await store.get_session(session.id)).reserved_cost == 0.0

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
    )
    @given(
        ops=st.lists(
            st.tuples(
                st.sampled_from(["reserve", "settle", "release"]),
                st.integers(0, 2),
                st.sampled_from([0.01, 0.1, 0.2, 0.3, 0.07, 0.15, 0.000123]),
            ),
            max_size=25,
        )
    )
    async def test_property_spent_plus_reserved_never_exceeds_limit(
        self, store_factory: StoreFactory, ops: list[tuple[str, int, float]]
    ) -> None:
        limit = Decimal("0.5")
        async with store_factory() as store:
            session, thread, first = await _tree(store, cost_limit=float(limit))
            runs = [first, await _orchestration(store, thread), await _orchestration(store, thread)]
            spent, held = Decimal(0), [Decimal(0)] * 3
            for op, i, amount in ops:
                a, o = Decimal(repr(amount)), runs[i]
                if op == "reserve":
                    fits = spent + sum(held) + a <= limit
                    assert await store.reserve_budget(session.id, o.id, amount) == fits
                    held[i] += a if fits else 0
                elif op == "settle":  # the call cost at most what was reserved
                    cost = min(a, held[i])
                    await store.commit(o, spent=float(cost), released=float(held[i]))
                    spent, held[i] = spent + cost, Decimal(0)
                else:
                    assert await store.release_reservations(session.id, o.id) == float(held[i])
                    held[i] = Decimal(0)
                got = await store.get_session(session.id)
                assert got.total_cost == float(spent) and got.reserved_cost == float(sum(held))
                assert Decimal(repr(got.total_cost)) + Decimal(repr(got.reserved_cost)) <= limit

    # -- one round trip per step -----------------------------------------------------------------
    async def test_start_creates_the_thread_and_the_orchestration_under_a_lease(self, store: Store) -> None:
        session = await _session(store, cost_limit=2.0)
        thread = Thread(session_id=session.id, user_id=session.user_id, original_prompt="Write a haiku")
        o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="Write a haiku")
        other = await _orchestration(store, await _thread(store, session))
        assert await store.reserve_budget(session.id, other.id, 0.5)
        got, reserved = await store.start(o, thread=thread, owner="me", ttl_s=60)
        assert reserved  # (nothing to reserve)
        assert got.id == session.id and got.status == "active" and got.settings.cost_limit == 2.0
        assert (got.total_cost, got.reserved_cost) == (0.0, 0.5)  # the budget as it is now
        assert (await store.get_thread(thread.id)).original_prompt == "Write a haiku"
        assert (await store.get_orchestration(o.id)).status == "pending"
        assert not await store.claim(o.id, "someone else", 60)  # the lease is "me"'s
        assert o.id not in await store.list_resumable()
        o.status = "running"
        await store.commit(o, [_selected(o)], owner="me")  # and it fences commits
        second = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="again")
        await store.start(second, owner="me", ttl_s=60)  # on the existing thread
        assert [x.id for x in await store.list_orchestrations(thread_id=thread.id)] == [o.id, second.id]

    async def test_start_refuses_what_does_not_exist_or_exists_already(self, store: Store) -> None:
        session, thread, o = await _tree(store)
        await _refused(Conflict, store.start(o, owner="me", ttl_s=60))
        assert await store.claim(o.id, "other", 60)  # the refused start took no lease
        lost = Orchestration(thread_id="t" * 24, session_id=session.id, user_id="alice", prompt="p")
        await _refused(NotFound, store.start(lost, owner="me", ttl_s=60))
        stray = Orchestration(thread_id=thread.id, session_id="0" * 24, user_id="alice", prompt="p")
        await _refused(NotFound, store.start(stray, owner="me", ttl_s=60))
        fresh = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
        await _refused(ValueError, store.start(fresh, owner="me", ttl_s=0))
        # a new thread whose id exists already: refused, the stored thread left as it was
        same = Thread(id=thread.id, session_id=session.id, user_id="alice", original_prompt="another prompt")
        await _refused(Conflict, store.start(fresh, thread=same, owner="me", ttl_s=60))
        assert (await store.get_thread(thread.id)).original_prompt == thread.original_prompt
        assert [x.id for x in await store.list_orchestrations(session_id=session.id)] == [o.id]

    async def test_start_stores_the_first_step_its_events_and_its_reservation(self, store: Store) -> None:
        session, thread, other = await _tree(store, cost_limit=1.0)
        await store.commit(other, [_selected(other)])  # seq 1
        assert await store.reserve_budget(session.id, other.id, 0.25)
        o = Orchestration(
            thread_id=thread.id,
            session_id=session.id,
            user_id="alice",
            prompt="Write a haiku",
            status="running",
            iterations=_iterations(1),
        )
        events: list[Event] = [_started(o), _selected(o)]
        started = await store.start(o, owner="me", ttl_s=60, events=events, reserve=0.5)
        assert started.reserved
        assert (started.session.total_cost, started.session.reserved_cost) == (0.0, 0.75)  # as the start left it
        assert [e.seq for e in events] == [2, 3]
        stored = await store.list_events(session.id, orchestration_id=o.id)
        assert [(e.seq, e.type) for e in stored] == [(2, "orchestration_started"), (3, "model_selected")]
        got = await store.get_orchestration(o.id)
        assert got.status == "running" and [it.phase for it in got.iterations] == ["selected"]
        assert not await store.claim(o.id, "someone else", 60) and o.id not in await store.list_resumable()
        assert await store.commit_step(o, [_selected(o, 2)], owner="me")  # its lease fences commits
        # refused: 0.75 + 0.5 > 1; the start stands without it
        late = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p", status="running")
        started = await store.start(late, owner="me", ttl_s=60, events=[_started(late)], reserve=0.5)
        assert not started.reserved and started.session.reserved_cost == 0.75
        assert (await store.get_orchestration(late.id)).status == "running"
        assert [e.seq for e in await store.list_events(session.id, orchestration_id=late.id)] == [5]
        assert await store.release_reservations(session.id, late.id) == 0.0
        assert await store.release_reservations(session.id, o.id) == 0.5  # held against the started orchestration
        # without a limit, always reserved
        free = await _session(store)
        t = await _thread(store, free)
        big = Orchestration(thread_id=t.id, session_id=free.id, user_id="alice", prompt="p", status="running")
        started = await store.start(big, owner="me", ttl_s=60, reserve=1000.0)
        assert started.reserved and started.session.reserved_cost == 1000.0

    async def test_start_reserves_within_what_the_session_has_spent(self, store: Store) -> None:
        session, thread, first = await _tree(store, cost_limit=1.0)
        first.status = "completed"
        await store.commit(first, spent=0.75)  # an earlier run of the session spent 0.75 of its 1.0
        o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p", status="running")
        started = await store.start(o, owner="me", ttl_s=60, events=[_started(o)], reserve=0.5)
        assert not started.reserved  # 0.75 spent + 0.5 > 1.0, however little is reserved
        assert (started.session.total_cost, started.session.reserved_cost) == (0.75, 0.0)
        assert (await store.get_orchestration(o.id)).status == "running"  # the start stands without it
        again = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="q", status="running")
        started = await store.start(again, owner="me", ttl_s=60, reserve=0.25)  # exactly up to the limit
        assert started.reserved and (started.session.total_cost, started.session.reserved_cost) == (0.75, 0.25)
        assert await store.release_reservations(session.id, o.id) == 0.0
        assert await store.release_reservations(session.id, again.id) == 0.25

    async def test_a_started_orchestrations_lease_expires_after_ttl_s(self, store: Store) -> None:
        session = await _session(store)
        thread = await _thread(store, session)
        o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p", status="running")
        await store.start(o, owner="dead", ttl_s=0.05)
        assert o.id not in await store.list_resumable()
        await asyncio.sleep(0.1)  # its process died right after the start: the run is for another to resume
        assert o.id in await store.list_resumable()
        assert await store.claim(o.id, "next", 60)
        await _refused(Conflict, store.commit(o, owner="dead"))

    async def test_a_failed_start_writes_nothing(self, store: Store) -> None:
        session, thread, o = await _tree(store, cost_limit=1.0)

        async def nothing_written() -> None:
            assert await store.list_events(session.id) == []
            got = await store.get_session(session.id)
            assert (got.total_cost, got.reserved_cost) == (0.0, 0.0)
            assert [x.id for x in await store.list_orchestrations(session_id=session.id)] == [o.id]
            assert [x.id for x in await store.list_threads(session.id)] == [thread.id]

        # the orchestration exists already
        await _refused(Conflict, store.start(o, owner="me", ttl_s=60, events=[_selected(o)], reserve=0.5))
        await nothing_written()
        assert await store.claim(o.id, "other", 60)  # the refused start took no lease
        lost = Orchestration(thread_id="t" * 24, session_id=session.id, user_id="alice", prompt="p")
        # no such thread
        await _refused(NotFound, store.start(lost, owner="me", ttl_s=60, events=[_selected(lost)], reserve=0.5))
        await nothing_written()
        fresh = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
        stranger = Orchestration(thread_id=thread.id, session_id="0" * 24, user_id="alice", prompt="p")
        # an event of another session
        await _refused(ValueError, store.start(fresh, owner="me", ttl_s=60, events=[_selected(stranger)]))
        await _refused(ValueError, store.start(fresh, owner="me", ttl_s=60, reserve=-1.0))
        fresh.status = "completed"
        # an ended orchestration holds no reservation
        await _refused(ValueError, store.start(fresh, owner="me", ttl_s=60, reserve=0.5))
        await nothing_written()
        if self.atomic_start and not _composed_start(
            store
        ):  # the new thread is not kept when the orchestration cannot be
            new = Thread(session_id=session.id, user_id="alice", original_prompt="p")
            again = o.model_copy(update={"thread_id": new.id})
            await _refused(
                Conflict, store.start(again, thread=new, owner="me", ttl_s=60, events=[_selected(again)], reserve=0.5)
            )
            await nothing_written()

    async def test_commit_step_reserves_the_next_call_after_the_commit(self, store: Store) -> None:
        session, _, o = await _tree(store, cost_limit=1.0)
        assert await store.claim(o.id, "me", 60)
        assert await store.reserve_budget(session.id, o.id, 0.6)
        o.status = "running"
        # the step spends 0.5 of the 0.6 it held and releases it: 0.5 is left, exactly the next call's
        events = [_selected(o)]
        assert await store.commit_step(o, events, spent=0.5, released=0.6, owner="me", reserve=0.5)
        assert events[0].seq == 1
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.5, 0.5)
        # refused: the commit stands without it
        assert not await store.commit_step(o, [_selected(o, 2)], spent=0.25, released=0.25, reserve=0.5)
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.75, 0.25)
        assert [e.seq for e in await store.list_events(session.id)] == [1, 2]
        assert await store.commit_step(o)  # nothing to reserve: True
        assert await store.release_reservations(session.id, o.id) == 0.25

    async def test_spending_moves_the_sessions_updated_at(self, store: Store) -> None:
        session, _, o = await _tree(store, cost_limit=1.0)
        created = (await store.get_session(session.id)).updated_at
        o.status = "running"
        await store.commit(o, [_selected(o)])  # nothing spent: the session is as it was
        assert (await store.get_session(session.id)).updated_at == created
        await store.commit(o, [_selected(o, 2)], spent=0.25)
        got = await store.get_session(session.id)
        assert got.total_cost == 0.25 and got.updated_at > created
        assert abs((got.updated_at - o.updated_at).total_seconds()) < 0.001  # the time of the commit
        assert await store.reserve_budget(session.id, o.id, 0.5)
        # a listing shows the session as `get_session` does: its spending and reservations, not as it was created
        listed = (await store.list_sessions(session.user_id))[0]
        assert (listed.total_cost, listed.reserved_cost, listed.updated_at) == (0.25, 0.5, got.updated_at)

    async def test_commit_step_is_fenced_and_writes_nothing_when_refused(self, store: Store) -> None:
        session, _, o = await _tree(store, cost_limit=1.0)
        assert await store.claim(o.id, "first", 60)
        o.status = "running"
        await _refused(Conflict, store.commit_step(o, [_selected(o)], spent=0.25, owner="second", reserve=0.5))
        await _refused(ValueError, store.commit_step(o, [_selected(o)], spent=0.25, reserve=-1.0))
        await _refused(ValueError, store.commit_step(o, release_lease=True))  # whose lease?
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.0, 0.0)
        assert await store.list_events(session.id) == []
        o.status = "completed"
        # a final commit releases everything: it cannot reserve
        await _refused(ValueError, store.commit_step(o, reserve=0.1, owner="first"))

    async def test_an_expired_lease_still_fences_until_another_owner_claims_it(self, store: Store) -> None:
        _, _, new = await _tree(store)
        assert await store.claim(new.id, "first", 0.05)
        await asyncio.sleep(0.1)  # the lease has expired, and nobody has claimed it since: still first's
        new.status = "running"
        await store.commit(new, owner="first")
        await _refused(Conflict, store.commit(new, owner="second"))
        assert await store.claim(new.id, "second", 60)  # taken over: first's commits are refused from now on
        await _refused(Conflict, store.commit(new, owner="first"))
        assert (await store.get_orchestration(new.id)).status == "running"

    async def test_commit_step_records_the_routers_outcomes_with_the_commit(self, store: Store) -> None:
        session, _, o = await _tree(store)
        assert await store.claim(o.id, "me", 60)
        seen = RoutingOutcome("r", "coding", "sim:alpha", 8.0, 0.25, 100.0, 12)
        # refused: nothing of it is written, the outcomes neither
        await _refused(Conflict, store.commit_step(o, [_selected(o)], owner="other", outcomes=[seen]))
        assert await store.routing_stats("r") == []
        o.status = "running"
        assert await store.commit_step(o, [_selected(o)], owner="me", outcomes=[seen, seen])
        [stat] = await store.routing_stats("r")
        assert (stat.domain, stat.model_name, stat.n, stat.score_sum, stat.score_sq_sum) == (
            "coding",
            "sim:alpha",
            2,
            16.0,
            128.0,
        )
        assert (stat.cost_sum, stat.latency_ms_sum, stat.output_tokens_sum) == (0.5, 200.0, 24)
        assert [e.seq for e in await store.list_events(session.id)] == [1]

    async def test_the_final_commit_step_releases_the_lease(self, store: Store) -> None:
        session, _, o = await _tree(store, cost_limit=1.0)
        assert await store.claim(o.id, "me", 60)
        o.status = "running"
        assert await store.commit_step(o, [_selected(o)], owner="me", reserve=0.25)
        o.status = "completed"
        assert await store.commit_step(o, spent=0.125, owner="me", release_lease=True)
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.125, 0.0)
        assert await store.claim(o.id, "another", 60)  # given up with the commit
        await store.release(o.id, "another")
        o.status = "running"  # (another process's commit_step releasing only its own lease)
        assert await store.claim(o.id, "third", 60)
        await _refused(Conflict, store.commit_step(o, owner="me", release_lease=True))
        assert not await store.claim(o.id, "me", 60)

    # -- leases -------------------------------------------------------------------------------
    async def test_leases(self, store: Store) -> None:
        _, _, o = await _tree(store)
        assert await store.claim(o.id, "a", 30)
        assert not await store.claim(o.id, "b", 30)
        assert await store.claim(o.id, "a", 30)  # renewal
        await store.release(o.id, "b")  # not b's: no effect
        assert not await store.claim(o.id, "b", 30)
        await store.release(o.id, "a")
        assert await store.claim(o.id, "b", 0.05)
        assert not await store.claim(o.id, "a", 30)
        await asyncio.sleep(0.1)
        assert await store.claim(o.id, "a", 30)  # b's lease expired
        await _refused(ValueError, store.claim(o.id, "a", 0))

    async def test_renew_leases_claims_many_at_once(self, store: Store) -> None:
        session = await _session(store)
        thread = await _thread(store, session)
        mine = [await _orchestration(store, thread) for _ in range(3)]
        theirs, expired, free = [await _orchestration(store, thread) for _ in range(3)]
        for o in mine:
            assert await store.claim(o.id, "me", 0.3)
        assert await store.claim(theirs.id, "them", 30)
        assert await store.claim(expired.id, "them", 0.05)
        await asyncio.sleep(0.1)
        unknown = [f"{i:024x}" for i in range(1, 1001)]  # (more than fit in one SQL statement's parameters)
        ids = [*unknown[:500], *(o.id for o in (*mine, theirs, expired, free)), *unknown[500:], mine[0].id]
        held = await store.renew_leases(ids, "me", 30)
        assert held == {*(o.id for o in mine), expired.id, free.id}  # as `claim` would, for each
        await asyncio.sleep(0.3)  # the first leases would have expired by now: they were renewed
        for o in (*mine, expired, free):
            assert not await store.claim(o.id, "them", 30)
        assert await store.claim(theirs.id, "them", 30)  # still theirs
        assert await store.renew_leases([theirs.id], "me", 30) == set()
        assert await store.renew_leases([], "me", 30) == set()
        await _refused(ValueError, store.renew_leases([mine[0].id], "me", 0))
        # (one id where a list goes: its letters are no ids, and the store answered an empty set without a word)
        await _refused(UserError, store.renew_leases(mine[0].id, "me", 30))

    async def test_list_resumable(self, store: Store) -> None:
        session = await _session(store)
        thread = await _thread(store, session)
        newer = await _orchestration(store, thread, created_at=_at(20), status="running")
        older = await _orchestration(store, thread, created_at=_at(10))
        leased = await _orchestration(store, thread, created_at=_at(5), status="running")
        expired = await _orchestration(store, thread, created_at=_at(30), status="running")
        finished = await _orchestration(store, thread, created_at=_at(1))
        finished.status = "completed"
        await store.commit(finished)
        assert await store.claim(leased.id, "me", 30)
        assert await store.claim(expired.id, "me", 0.05)
        await asyncio.sleep(0.1)
        assert await store.list_resumable() == [older.id, newer.id, expired.id]
        assert await store.list_resumable(limit=2) == [older.id, newer.id]
        await store.release(leased.id, "me")
        assert (await store.list_resumable())[0] == leased.id
        newer.status = "completed"
        await store.commit(newer)
        assert newer.id not in await store.list_resumable()

    async def test_expire_leases_of_frees_the_runs_of_owners_gone(self, store: Store) -> None:
        if not _implements(store, "expire_leases_of"):
            pytest.skip(
                f"{type(store).__name__} does not implement expire_leases_of (optional: the runs of a process that"
                " ended are then resumed once their leases expire)"
            )
        session = await _session(store)
        thread = await _thread(store, session)
        left = [await _orchestration(store, thread, status="running") for _ in range(2)]
        alive, expired, ended = [await _orchestration(store, thread, status="running") for _ in range(3)]
        for o in left:
            assert await store.claim(o.id, "gone", 3600)
        assert await store.claim(alive.id, "alive", 3600)
        assert await store.claim(expired.id, "late", 0.05)
        assert await store.claim(ended.id, "finished", 3600)  # (an owner of its own: else asking about it went unseen)
        ended.status = "completed"
        await store.commit(ended, owner="finished")
        await asyncio.sleep(0.1)
        asked: list[str] = []

        def gone(owner: str) -> bool:
            asked.append(owner)
            return owner == "gone"

        assert await store.expire_leases_of(gone) == {"gone"}
        assert sorted(asked) == ["alive", "gone"]  # once each; not for an expired lease, nor for an ended run's
        assert set(await store.list_resumable()) == {*(o.id for o in left), expired.id}
        try:  # the owner stays recorded: its lease fences as any expired lease does, until another owner claims it
            await store.commit(left[1], owner="gone")
        except Conflict:
            pytest.fail(
                "store.commit(owner='gone') raised Conflict after expire_leases_of expired gone's lease: the owner must"
                " stay recorded (only lease_expires set to now), its commits applying until another owner claims the"
                " run, as with any expired lease",
                pytrace=False,
            )
        assert await store.claim(left[0].id, "next", 30)  # free to take over
        await _refused(Conflict, store.commit(left[0], owner="gone"))
        assert not await store.claim(alive.id, "next", 30)  # the live owner's lease is left alone
        assert await store.expire_leases_of(lambda owner: False) == set()
        assert set(await store.list_resumable()) == {left[1].id, expired.id}

    async def test_count_active_orchestrations(self, store: Store) -> None:
        first, second = await _session(store), await _session(store)
        threads = [await _thread(store, first), await _thread(store, second)]
        pending = await _orchestration(store, threads[0])
        running = await _orchestration(store, threads[1], status="running")
        assert await store.claim(running.id, "me", 30)  # a lease does not change the count
        for status in ("completed", "failed", "cancelled"):
            await _orchestration(store, threads[0], status=status)
        bob = await _thread(store, await _session(store, "bob"))
        await _orchestration(store, bob, status="running")
        assert await store.count_active_orchestrations("alice") == 2
        assert await store.count_active_orchestrations("bob") == 1
        assert await store.count_active_orchestrations("carol") == 0
        pending.status = "completed"
        await store.commit(pending)
        assert await store.count_active_orchestrations("alice") == 1

    # -- cancellation -------------------------------------------------------------------------
    async def test_cancel_requests(self, store: Store) -> None:
        _, thread, o = await _tree(store)
        other = await _orchestration(store, thread, status="running")
        assert not await store.cancel_requested(o.id)
        assert await store.request_cancel(o.id)
        assert await store.request_cancel(o.id)  # idempotent
        assert await store.cancel_requested(o.id)
        assert not await store.cancel_requested(other.id)  # per orchestration
        assert not await store.cancel_requested("0" * 24)
        await _refused(NotFound, store.request_cancel("0" * 24))
        other.status = "completed"
        await store.commit(other)
        assert not await store.request_cancel(other.id)  # already ended: nothing to stop

    async def test_cancel_requests_answers_for_many_runs_at_once(self, store: Store) -> None:
        _, thread, asked = await _tree(store)
        going = await _orchestration(store, thread, status="running")
        ending, ending_thread, in_ended = await _tree(store)
        also_in_ended = await _orchestration(store, ending_thread, status="running")
        assert await store.cancel_requests([asked.id, going.id, in_ended.id]) == set()
        assert await store.request_cancel(asked.id)
        await store.set_session_status(ending.id, "completed")
        unknown = [f"{i:024x}" for i in range(1, 1001)]  # (more than fit in one SQL statement's parameters)
        ids = [*unknown[:500], asked.id, going.id, in_ended.id, also_in_ended.id, *unknown[500:], asked.id]
        stop = await store.cancel_requests(ids)
        assert stop == {asked.id, in_ended.id, also_in_ended.id}
        for oid in (asked.id, going.id, in_ended.id, unknown[0]):  # what `cancel_requested` says of each
            assert (oid in stop) == await store.cancel_requested(oid)
        assert await store.cancel_requests([going.id]) == set()
        assert await store.cancel_requests([]) == set()
        await _refused(UserError, store.cancel_requests(asked.id))  # (one id, not a list)

    async def test_an_ended_session_cancels_its_orchestrations(self, store: Store) -> None:
        session, _, o = await _tree(store)
        assert not await store.cancel_requested(o.id)
        await store.set_session_status(session.id, "paused")
        assert not await store.cancel_requested(o.id)  # paused: runs go on
        await store.set_session_status(session.id, "cancelled")
        assert await store.cancel_requested(o.id)
        done_session, _, done = await _tree(store)
        await store.set_session_status(done_session.id, "completed")
        assert await store.cancel_requested(done.id)

    # -- counters -----------------------------------------------------------------------------
    async def test_counters(self, store: Store) -> None:
        assert await store.incr("plain") == 1
        assert await store.incr("plain", 5) == 6
        assert await store.incr("plain", -6) == 0
        results = await asyncio.gather(*(store.incr("busy") for _ in range(100)))
        assert sorted(results) == list(range(1, 101))
        assert await store.incr("other", 3) == 3

    async def test_counter_windows_expire(self, store: Store) -> None:
        assert await store.incr("window", ttl_s=0.15) == 1
        assert await store.incr("window", ttl_s=0.15) == 2
        assert await store.incr("forever", ttl_s=None) == 1
        assert await store.incr("forever", ttl_s=0.05) == 2  # not created by this call: no expiry
        await asyncio.sleep(0.2)
        assert await store.incr("window", 4, ttl_s=0.15) == 4  # a new window
        assert await store.incr("forever") == 3
        await _refused(ValueError, store.incr("window", ttl_s=0))

    async def test_incr_amounts_are_ints_and_sums_stay_in_64_bits(self, store: Store) -> None:
        # SQLite made a float amount a REAL counter and refused 2**63 with a raw OverflowError, MongoDB truncated 1.5
        # to 1; past 2**63 - 1, SQLite turned the counter into a float and MongoDB into a double
        for amount in (1.5, True, "1", None, 2**63, -(2**63) - 1):
            with pytest.raises(UserError, match=r"an incr amount must be an int between -2\*\*63 and 2\*\*63 - 1"):
                await store.incr("k", amount)  # type: ignore[arg-type]
        top, bottom = 2**63 - 1, -(2**63)
        assert await store.incr("high", top) == top
        assert await store.incr("high", 0) == top
        with pytest.raises(UserError, match=rf"counter 'high' is at {top}: adding 1 would leave the range"):
            await store.incr("high", 1)
        assert await store.incr("high", -1) == top - 1  # refused: nothing was added
        assert await store.incr("low", bottom) == bottom
        with pytest.raises(UserError, match=rf"counter 'low' is at {bottom}: adding -2 would leave the range"):
            await store.incr("low", -2)
        assert await store.incr("low", top) == -1
        # (a key read from a config that lacked it: SQLite failed with "StoreError: SQLite error: NOT NULL constraint
        # failed: counters.key", MemoryStore and MongoDB kept a counter under None)
        key: Any = None
        with pytest.raises(UserError, match="a counter's key must be a string, not None"):
            await store.incr(key)

    # -- router statistics --------------------------------------------------------------------
    async def test_routing_stats(self, store: Store) -> None:
        outcome = {"score": 8.0, "cost": 0.25, "latency_ms": 100.0, "output_tokens": 10}
        await asyncio.gather(
            *(store.record_routing_outcome("bandit", domain="coding", model_name="m1", **outcome) for _ in range(20))  # type: ignore[arg-type]
        )
        await store.record_routing_outcome(
            "bandit", domain="coding", model_name="m0", score=4.0, cost=0.5, latency_ms=50.0, output_tokens=3
        )
        await store.record_routing_outcome(
            "bandit", domain="analysis", model_name="m1", score=6.0, cost=0.0, latency_ms=1.0, output_tokens=0
        )
        await store.record_routing_outcome(
            "other", domain="coding", model_name="m1", score=1.0, cost=0.0, latency_ms=1.0, output_tokens=0
        )
        stats = await store.routing_stats("bandit")
        assert [(s.domain, s.model_name) for s in stats] == [("analysis", "m1"), ("coding", "m0"), ("coding", "m1")]
        assert stats[2] == RoutingStat(
            domain="coding",
            model_name="m1",
            n=20,
            score_sum=160.0,
            score_sq_sum=1280.0,
            cost_sum=5.0,
            latency_ms_sum=2000.0,
            output_tokens_sum=200,
        )
        assert stats[2].mean_score == 8.0
        assert await store.routing_stats("nobody") == []

    # -- API keys -----------------------------------------------------------------------------
    async def test_api_keys(self, store: Store) -> None:
        key = await store.create_api_key(ApiKey(key_hash="ab" * 32, user_id="alice", label="laptop"))
        got = await store.get_api_key("ab" * 32)
        assert got is not None and got.model_dump() == key.model_dump()
        await _refused(Conflict, store.create_api_key(ApiKey(key_hash="ab" * 32, user_id="mallory", admin=True)))
        # another key under the same id: `revoke_api_key(id)` would then revoke one of the two and leave the other valid
        await _refused(Conflict, store.create_api_key(ApiKey(id=key.id, key_hash="ef" * 32, user_id="mallory")))
        assert await store.get_api_key("ef" * 32) is None
        admin = await store.create_api_key(ApiKey(key_hash="cd" * 32, user_id="root", admin=True))
        assert (await store.get_api_key("cd" * 32)) == admin

    async def test_api_keys_are_listed_revoked_and_touched(self, store: Store) -> None:
        if not (_implements(store, "list_api_keys") and _implements(store, "revoke_api_key")):
            pytest.skip(
                f"{type(store).__name__} does not implement list_api_keys and revoke_api_key (optional: `orchestratex"
                " keys list` / `keys revoke` and the server's key routes need them)"
            )
        first = await store.create_api_key(ApiKey(key_hash="01" * 32, user_id="alice"))
        second = await store.create_api_key(ApiKey(key_hash="02" * 32, user_id="bob", admin=True))
        third = await store.create_api_key(ApiKey(key_hash="03" * 32, user_id="alice", label="ci"))
        assert [k.id for k in await store.list_api_keys()] == [first.id, second.id, third.id]
        assert [k.id for k in await store.list_api_keys("alice")] == [first.id, third.id]
        # oldest first by `created_at` (then id), not in the order stored: SQLite listed them as inserted
        when = utcnow()
        earlier = await store.create_api_key(
            ApiKey(key_hash="04" * 32, user_id="alice", created_at=when - timedelta(days=1))
        )
        tie_b = await store.create_api_key(ApiKey(_id="b" * 24, key_hash="05" * 32, user_id="carol", created_at=when))
        tie_a = await store.create_api_key(ApiKey(_id="a" * 24, key_hash="06" * 32, user_id="carol", created_at=when))
        assert [k.id for k in await store.list_api_keys("alice")] == [earlier.id, first.id, third.id]
        assert [k.id for k in await store.list_api_keys("carol")] == [tie_a.id, tie_b.id]
        assert (await store.list_api_keys())[0].id == earlier.id
        assert await store.list_api_keys("nobody") == []
        revoked = await store.revoke_api_key(third.id)
        assert revoked.id == third.id and revoked.revoked_at is not None and revoked.label == "ci"
        got = await store.get_api_key("03" * 32)
        assert got is not None and got.revoked_at is not None
        assert abs((got.revoked_at - revoked.revoked_at).total_seconds()) < 0.001
        await asyncio.sleep(0.01)  # (so that a second stamp would differ)
        again = await store.revoke_api_key(third.id)  # revoking twice keeps the first time
        assert again.revoked_at is not None and abs((again.revoked_at - revoked.revoked_at).total_seconds()) < 0.001
        assert (await store.get_api_key("01" * 32)).revoked_at is None  # type: ignore[union-attr]
        await _refused(NotFound, store.revoke_api_key("0" * 24))
        when = utcnow()
        await store.touch_api_key(first.id, when)
        await store.touch_api_key("0" * 24, when)  # an unknown key: nothing happens
        if _implements(store, "touch_api_key"):  # (the default records nothing, as its docstring says)
            touched = await store.get_api_key("01" * 32)
            assert touched is not None and touched.last_used_at is not None
            assert abs((touched.last_used_at - when).total_seconds()) < 0.001
        await store.ping()

    # -- analytics ----------------------------------------------------------------------------
    async def _analytics_dataset(self, store: Store) -> tuple[Session, Session]:
        """Two sessions of alice and one of bob; the expected figures below are worked out by hand."""
        s1, s2, s3 = await _session(store), await _session(store), await _session(store, user_id="bob")
        t1, t2, t3, t4 = [await _thread(store, s) for s in (s1, s1, s2, s3)]

        async def run(
            t: Thread, domain: str | None, status: OrchestrationStatus, score: float | None, cost: float, its: int
        ) -> Orchestration:
            o = await _orchestration(store, t, domain=domain)
            o.status, o.final_score, o.total_cost, o.iterations = status, score, cost, _iterations(its)
            return o

        o1 = await run(t1, "coding", "completed", 8.0, 0.25, 2)
        o2 = await run(t1, "coding", "completed", 6.5, 0.125, 3)
        o3 = await run(t2, "writing", "failed", None, 0.1, 1)
        o4 = await run(t3, None, "completed", 9.0, 0.2, 1)
        o5 = await run(t3, "writing", "pending", None, 0.0, 0)
        o6 = await run(t4, "coding", "completed", 2.0, 5.0, 4)
        await store.commit(
            o1,
            calls=[
                _call(o1, "m-a", "generate", "coding", 0.05, (100, 200), 120.0, 7.0),
                _call(o1, "m-b", "judge", "coding", 0.01, (300, 20), 40.0, 7.5),
                _call(o1, "m-a", "generate", "coding", 0.06, (150, 250), 100.0, 8.0),
                _call(o1, "m-b", "judge", "coding", 0.01, (320, 20), 50.0, 8.0),
            ],
        )
        await store.commit(
            o2,
            calls=[
                _call(o2, "m-c", "generate", "coding", 0.02, (80, 90), 300.0, 6.5),
                _call(o2, "m-b", "judge", "coding", 0.005, (200, 10), 30.0, 6.5),
            ],
        )
        await store.commit(o3, calls=[_call(o3, "m-c", "generate", "writing", 0.0, (50, 0), 1000.0, None, "timeout")])
        await store.commit(
            o4,
            calls=[
                _call(o4, "m-a", "generate", "general", 0.08, (60, 400), 200.0, 9.0),
                _call(o4, "m-b", "judge", "general", 0.0125, (400, 15), 60.0, 9.0),
            ],
        )
        await store.commit(o5)
        await store.commit(o6, calls=[_call(o6, "m-a", "generate", "coding", 1.0, (10, 10), 10.0, 2.0)])
        return s1, s2

    async def test_user_analytics(self, store: Store) -> None:
        await self._analytics_dataset(store)
        got = await store.user_analytics("alice")
        assert got == Analytics(
            scope="user",
            scope_id="alice",
            sessions=2,
            threads=3,
            orchestrations=5,
            by_status={"completed": 3, "failed": 1, "pending": 1},
            total_cost=0.675,
            input_tokens=1660,
            output_tokens=1005,
            total_iterations=7,
            mean_iterations=1.4,
            mean_final_score=23.5 / 3,
            median_final_score=8.0,
            latency_p50_ms=100.0,  # 9 calls: 30 40 50 60 100 120 200 300 1000, nearest rank 5
            latency_p95_ms=1000.0,
            models=[
                ModelUsage(
                    model_name="m-a",
                    calls=3,
                    generations=3,
                    judgements=0,
                    cost=0.19,
                    mean_score=8.0,
                    errors=0,
                    latency_p50_ms=120.0,
                    latency_p95_ms=200.0,
                ),
                ModelUsage(
                    model_name="m-b",
                    calls=4,
                    generations=0,
                    judgements=4,
                    cost=0.0375,
                    mean_score=None,
                    errors=0,
                    latency_p50_ms=40.0,
                    latency_p95_ms=60.0,
                ),
                ModelUsage(
                    model_name="m-c",
                    calls=2,
                    generations=2,
                    judgements=0,
                    cost=0.02,
                    mean_score=6.5,
                    errors=1,
                    latency_p50_ms=300.0,
                    latency_p95_ms=1000.0,
                ),
            ],
            domains=[
                DomainUsage(domain="coding", orchestrations=2, cost=0.375, mean_final_score=7.25),
                DomainUsage(domain="general", orchestrations=1, cost=0.2, mean_final_score=9.0),
                DomainUsage(domain="writing", orchestrations=2, cost=0.1, mean_final_score=None),
            ],
        )
        assert await store.user_analytics("nobody") == Analytics(scope="user", scope_id="nobody")

    async def test_mean_final_scores_are_exact_whatever_the_order_of_addition(self, store: Store) -> None:
        # Float sums depend on the order of their additions, which differs between stores (in the order stored; per
        # (domain, status) group, then over the groups): summed so, these means came out 7.1000000000000005 and
        # 5.3999999999999995, and one store's figure differed from another's in its last digit. Every store sums
        # `aggregate.score_units` as integers: the mean of scores with up to 9 decimals is the nearest float to
        # their exact mean. A final score that is not a number from 0 to 10 does not count (`counted_score`).
        session, thread, _ = await _tree(store)
        runs: tuple[tuple[str, OrchestrationStatus, float], ...] = (
            ("coding", "completed", 6.6),
            ("writing", "completed", 7.5),
            ("coding", "failed", 8.0),
            ("writing", "cancelled", 1.2),
            ("coding", "completed", 6.7),
            ("writing", "completed", 2.4),
            ("math", "completed", 8.2),  # (8.2 * 1e9 is 8199999999.999999: truncated, not rounded, it made 8.199999999)
            ("math", "failed", 8.2),
            ("writing", "completed", math.nan),  # (read back as None: not a score, in any store)
            ("coding", "completed", math.inf),
        )
        for domain, status, score in runs:
            o = await _orchestration(store, thread, domain=domain)
            o.status, o.final_score = status, score
            await store.commit(o)
        for got in (await store.session_analytics(session.id), await store.user_analytics("alice")):
            assert (got.mean_final_score, got.median_final_score) == (6.1, (6.7 + 7.5) / 2)
            assert [(d.domain, d.mean_final_score) for d in got.domains] == [
                ("coding", 7.1),
                ("general", None),
                ("math", 8.2),
                ("writing", 3.7),
            ]

    async def test_analytics_sum_the_overage(self, store: Store) -> None:
        session, thread, a = await _tree(store)
        b = await _orchestration(store, thread)
        bobs = await _thread(store, await _session(store, "bob"))
        c, d = await _orchestration(store, bobs), await _orchestration(store, thread)
        for o, total, over in ((a, 0.5, 0.125), (b, 0.25, 0.0), (c, 1.0, 0.5), (d, 0.25, 0.0625)):
            o.status, o.total_cost, o.overage_cost = "completed", total, over
            await store.commit(o, spent=total)
        assert (await store.session_analytics(session.id)).overage_cost == 0.1875
        assert (await store.user_analytics("alice")).overage_cost == 0.1875
        assert (await store.user_analytics("bob")).overage_cost == 0.5
        assert (await store.session_analytics(bobs.session_id)).total_cost == 1.0

    async def test_session_analytics(self, store: Store) -> None:
        s1, s2 = await self._analytics_dataset(store)
        got = await store.session_analytics(s1.id)
        assert got == Analytics(
            scope="session",
            scope_id=s1.id,
            sessions=1,
            threads=2,
            orchestrations=3,
            by_status={"completed": 2, "failed": 1},
            total_cost=0.475,
            input_tokens=1200,
            output_tokens=590,
            total_iterations=6,
            mean_iterations=2.0,
            mean_final_score=7.25,
            median_final_score=7.25,
            latency_p50_ms=100.0,  # 7 calls: 30 40 50 100 120 300 1000, nearest rank 4
            latency_p95_ms=1000.0,
            models=[
                ModelUsage(
                    model_name="m-a",
                    calls=2,
                    generations=2,
                    judgements=0,
                    cost=0.11,
                    mean_score=7.5,
                    latency_p50_ms=100.0,
                    latency_p95_ms=120.0,
                ),
                ModelUsage(
                    model_name="m-b",
                    calls=3,
                    generations=0,
                    judgements=3,
                    cost=0.025,
                    mean_score=None,
                    latency_p50_ms=40.0,
                    latency_p95_ms=50.0,
                ),
                ModelUsage(
                    model_name="m-c",
                    calls=2,
                    generations=2,
                    judgements=0,
                    cost=0.02,
                    mean_score=6.5,
                    errors=1,
                    latency_p50_ms=300.0,
                    latency_p95_ms=1000.0,
                ),
            ],
            domains=[
                DomainUsage(domain="coding", orchestrations=2, cost=0.375, mean_final_score=7.25),
                DomainUsage(domain="writing", orchestrations=1, cost=0.1, mean_final_score=None),
            ],
        )
        second = await store.session_analytics(s2.id)
        assert (second.orchestrations, second.by_status, second.median_final_score) == (
            2,
            {"completed": 1, "pending": 1},
            9.0,
        )
        assert (second.latency_p50_ms, second.latency_p95_ms, second.total_cost) == (60.0, 200.0, 0.2)
        empty = await _session(store)
        assert await store.session_analytics(empty.id) == Analytics(scope="session", scope_id=empty.id, sessions=1)

    async def test_model_stats(self, store: Store) -> None:
        await self._analytics_dataset(store)
        assert await store.model_stats("m-a") == ModelStats(
            model_name="m-a",
            requests=4,
            errors=0,
            error_rate=0.0,
            latency_p50_ms=100.0,  # 10 100 120 200 (bob's call counts too)
            latency_p95_ms=200.0,
            mean_score_by_domain={"coding": 17 / 3, "general": 9.0},
        )
        assert await store.model_stats("m-c") == ModelStats(
            model_name="m-c",
            requests=2,
            errors=1,
            error_rate=0.5,
            latency_p50_ms=300.0,
            latency_p95_ms=1000.0,
            mean_score_by_domain={"coding": 6.5},
        )
        # a judge's calls have scores too, the verdicts it gave: not scores of its own (generations only)
        assert await store.model_stats("m-b") == ModelStats(
            model_name="m-b",
            requests=4,
            errors=0,
            error_rate=0.0,
            latency_p50_ms=40.0,  # 30 40 50 60
            latency_p95_ms=60.0,
            mean_score_by_domain={},
        )
        assert await store.model_stats("unknown") == ModelStats(model_name="unknown")
