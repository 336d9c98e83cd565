"""What the online routers learn from one run changes the next as documented: a model always accepted is asked
first, not kept as the rescue of models that always fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.routing import Attempt, BayesianRouter, RoutingFeedback
from orchestratex.routing._memory import FailureMemory
from orchestratex.routing.contextual import ContextualRouter


def _judged(request: GenerationRequest) -> str:
    if request.purpose == "judge":  # only m2's answers are any good
        return json.dumps({"score": 9 if "by function:m2" in request.messages[-1].content else 2, "feedback": "no"})
    return f"an answer by {request.model.name}"


@pytest.mark.parametrize("router", [ContextualRouter(explore=False), BayesianRouter(explore=False)])
async def test_the_model_always_accepted_is_asked_first_once_seen(router: ContextualRouter | BayesianRouter) -> None:
    # Before: ContextualRouter planned m0 → m1 → m2 (or m1 → m2) in every run, paying for two or three answers and
    # their judging per prompt, because m2 had only ever been seen after the others failed.
    catalog = ModelCatalog(
        ModelProfile(
            name=f"function:m{i}",
            input_cost_per_1k=0.001,
            output_cost_per_1k=0.001,
            context_window=100_000,
            max_output_tokens=1000,
            quality=7.0,
        )
        for i in range(3)
    )
    orchestrator = Orchestrator(catalog=catalog, providers=[FunctionProvider(_judged)], router=router)
    firsts: list[str] = []
    for i in range(15):
        result = await orchestrator.run(f"What is {i} + 2?", max_iterations=3)
        assert result.final_model == "function:m2"
        firsts.append(result.orchestration.iterations[0].model_name)
    assert firsts[-10:].count("function:m2") >= 9, firsts
    await orchestrator.aclose()


def _feedback(model: str, score: float, *rejected: str) -> RoutingFeedback:
    return RoutingFeedback(
        domain="math",
        model_name=model,
        score=score,
        cost=0.001,
        latency_ms=1,
        attempts=tuple(Attempt(r, 2.0) for r in rejected),
        threshold=8.0,
    )


def test_a_pair_that_is_all_a_model_was_seen_doing_moves_nothing() -> None:
    memory = FailureMemory()
    for _ in range(10):
        memory.learn(_feedback("c", 9.0, "a"))
    own = memory.own_rate("math", "c", 0.5)
    assert memory.rate("math", "c", frozenset({"a"}), 0.5) == pytest.approx(own, abs=1e-12)
    # a model accepted less often after a's failure than on the whole: the pair moves its rate down
    for _ in range(10):
        memory.learn(_feedback("c", 9.0))
    for _ in range(10):
        memory.learn(_feedback("c", 2.0, "b"))
    own = memory.own_rate("math", "c", 0.5)
    assert memory.rate("math", "c", frozenset({"b"}), 0.5) < own < memory.rate("math", "c", frozenset({"a"}), 0.5)


@pytest.mark.parametrize("make", [BayesianRouter, ContextualRouter])
async def test_one_router_given_to_a_new_orchestrator_counts_the_stored_statistics_once(
    make: type[BayesianRouter] | type[ContextualRouter], tmp_path: Path
) -> None:
    """A notebook cell run again (or an orchestrator made per request) hands the same router object to a new
    orchestrator on the same store. Its attach used to add the stored acceptance counts (and, for
    `ContextualRouter`, the scores) to those it already held: after three such cells the cascade memory counted
    every run three times over, as if the models had been seen far more often than they were."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    catalog = ModelCatalog(
        ModelProfile(name=f"function:m{i}", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=7.0)
        for i in range(3)
    )
    router = make(explore=False)
    judged = 0
    for cell in range(3):
        orchestrator = Orchestrator(catalog=catalog, providers=[FunctionProvider(_judged)], router=router, store=url)
        for i in range(2):
            result = await orchestrator.run(f"Cell {cell}: what is {i} + 2?", max_iterations=3)
            judged += sum(it.evaluation is not None for it in result.orchestration.iterations)
        await orchestrator.aclose()
    assert router.memory.judging[0] == sum(n for n, _ in router.memory.single.values()) == judged
    fresh = make(explore=False)
    reader = Orchestrator(catalog=catalog, providers=[FunctionProvider(_judged)], router=fresh, store=url)
    async with reader:  # attaches the fresh router to the store: what the three cells' runs taught, once
        pass
    assert router.memory.single == fresh.memory.single and router.memory.pairs == fresh.memory.pairs
    assert router.memory.judging == pytest.approx(fresh.memory.judging)
    assert {k: s.n for k, s in router._stats.items()} == {k: s.n for k, s in fresh._stats.items()}


