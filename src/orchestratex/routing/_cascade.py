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

from ..exceptions import UserError

__all__ = ["Beliefs", "Plan", "plan"]

_SKIP = float("-inf")

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
    ceiling: Sequence[float] | None = None,
) -> Plan:
    """Plan up to `min(steps, horizon)` attempts from the state where `rejected` failed.

    `costs` are each candidate's expected spend for one attempt (answer and judging). A step whose
    expected cost exceeds what is left of `budget` (after the steps before it) is not planned.

    `ceiling`, when the beliefs can give it, bounds each candidate's P(right and accepted) over every
    state. The plan is the same with it or without it; with it, a step followed by one last step is
    not explored when even the best last step imaginable could not make it beat the best step found
    (a branch and bound: most of the states of a three-step plan over many models are never believed).
    """
    n = len(costs)
    if n == 0:
        raise UserError("no candidates to plan over")
    depth = max(1, min(steps, horizon))
    budget = _binding(budget, costs, depth)
    search = _Search(beliefs, costs, cost_weight, ceiling)
    accept, right = search.believe(rejected)
    values, spends = [], []
    for j in range(n):
        c = costs[j]
        fut = search.value(rejected | {j}, depth - 1, None if budget is None else max(budget - c, 0.0))
        values.append(right[j] - cost_weight * c + (1.0 - accept[j]) * fut[0])
        spends.append(c + (1.0 - accept[j]) * fut[2])
    allowed = [j for j in range(n) if budget is None or costs[j] <= budget] or list(range(n))
    first = max(allowed, key=lambda j: values[j])
    ties = [j for j in allowed if values[j] == values[first]]
    if len(ties) > 1:  # (the cheapest plan of equal worth: it was the first candidate, at cost_weight=0 of two models
        first = min(ties, key=spends.__getitem__)  # believed equally good the dearer one when it came first)
    fut = search.value(rejected | {first}, depth - 1, None if budget is None else max(budget - costs[first], 0.0))
    miss = 1.0 - accept[first]
    return Plan(
        order=(first, *fut[3]),
        values=tuple(values),
        success=right[first] + miss * fut[1],
        cost=costs[first] + miss * fut[2],
    )


_Value = tuple[float, float, float, tuple[int, ...]]
"""(value, P success, expected cost, order) of a plan."""
_NOTHING: _Value = (0.0, 0.0, 0.0, ())


