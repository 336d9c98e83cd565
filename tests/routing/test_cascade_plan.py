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
            if (left is not None and c > left) or right[j] <= 0.0:  # (a step never right is not planned)
                continue
            fut_v, fut_s, fut_c, fut_o = value(state | {j}, k - 1, None if left is None else left - c)
            miss = 1.0 - accept[j]
            v = right[j] - cost_weight * c + miss * fut_v
            if v > best[0]:
                best = (v, right[j] + miss * fut_s, c + miss * fut_c, (j, *fut_o))
        return best

    accept, right = beliefs(frozenset())  # type: ignore[operator]
    values, spends = [], []
    for j in range(n):
        fut = value(frozenset({j}), depth - 1, None if budget is None else max(budget - costs[j], 0.0))
        values.append(right[j] - cost_weight * costs[j] + (1.0 - accept[j]) * fut[0])
        spends.append(costs[j] + (1.0 - accept[j]) * fut[2])
    allowed = [j for j in range(n) if budget is None or costs[j] <= budget] or list(range(n))
    first = max(allowed, key=lambda j: values[j])
    first = min((j for j in allowed if values[j] == values[first]), key=spends.__getitem__, default=first)
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


def _all_states(n: int, depth: int) -> list[frozenset[int]]:
    from itertools import combinations

    return [frozenset(c) for size in range(depth + 1) for c in combinations(range(n), size)]


@settings(max_examples=120, deadline=None)
@given(
    st.integers(0, 10_000),
    st.lists(st.floats(0.0001, 0.05), min_size=1, max_size=6),
    st.integers(1, 4),
    st.floats(0, 50),
    st.one_of(st.none(), st.floats(0, 0.12)),
    st.sampled_from(["none", "tight", "loose"]),
)
def test_the_memo_and_the_ceiling_change_no_plan(
    seed: int, costs: list[float], steps: int, weight: float, budget: float | None, ceiling: str
) -> None:
    """The same plan as the plain recursion, ties and first-step values included: without a ceiling, with
    each candidate's highest belief over every state (the tightest, where the most steps are skipped) or
    with a loose one."""
    n = len(costs)
    beliefs = _beliefs(seed, n)
    tops = None if ceiling == "none" else [1.0] * n
    if ceiling == "tight":
        rights = [beliefs(s)[1] for s in _all_states(n, 4)]  # type: ignore[operator]
        tops = [max(r[j] for r in rights) for j in range(n)]
    kwargs = {"steps": steps, "cost_weight": weight, "budget": budget, "horizon": 3}
    expected = reference_plan(beliefs, costs, **kwargs)  # type: ignore[arg-type]
    assert plan(beliefs, costs, ceiling=tops, **kwargs) == expected  # type: ignore[arg-type]


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
    seen = ok / n if n else own  # a pair's shift is measured from the model's observed rate, not its prior
    if model in rejected:
        n, ok = memory.pairs.get((domain, model, model), (0, 0))
        return (ok + memory.strength * memory.retry_prior) / (n + memory.strength)
    if not rejected:
        return own
    shift = 0.0
    for r in rejected:
        n, ok = memory.pairs.get((domain, r, model), (0, 0))
        shift += (ok + memory.strength * seen) / (n + memory.strength) - seen
    return min(max(own + shift / len(rejected), 1e-4), 1 - 1e-4)


def _learned_memory(
    rng: random.Random, names: list[str], strength: float, *, runs: int = 60, again: bool = True
) -> FailureMemory:
    """A failure memory that learned up to `runs` random judged runs (a model asked `again` within one, or not)."""
    memory = FailureMemory(strength=strength, retry_prior=rng.random() / 4)
    for _ in range(rng.randint(0, runs)):
        size = rng.randint(1, 4 if again else 3)
        tried = [rng.choice(names) for _ in range(size)] if again else rng.sample(names, size)
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
    return memory


@given(st.integers(0, 10_000), st.floats(0.5, 5))
def test_failure_memory_rates_are_the_formula(seed: int, strength: float) -> None:
    rng = random.Random(seed)
    names = ["a", "b", "c", "d"]
    memory = _learned_memory(rng, names, strength, runs=30, again=False)
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