async def test_one_router_given_to_an_orchestrator_on_a_new_store_keeps_what_it_learned() -> None:
    """Warming a router up on one replay and measuring it on the next (each `lab.replay_loop` has a store of its
    own, new and empty) keeps what the warm-up taught: only a store holding its statistics replaces them."""
    catalog = ModelCatalog(
        ModelProfile(name=f"function:m{i}", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=7.0)
        for i in range(3)
    )
    router = BayesianRouter(explore=False)
    warm = Orchestrator(catalog=catalog, providers=[FunctionProvider(_judged)], router=router)
    for i in range(3):
        await warm.run(f"What is {i} + 2?", max_iterations=3)
    await warm.aclose()
    learned = ({k: s.n for k, s in router._stats.items()}, dict(router.memory.single))
    assert learned[0]
    measured = Orchestrator(catalog=catalog, providers=[FunctionProvider(_judged)], router=router)
    async with measured:
        pass
    assert ({k: s.n for k, s in router._stats.items()}, dict(router.memory.single)) == learned


@pytest.mark.parametrize("make", [BayesianRouter, ContextualRouter])
async def test_a_router_warmed_up_by_a_lab_replay_adds_the_stored_statistics_to_what_it_learned(
    make: type[BayesianRouter] | type[ContextualRouter], tmp_path: Path
) -> None:
    """Before: a `BayesianRouter` warmed up by `lab.replay` on one's outcome table (never attached to a store), then
    given to an orchestrator on a store holding its statistics (earlier runs), lost what the replay taught of every
    (domain, model) the store held — 30 replayed answers of a model became the store's 1 — while its cascade memory
    kept both; `ContextualRouter` added them. Both now hold the replay's and the store's."""
    np = pytest.importorskip("numpy")
    from orchestratex import lab

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    catalog = ModelCatalog(
        ModelProfile(name=f"function:m{i}", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=7.0)
        for i in range(3)
    )
    async with Orchestrator(
        catalog=catalog, providers=[FunctionProvider(_judged)], router=make(explore=False), store=url
    ) as earlier:
        for i in range(4):
            await earlier.run(f"What is {i} + 2?", domain="math", max_iterations=3)
        stored = {(s.domain, s.model_name): s.n for s in await earlier.store.routing_stats(make.name)}
    assert stored
    rows = 30
    table = lab.OutcomeTable(
        name="mine",
        models=tuple(m.name for m in catalog),
        prompts=tuple(f"What is {i} times 3?" for i in range(rows)),
        quality=np.tile([0.0, 0.0, 1.0], (rows, 1)),
        cost=np.full((rows, 3), 0.001),
        tasks=("math",) * rows,
    )
    router = make(explore=False)
    await lab.replay(router, table, list(catalog), progress=False)
    replayed = {k: s.n for k, s in router._stats.items()}
    async with Orchestrator(catalog=catalog, providers=[FunctionProvider(_judged)], router=router, store=url):
        pass  # attaches the warmed-up router to the store of the earlier runs
    held = {k: s.n for k, s in router._stats.items()}
    assert held == {k: replayed.get(k, 0) + stored.get(k, 0) for k in {*replayed, *stored}}