class _Search:
    """One `plan`'s dynamic programme over the sets of rejected candidates (no reference cycle: its memo and
    the beliefs are freed with it, by reference counting)."""

    def __init__(
        self, beliefs: Beliefs, costs: Sequence[float], cost_weight: float, ceiling: Sequence[float] | None
    ) -> None:
        self.beliefs, self.costs = beliefs, costs
        self.weighted = [cost_weight * c for c in costs]  # (each step's `cost_weight * c`, computed once)
        self.singles = [frozenset((j,)) for j in range(len(costs))]
        self.last_best = _last_step_bound(ceiling, self.weighted)
        # (state, steps, budget left) -> the best plan from there. The budget left is part of the key, so the memo
        # is exact with a budget too: it is the budget less the costs of the steps in `state`, the same (up to
        # float rounding) whatever their order, so the n^depth paths share about C(n, depth) entries.
        self.memo: dict[tuple[frozenset[int], int, float | None], _Value] = {}
        self.cache: dict[frozenset[int], tuple[Sequence[float], Sequence[float]]] = {}

    def believe(self, state: frozenset[int]) -> tuple[Sequence[float], Sequence[float]]:
        found = self.cache.get(state)
        if found is None:
            found = self.cache[state] = self.beliefs(state)
        return found

    def value(self, state: frozenset[int], k: int, left: float | None) -> _Value:
        """The best plan of `k` steps from `state`."""
        if k == 0:
            return _NOTHING
        key = (state, k, left)
        found = self.memo.get(key)
        if found is not None:
            return found
        accept, right = self.believe(state)
        if k == 1:  # the last step: nothing follows it
            best = _last_step(accept, right, self.costs, self.weighted, left)
        elif k == 2 and self.last_best is not None:
            best = self._bounded(state, left, accept, right, self.last_best)
        else:
            best = self._loop(state, k, left, accept, right)
        self.memo[key] = best
        return best

    def _loop(
        self, state: frozenset[int], k: int, left: float | None, accept: Sequence[float], right: Sequence[float]
    ) -> _Value:
        costs, weighted, singles = self.costs, self.weighted, self.singles
        best = _NOTHING  # a step worth nothing is not planned
        for j in range(len(costs)):
            c = costs[j]
            # nor a step never right (a rejected model asked again, its retries never seen to pay): worth at most the
            # steps after it, and at cost_weight 0 exactly theirs, it came first of equal plans, which re-asked the
            # model just planned ("x:cheap → x:cheap → x:dear") and counted its spend, so that of two first steps
            # worth the same the dearer one was taken, its plan looking cheaper for not re-asking itself
            if (left is not None and c > left) or right[j] <= 0.0:
                continue
            fut_v, fut_s, fut_c, fut_o = self.value(state | singles[j], k - 1, None if left is None else left - c)
            miss = 1.0 - accept[j]
            v = right[j] - weighted[j] + miss * fut_v
            if v > best[0]:
                best = (v, right[j] + miss * fut_s, c + miss * fut_c, (j, *fut_o))
        return best

    def _bounded(
        self,
        state: frozenset[int],
        left: float | None,
        accept: Sequence[float],
        right: Sequence[float],
        last_best: float,
    ) -> _Value:
        """`_loop` for two steps, most promising first step first, skipping a step that cannot win: its value is at
        most `right - weighted + miss * last_best` (float rounding is monotonic), and a step wins only with a higher
        value, or an equal one and a lower index (the loop's first maximum)."""
        costs, weighted, singles = self.costs, self.weighted, self.singles
        best, best_j = _NOTHING, -1
        nows = [r - w for r, w in zip(right, weighted, strict=True)]
        for j in sorted(range(len(costs)), key=nows.__getitem__, reverse=True):
            c = costs[j]
            if (left is not None and c > left) or right[j] <= 0.0:  # (`_loop`'s skips)
                continue
            miss = 1.0 - accept[j]
            now = nows[j]
            if miss >= 0.0:  # (a NaN bound skips nothing)
                bound = now + miss * last_best
                if bound < best[0] or (bound == best[0] and (best_j < 0 or j > best_j)):
                    continue
            fut_v, fut_s, fut_c, fut_o = self.value(state | singles[j], 1, None if left is None else left - c)
            v = now + miss * fut_v
            if v > best[0] or (v == best[0] and 0 <= j < best_j):
                best, best_j = (v, right[j] + miss * fut_s, c + miss * fut_c, (j, *fut_o)), j
        return best


def _binding(budget: float | None, costs: Sequence[float], depth: int) -> float | None:
    """`budget`, or None when no plan of `depth` steps can reach it (a model may be asked again): the same plans,
    with a memo keyed by state alone (a margin for rounding is kept)."""
    if budget is not None and budget > depth * max(costs) * (1 + 1e-9):
        return None
    return budget


def _last_step_bound(ceiling: Sequence[float] | None, weighted: Sequence[float]) -> float | None:
    """An upper bound of what any last step is worth (`_last_step`'s value), from the candidates' ceilings; None
    without ceilings, or with a NaN among them."""
    if ceiling is None:
        return None
    best = 0.0
    for top, w in zip(ceiling, weighted, strict=True):
        v = top - w
        if v != v:
            return None
        if v > best:
            best = v
    return best


def _last_step(
    accept: Sequence[float],
    right: Sequence[float],
    costs: Sequence[float],
    weighted: Sequence[float],
    left: float | None,
) -> _Value:
    """`plan`'s step with nothing after it: exactly its loop with a future worth 0, without the calls.

    Each value is the loop's (`right - cost_weight * cost + miss * 0`); the best is the first maximal one
    above 0, which `max` and `index` find in C, unless `max` starts from a NaN (it would keep it): then the
    loop decides, as it would have."""
    if left is None:
        values = [r - w + (1.0 - a) * 0.0 for a, r, w in zip(accept, right, weighted, strict=True)]
    else:  # (a step costing more than what is left is never taken; `c > left` is the loop's test)
        values = [
            _SKIP if c > left else r - w + (1.0 - a) * 0.0
            for a, r, w, c in zip(accept, right, weighted, costs, strict=True)
        ]
    best_v = max(values)
    if best_v != best_v:
        best_v, best_j = 0.0, -1
        for j, v in enumerate(values):
            if v > best_v:
                best_v, best_j = v, j
        if best_j < 0:
            return 0.0, 0.0, 0.0, ()
    elif best_v > 0.0:
        best_j = values.index(best_v)
    else:
        return 0.0, 0.0, 0.0, ()
    miss = 1.0 - accept[best_j]
    return best_v, right[best_j] + miss * 0.0, costs[best_j] + miss * 0.0, (best_j,)
