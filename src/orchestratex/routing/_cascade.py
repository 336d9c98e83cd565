"""The escalation policy shared by the routers: plan the rest of the cascade, take its first step.

A router that knows, for any set of models whose answers the judges rejected, how likely each
candidate's next answer is to be accepted (and to be right), hands those beliefs to `plan`. It
looks `horizon` attempts ahead (dynamic programming over the sets of rejected models) and values
a plan as

    P(an answer that is right gets accepted) − cost_weight × expected $ spent (answers + judging)

so the first model is chosen knowing that a failure will be followed by the best next move, and
the next move is chosen knowing which models already failed. Ideas drawn from FrugalGPT's learned
cascades (order models by value, stop on an accepted answer), AutoMix's treatment of a noisy
verifier as an observation rather than the truth, and RouteLLM's single cost knob.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Beliefs", "Plan", "plan"]

Beliefs = Callable[[frozenset[int]], tuple[Sequence[float], Sequence[float]]]
"""Given the rejected candidates (indices), each candidate's (P accepted, P right and accepted) next."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The best cascade found: the candidates to try in order (while rejected), and what each first step is worth."""

    order: tuple[int, ...]
    values: tuple[float, ...]
    """Value of starting with each candidate (then playing on optimally)."""
    success: float
    """P(a right answer is accepted) along the best plan."""
    cost: float
    """Expected spend of the best plan."""


def plan(
    beliefs: Beliefs,
    costs: Sequence[float],
    *,
    rejected: frozenset[int] = frozenset(),
    steps: int = 1,
    cost_weight: float = 0.0,
    budget: float | None = None,
    horizon: int = 3,
) -> Plan:
    """Plan up to `min(steps, horizon)` attempts from the state where `rejected` failed.

    `costs` are each candidate's expected spend for one attempt (answer and judging). A step whose
    expected cost exceeds what is left of `budget` (after the steps before it) is not planned.
    """
    n = len(costs)
    if n == 0:
        raise ValueError("no candidates to plan over")
    depth = max(1, min(steps, horizon))
    budget = _binding(budget, costs, depth)
    # (state, steps, budget left) -> the best plan from there. The budget left is part of the key, so the memo
    # is exact with a budget too: it is the budget less the costs of the steps in `state`, the same (up to float
    # rounding) whatever their order, so the n^depth paths share about C(n, depth) entries.
    memo: dict[tuple[frozenset[int], int, float | None], tuple[float, float, float, tuple[int, ...]]] = {}
    cache: dict[frozenset[int], tuple[Sequence[float], Sequence[float]]] = {}

    def believe(state: frozenset[int]) -> tuple[Sequence[float], Sequence[float]]:
        found = cache.get(state)
        if found is None:
            found = cache[state] = beliefs(state)
        return found

    def value(state: frozenset[int], k: int, left: float | None) -> tuple[float, float, float, tuple[int, ...]]:
        """(value, P success, expected cost, order) of the best plan of `k` steps from `state`."""
        if k == 0:
            return 0.0, 0.0, 0.0, ()
        key = (state, k, left)
        found = memo.get(key)
        if found is not None:
            return found
        accept, right = believe(state)
        best: tuple[float, float, float, tuple[int, ...]] = (0.0, 0.0, 0.0, ())  # a step worth nothing is not planned
        if k == 1:  # the last step: nothing follows it
            best = memo[key] = _last_step(accept, right, costs, cost_weight, left)
            return best
        for j in range(n):
            c = costs[j]
            if left is not None and c > left:
                continue
            # (`value` is deleted once the plan is made, below)
            fut_v, fut_s, fut_c, fut_o = value(state | {j}, k - 1, None if left is None else left - c)  # noqa: F821
            miss = 1.0 - accept[j]
            v = right[j] - cost_weight * c + miss * fut_v
            if v > best[0]:
                best = (v, right[j] + miss * fut_s, c + miss * fut_c, (j, *fut_o))
        memo[key] = best
        return best

    accept, right = believe(rejected)
    values = []
    for j in range(n):
        c = costs[j]
        fut = value(rejected | {j}, depth - 1, None if budget is None else max(budget - c, 0.0))
        values.append(right[j] - cost_weight * c + (1.0 - accept[j]) * fut[0])
    allowed = [j for j in range(n) if budget is None or costs[j] <= budget] or list(range(n))
    first = max(allowed, key=lambda j: values[j])
    fut = value(rejected | {first}, depth - 1, None if budget is None else max(budget - costs[first], 0.0))
    miss = 1.0 - accept[first]
    # `value` refers to itself through its closure, a reference cycle: deleting the name breaks it, so the memo
    # and the beliefs are freed at once rather than by the cyclic collector
    del value
    return Plan(
        order=(first, *fut[3]),
        values=tuple(values),
        success=right[first] + miss * fut[1],
        cost=costs[first] + miss * fut[2],
    )


def _binding(budget: float | None, costs: Sequence[float], depth: int) -> float | None:
    """`budget`, or None when no plan of `depth` steps can reach it (a model may be asked again): the same plans,
    with a memo keyed by state alone (a margin for rounding is kept)."""
    if budget is not None and budget > depth * max(costs) * (1 + 1e-9):
        return None
    return budget


def _last_step(
    accept: Sequence[float], right: Sequence[float], costs: Sequence[float], cost_weight: float, left: float | None
) -> tuple[float, float, float, tuple[int, ...]]:
    """`plan`'s step with nothing after it: exactly its loop with a future worth 0, without the calls."""
    best_v, best_j = 0.0, -1
    for j, (a, r, c) in enumerate(zip(accept, right, costs, strict=True)):
        if left is not None and c > left:
            continue
        v = r - cost_weight * c + (1.0 - a) * 0.0  # (the future's term: NaN stays NaN)
        if v > best_v:
            best_v, best_j = v, j
    if best_j < 0:
        return 0.0, 0.0, 0.0, ()
    miss = 1.0 - accept[best_j]
    return best_v, right[best_j] + miss * 0.0, costs[best_j] + miss * 0.0, (best_j,)
