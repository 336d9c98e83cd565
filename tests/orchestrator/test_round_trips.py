"""How many store round trips an orchestration makes: one to start, one per step (issue #12)."""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from orchestratex import FunctionProvider, Generation, GenerationRequest, Orchestrator
from orchestratex.exceptions import StoreUnavailable
from orchestratex.orchestrator import RetryPolicy
from orchestratex.records import Session, SessionSettings
from orchestratex.routing import BayesianRouter
from orchestratex.stores import MemoryStore, SQLiteStore, Started, Store

from ..helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted
from ..ledger import ledger_problems


def count_calls(store: Store) -> Counter[str]:
    """Count every call of the store's public methods, made from outside it (the instance's attributes are
    wrapped: the store's class, and so its fast paths, are unchanged)."""
    seen: Counter[str] = Counter()
    for name, method in inspect.getmembers(store, inspect.iscoroutinefunction):
        if name.startswith("_") or name in ("open", "close"):
            continue

        def counted(method: Callable[..., Awaitable[Any]] = method, name: str = name) -> Callable[..., Awaitable[Any]]:
            async def call(*args: Any, **kwargs: Any) -> Any:
                seen[name] += 1
                return await method(*args, **kwargs)

            return call

        setattr(store, name, counted())
    return seen


def stores(tmp_path: Path) -> dict[str, Store]:
    return {"memory": MemoryStore(), "sqlite": SQLiteStore(tmp_path / "trips.db")}


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_single_iteration_run_makes_one_store_call_per_step(kind: str, tmp_path: Path) -> None:
    store = stores(tmp_path)[kind]
    orch = Orchestrator(
        providers=[scripted(answer_attempt, score_of_answer({1: 9.0}))],
        catalog=catalog("a", "b"),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    async with orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        seen = count_calls(store)
        result = await orch.run("Hello", session=session, max_iterations=1)
        assert result.status == "completed" and result.iterations == 1
        # start, after the first routing decision (thread, orchestration, lease, the started and selected events,
        # the reservation of the generation and its judges); the generation's commit; the evaluation's commit,
        # final, with the router's statistics, giving the lease up. Before issue #12: 14 calls (get_session twice,
        # create_thread, create_orchestration, claim, get_orchestration, 3 commits, reserve_budget,
        # record_routing_outcome 3 times, release), 15 when the first cancel_requested poll came in; then 4
        # (start did not route: the selection was a commit of its own).
        assert dict(seen) == {"start": 1, "commit_step": 2}
        stats = await store.routing_stats("bayesian")
        assert [(s.model_name, s.n, s.score_sum) for s in stats] == [(result.orchestration.final_model, 1, 9.0)]
        assert await store.routing_stats("bayesian.cascade")  # (the cascade's failure memory, also committed)
        assert await ledger_problems(store, session.id) == []
        got = await store.get_session(session.id)
        assert got.reserved_cost == 0 and got.total_cost == result.total_cost > 0
        assert await store.claim(result.orchestration.id, "another process", 30)  # the lease was given up


async def test_a_judged_run_reserves_each_generation_and_its_judges_with_the_selection() -> None:
    store = MemoryStore()
    orch = Orchestrator(
        providers=[scripted(answer_attempt, score_of_answer({1: 6.0, 2: 9.0}))],
        catalog=catalog("a", "b"),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    seen = count_calls(store)
    result = await orch.run("Hello", cost_limit=1.0, evaluation_threshold=8)
    assert result.iterations == 2 and result.stop_reason == "threshold"
    # per iteration: select (the first one is the start), generate, evaluate commits (the last one also ends the
    # run), and the router's observation; no separate reservation: each rode on its selection's commit
    assert seen["commit_step"] == 5 and seen["start"] == 1 and seen["create_session"] == 1
    assert not {"reserve_budget", "release", "claim", "get_session", "get_orchestration"} & set(seen)
    assert await ledger_problems(store, result.orchestration.session_id) == []


async def test_a_refused_reservation_with_the_commit_falls_back_to_waiting_for_the_budget() -> None:
    """The session's other run holds the budget when the run starts with its first selection: the generation
    reserves the usual way once it is released, and the run completes within the limit."""
    store = MemoryStore()
    orch = Orchestrator(
        providers=[scripted(answer_attempt, score_of_answer({1: 9.0}))],
        catalog=catalog("a", "b"),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        reservation_wait_s=5.0,
    )
    session = await orch.create_session("alice", cost_limit=1.0)
    doc = await orch.prepare("blocker", session=session)
    assert await store.reserve_budget(session.id, doc.id, 0.999)  # another run holds almost everything
    granted: list[bool] = []
    start = store.start

    async def watched(*args: Any, **kwargs: Any) -> Started:
        started = await start(*args, **kwargs)
        if kwargs.get("reserve"):
            granted.append(started.reserved)
            if not started.reserved:  # the blocker ends: its reservation is freed while the run waits for it
                await store.release_reservations(session.id, doc.id)
        return started

    store.start = watched  # type: ignore[method-assign]
    result = await orch.run("Hello", session=session, max_iterations=1)
    assert granted == [False] and result.status == "completed"
    got = await store.get_session(session.id)
    assert got.reserved_cost == 0 and 0 < got.total_cost <= 1.0


class _TodaysStore(MemoryStore):
    """A store implementing only the methods a store had before `start` and `commit_step` (their defaults)."""

    start = Store.start
    commit_step = Store.commit_step


async def test_a_store_without_the_fast_paths_runs_the_same_orchestration() -> None:
    store = _TodaysStore()
    orch = Orchestrator(
        providers=[scripted(answer_attempt, score_of_answer({1: 6.0, 2: 9.0}))],
        catalog=catalog("a", "b"),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    seen = count_calls(store)
    result = await orch.run("Hello", cost_limit=1.0, evaluation_threshold=8)
    assert result.iterations == 2 and result.status == "completed"
    # the defaults compose today's methods, called on the store itself (the start's events are a commit)
    assert seen["start"] == 1 and seen["create_thread"] == seen["create_orchestration"] == seen["claim"] == 1
    assert seen["commit_step"] == 5 and seen["commit"] == 6 and seen["reserve_budget"] == 2 and seen["release"] == 1
    assert seen["record_routing_outcome"] > 2  # the router's rows (one per model observed, and its cascade's)
    assert sum(s.n for s in await store.routing_stats("bayesian")) == 2  # two evaluations
    assert await ledger_problems(store, result.orchestration.session_id) == []
    assert await store.claim(result.orchestration.id, "another process", 30)


async def test_outcomes_of_a_commit_that_failed_go_with_the_next_one() -> None:
    class Flaky(MemoryStore):
        """Its first commit carrying router statistics fails, having written nothing."""

        failed = False

        async def commit_step(self, *args: Any, **kwargs: Any) -> bool:
            if kwargs.get("outcomes") and not self.failed:
                self.failed = True
                raise StoreUnavailable("the disk is full; nothing was written")
            return await super().commit_step(*args, **kwargs)

    store = Flaky()
    orch = Orchestrator(
        providers=[scripted(answer_attempt, score_of_answer({1: 6.0, 2: 9.0}))],
        catalog=catalog("a", "b"),
        store=store,
        retry=NO_WAIT,
        store_retry=RetryPolicy(max_attempts=1),
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("Hello", cost_limit=1.0, evaluation_threshold=8, max_iterations=3)
    assert store.failed and result.stop_reason == "error"  # the store failed the run after its first evaluation
    assert result.iterations == 1
    stats = await store.routing_stats("bayesian")
    assert sum(s.n for s in stats) == 1  # the evaluation's outcome went with the final commit
    assert await ledger_problems(store, result.orchestration.session_id) == []


class _Died(BaseException):
    """The process dies (nothing of the run's handles it, as with SIGKILL)."""


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_run_whose_process_dies_right_after_the_start_resumes_without_a_paid_call_repeated(
    kind: str, tmp_path: Path
) -> None:
    store = stores(tmp_path)[kind]
    base = scripted(answer_attempt, score_of_answer({1: 9.0}))
    generations: list[str] = []
    dead = True

    async def fn(request: GenerationRequest) -> Generation:
        if request.purpose == "generate":
            generations.append(request.model.name)
            if dead:  # before the call is made: nothing is paid
                raise _Died
        return await base.generate(request)

    def make() -> Orchestrator:
        return Orchestrator(
            providers=[FunctionProvider(fn)],
            catalog=catalog("a", "b"),
            store=store,
            retry=NO_WAIT,
            router=BayesianRouter(explore=False),
            lease_ttl_s=0.2,
        )

    await store.open()
    session = await store.create_session(Session(user_id="alice", settings=SessionSettings(cost_limit=1.0)))
    with pytest.raises(_Died):
        await make().run("Hello", session=session, max_iterations=1)
    [oid] = await store.list_resumable()
    left = await store.get_orchestration(oid)
    # what the start stored: iteration 1 selected, its generation's worst case (and its judges') held
    assert left.status == "running" and [it.phase for it in left.iterations] == ["selected"]
    assert (await store.get_session(session.id)).reserved_cost > 0
    assert [e.type for e in await store.list_events(session.id)] == ["orchestration_started", "model_selected"]

    dead = False
    [result] = await make().resume_pending()
    assert result.status == "completed" and result.iterations == 1 and result.final_score == 9.0
    assert generations == [left.iterations[0].model_name] * 2  # the one that died unpaid, then the one answered
    assert result.orchestration.interrupted_calls == 1  # the dead process's reservation, released
    types = [e.type for e in await store.list_events(session.id)]
    assert types.count("orchestration_started") == types.count("model_selected") == 1
    assert types[-1] == "orchestration_completed"
    got = await store.get_session(session.id)
    assert got.reserved_cost == 0 and got.total_cost == result.total_cost > 0
    assert await ledger_problems(store, session.id) == []
    await store.close()


async def test_a_run_that_ends_before_it_could_route_is_stored_ended_by_the_start() -> None:
    store = MemoryStore()
    orch = Orchestrator(
        providers=[scripted(answer_attempt, score_of_answer({1: 9.0}))],
        catalog=catalog("a", "b"),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    session = await orch.create_session("alice", cost_limit=1e-9)  # no model's worst case fits
    seen = count_calls(store)
    result = await orch.run("Hello", session=session)
    assert result.status == "failed" and result.stop_reason == "budget" and result.iterations == 0
    assert dict(seen) == {"start": 1, "release": 1}
    stored = await store.get_orchestration(result.orchestration.id)
    assert stored.status == "failed" and stored.stop_reason == "budget"
    events = await store.list_events(session.id)
    assert [(e.seq, e.type) for e in events] == [(1, "orchestration_started"), (2, "orchestration_failed")]
    assert await store.claim(stored.id, "another process", 30)  # the lease was given up
    assert await ledger_problems(store, session.id) == []
