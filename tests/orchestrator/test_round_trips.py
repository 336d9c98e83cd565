"""How many store round trips an orchestration makes: one to start, one per step (issue #12)."""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from orchestratex import Orchestrator
from orchestratex.routing import BayesianRouter
from orchestratex.stores import MemoryStore, SQLiteStore, Store

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
        # start (thread, orchestration, lease, budget); the selection's commit reserving the generation and its
        # judges; the generation's commit; the evaluation's commit, final, giving the lease up; then the
        # router's statistics (written by the router itself, three rows). Before: 14 calls (get_session twice,
        # create_thread, create_orchestration, claim, get_orchestration, cancel_requested, 3 commits,
        # reserve_budget, release, and the router's).
        assert dict(seen) == {"start": 1, "commit_step": 3, "record_routing_outcome": 3}
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
    # per iteration: select, generate, evaluate commits (the last one also ends the run), and the router's
    # observation; no separate reservation: each rode on its selection's commit
    assert seen["commit_step"] == 6 and seen["start"] == 1 and seen["create_session"] == 1
    assert not {"reserve_budget", "release", "claim", "get_session", "get_orchestration"} & set(seen)
    assert await ledger_problems(store, result.orchestration.session_id) == []


async def test_a_refused_reservation_with_the_commit_falls_back_to_waiting_for_the_budget() -> None:
    """The session's other run holds the budget when the selection commits: the generation reserves the usual
    way once it is released, and the run completes within the limit."""
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
    commit_step = store.commit_step

    async def watched(*args: Any, **kwargs: Any) -> bool:
        ok = await commit_step(*args, **kwargs)
        if kwargs.get("reserve"):
            granted.append(ok)
            if not ok:  # the blocker ends: its reservation is freed while the run waits for it
                await store.release_reservations(session.id, doc.id)
        return ok

    store.commit_step = watched  # type: ignore[method-assign]
    result = await orch.run("Hello", session=session, max_iterations=1)
    assert granted == [False] and result.status == "completed"
    got = await store.get_session(session.id)
    assert got.reserved_cost == 0 and 0 < got.total_cost <= 1.0