def test_with_a_ceiling_ties_go_to_the_lower_index_as_in_the_loop() -> None:
    """After model 2 is rejected, model 1 looks better now (0.75 against 0.5) but both plans are worth exactly
    0.875: visited first, model 1 must still give way to model 0, as in the loop."""
    table = {
        frozenset(): [0.0, 0.0, 0.5],
        frozenset({2}): [0.5, 0.75, 0.0],
        frozenset({0, 2}): [0.0, 0.75, 0.0],  # then model 1: 0.5 + 0.5 * 0.75 = 0.875
        frozenset({1, 2}): [0.5, 0.0, 0.0],  # then model 0: 0.75 + 0.25 * 0.5 = 0.875
    }

    def beliefs(state: frozenset[int]) -> tuple[list[float], list[float]]:
        rates = table.get(state) or [0.0 if j in state else 0.25 for j in range(3)]
        return rates, rates

    kwargs = {"steps": 3, "cost_weight": 0.0, "budget": None, "horizon": 3}
    expected = reference_plan(beliefs, [0.01] * 3, **kwargs)  # type: ignore[arg-type]
    assert expected.order == (2, 0, 1)
    assert plan(beliefs, [0.01] * 3, ceiling=[1.0] * 3, **kwargs) == expected  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 7),
    st.floats(0.5, 5),
    st.integers(1, 4),
    st.one_of(st.none(), st.floats(0.0005, 0.1)),
)
def test_the_failure_memory_ceiling_bounds_every_state_and_changes_no_plan(
    seed: int, n: int, strength: float, steps: int, budget: float | None
) -> None:
    """The bound a router's memory gives `plan` holds in every state, and its plans are the plain recursion's."""
    rng = random.Random(seed)
    names = [f"m{i}" for i in range(n)]
    memory = _learned_memory(rng, names, strength)
    failed = frozenset(rng.sample([*names, "gone"], rng.randint(0, 2)))
    bases = [rng.random() for _ in names]
    beliefs = memory.beliefs("coding", names, bases, failed)
    for state in _all_states(n, 4):
        _, right = beliefs(state)
        assert all(r <= top for r, top in zip(right, beliefs.ceiling, strict=True))
    costs = [rng.uniform(0.0001, 0.02) for _ in names]
    weight = rng.choice([0.0, 1.0, 10.0, 80.0])
    kwargs = {"steps": steps, "cost_weight": weight, "budget": budget, "horizon": 3}
    expected = reference_plan(beliefs, costs, **kwargs)  # type: ignore[arg-type]
    assert plan(beliefs, costs, ceiling=beliefs.ceiling, **kwargs) == expected  # type: ignore[arg-type]


def test_a_ceiling_spares_most_states_of_a_plan_over_many_models() -> None:
    """22 models, three steps: with its memory's ceiling the planner believes a fraction of the states it would
    otherwise (each pair of rejected models), for the same plan."""
    rng = random.Random(7)
    names = [f"m{i}" for i in range(22)]
    memory = _learned_memory(rng, names, 2.0)
    beliefs = memory.beliefs("coding", names, [rng.uniform(0.1, 0.99) for _ in names], frozenset())
    seen: dict[str, list[frozenset[int]]] = {"with": [], "without": []}

    def counting(label: str) -> object:
        def counted(state: frozenset[int]) -> tuple[list[float], list[float]]:
            seen[label].append(state)
            return beliefs(state)

        return counted

    costs = [rng.uniform(0.0001, 0.01) for _ in names]
    bounded = plan(counting("with"), costs, steps=3, cost_weight=20.0, ceiling=beliefs.ceiling)  # type: ignore[arg-type]
    plain = plan(counting("without"), costs, steps=3, cost_weight=20.0)  # type: ignore[arg-type]
    assert bounded == plain
    assert len(seen["without"]) == 1 + 22 + 22 * 21 // 2
    assert len(seen["with"]) < len(seen["without"]) / 3


def test_a_nan_belief_is_planned_as_in_the_loop() -> None:
    """A NaN rate (a broken prior) is planned as the loop plans it, wherever it stands, with or without a budget or
    a ceiling (compared by `repr`: NaN is not equal to itself)."""
    nan = float("nan")
    for rates in ([nan, 0.4, 0.6], [0.4, nan, 0.6], [0.6, 0.4, nan]):

        def beliefs(state: frozenset[int], rates: list[float] = rates) -> tuple[list[float], list[float]]:
            return rates, rates

        for budget in (None, 0.025):
            for ceiling in (None, [1.0] * 3, [nan, 1.0, 1.0]):
                kwargs = {"steps": 3, "cost_weight": 1.0, "budget": budget, "horizon": 3}
                expected = reference_plan(beliefs, [0.01] * 3, **kwargs)  # type: ignore[arg-type]
                got = plan(beliefs, [0.01] * 3, ceiling=ceiling, **kwargs)  # type: ignore[arg-type]
                assert repr(got) == repr(expected)
