"""The cascade planner's memo and the failure memory's fast path give exactly what the plain recursion gives."""

from __future__ import annotations

import gc
import random
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestratex.routing import Attempt, BayesianRouter, RoutingFeedback, Task
from orchestratex.routing._cascade import Plan, plan
from orchestratex.routing._memory import FailureMemory

Value = tuple[float, float, float, tuple[int, ...]]


def reference_plan(
    beliefs: object,
    costs: Sequence[float],
    *,
    steps: int,
    cost_weight: float,
    budget: float | None,
    horizon: int,
) -> Plan:
    """The planner without any memo: every path of the recursion walked."""
    n = len(costs)
    depth = max(1, min(steps, horizon))

    def value(state: frozenset[int], k: int, left: float | None) -> Value:
        if k == 0:
            return 0.0, 0.0, 0.0, ()
        accept, right = beliefs(state)  # type: ignore[operator]
        best: Value = (0.0, 0.0, 0.0, ())
        for j in range(n):
            c = costs[j]
            if left is not None and c > left:
                continue
            fut_v, fut_s, fut_c, fut_o = value(state | {j}, k - 1, None if left is None else left - c)
            miss = 1.0 - accept[j]
            v = right[j] - cost_weight * c + miss * fut_v
            if v > best[0]:
                best = (v, right[j] + miss * fut_s, c + miss * fut_c, (j, *fut_o))
        return best

    accept, right = beliefs(frozenset())  # type: ignore[operator]
    values = []
    for j in range(n):
        fut = value(frozenset({j}), depth - 1, None if budget is None else max(budget - costs[j], 0.0))
        values.append(right[j] - cost_weight * costs[j] + (1.0 - accept[j]) * fut[0])
    allowed = [j for j in range(n) if budget is None or costs[j] <= budget] or list(range(n))
    first = max(allowed, key=lambda j: values[j])
    fut = value(frozenset({first}), depth - 1, None if budget is None else max(budget - costs[first], 0.0))
    miss = 1.0 - accept[first]
    return Plan((first, *fut[3]), tuple(values), right[first] + miss * fut[1], costs[first] + miss * fut[2])


def _beliefs(seed: int, n: int) -> object:
    rng = random.Random(seed)
    table: dict[frozenset[int], tuple[list[float], list[float]]] = {}

    def beliefs(state: frozenset[int]) -> tuple[list[float], list[float]]:
        if state not in table:
            accept = [rng.random() for _ in range(n)]
            table[state] = (accept, [a * rng.random() for a in accept])
        return table[state]

    return beliefs


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 10_000),
    st.lists(st.floats(0.0001, 0.05), min_size=1, max_size=6),
    st.integers(1, 4),
    st.floats(0, 50),
    st.one_of(st.none(), st.floats(0, 0.12)),
)
def test_the_memo_changes_no_plan(
    seed: int, costs: list[float], steps: int, weight: float, budget: float | None
) -> None:
    beliefs = _beliefs(seed, len(costs))
    kwargs = {"steps": steps, "cost_weight": weight, "budget": budget, "horizon": 3}
    assert plan(beliefs, costs, **kwargs) == reference_plan(beliefs, costs, **kwargs)  # type: ignore[arg-type]


def test_a_budgeted_plan_over_many_models_asks_each_state_once() -> None:
    """With a budget, the plan over 20 models, 3 steps ahead, believes each set of rejected models once and
    visits far fewer than the 20^3 paths."""
    calls: list[frozenset[int]] = []
    n = 20
    beliefs = _beliefs(1, n)

    def counted(state: frozenset[int]) -> object:
        calls.append(state)
        return beliefs(state)  # type: ignore[operator]

    costs = [0.001 * (i + 1) for i in range(n)]
    plan(counted, costs, steps=3, cost_weight=10.0, budget=1.0, horizon=3)  # type: ignore[arg-type]
    assert len(calls) == len(set(calls)) <= 1 + n + n * (n - 1) // 2 + n


def _reference_rate(memory: FailureMemory, domain: str, model: str, rejected: frozenset[str], base: float) -> float:
    n, ok = memory.single.get((domain, model), (0, 0))
    own = (ok + memory.strength * base) / (n + memory.strength)
    if model in rejected:
        n, ok = memory.pairs.get((domain, model, model), (0, 0))
        return (ok + memory.strength * memory.retry_prior) / (n + memory.strength)
    if not rejected:
        return own
    shift = 0.0
    for r in rejected:
        n, ok = memory.pairs.get((domain, r, model), (0, 0))
        shift += (ok + memory.strength * own) / (n + memory.strength) - own
    return min(max(own + shift / len(rejected), 1e-4), 1 - 1e-4)


@given(st.integers(0, 10_000), st.floats(0.5, 5))
def test_failure_memory_rates_are_the_formula(seed: int, strength: float) -> None:
    rng = random.Random(seed)
    memory = FailureMemory(strength=strength, retry_prior=rng.random() / 4)
    names = ["a", "b", "c", "d"]
    for _ in range(rng.randint(0, 30)):
        tried = rng.sample(names, rng.randint(1, 3))
        attempts = tuple(Attempt(m, rng.choice([3.0, 5.0]), 0.001, "") for m in tried[:-1])
        memory.learn(
            RoutingFeedback(
                domain="coding",
                model_name=tried[-1],
                score=rng.choice([4.0, 9.0]),
                cost=0.001,
                latency_ms=1.0,
                threshold=8.0,
                attempts=attempts,
                evaluation_cost=0.0001,
            )
        )
    bases = [rng.random() for _ in names]
    for size in range(4):
        failed = frozenset(rng.sample(names, rng.randint(0, 1)))
        state = frozenset(rng.sample(range(len(names)), size))
        rejected = failed | {names[i] for i in state}
        expected = [_reference_rate(memory, "coding", m, rejected, b) for m, b in zip(names, bases, strict=True)]
        assert [memory.rate("coding", m, rejected, b) for m, b in zip(names, bases, strict=True)] == expected
        accept, right = memory.beliefs("coding", names, bases, failed)(state)
        assert list(accept) == list(right) == expected


async def test_a_router_over_many_models_plans_the_same_with_the_fast_beliefs() -> None:
    """A BayesianRouter's cascade decision (budgeted, several steps) through the public `select`."""
    from orchestratex import ModelProfile

    models = [
        ModelProfile(name=f"t:m{i}", input_cost_per_1k=0.0001 * (i + 1), output_cost_per_1k=0.0002 * (i + 1))
        for i in range(12)
    ]
    router = BayesianRouter(seed=3, explore=False)
    task = Task(
        prompt="Explain DNS",
        domain="general",
        iteration=1,
        max_iterations=3,
        remaining_budget=0.05,
        input_tokens=200,
        max_output_tokens=1000,
    )
    decision = await router.select(task, models)
    assert decision.model_name in {m.name for m in models}
    assert "plans" in decision.reasoning


def test_a_plan_leaves_no_garbage_for_the_cyclic_collector() -> None:
    beliefs, costs = _beliefs(3, 8), [0.001 * (j + 1) for j in range(8)]
    gc.collect()
    gc.disable()
    try:
        for budget in (None, 0.01):
            plan(beliefs, costs, steps=3, cost_weight=1.0, budget=budget)  # type: ignore[arg-type]
        assert gc.collect() == 0  # the memo and the beliefs were freed by reference counting
    finally:
        gc.enable()
