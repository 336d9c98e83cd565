"""Online escalation: what a router learns, from its own judged answers, about models failing together."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .._dollars import estimate
from ..catalog import ModelProfile
from ._base import LearningRouter, RoutingFeedback, Task, persisting
from ._cascade import Plan, plan

if TYPE_CHECKING:
    from ..stores import RoutingStat, Store

__all__ = ["EscalatingRouter", "FailureMemory", "Rates", "accept_prior", "best_rejected", "planned_scores"]

_AFTER = " after "
_LOW, _HIGH = 1e-4, 1 - 1e-4
_MARGIN = 1e-9
"""Relative slack of a rate's ceiling over the rounding of a state's float sum of shifts (about 1e-16 a term)."""
_JUDGING = "(judging)"


def accept_prior(mean_score: float, threshold: float, spread: float = 1.5) -> float:
    """P(a judged score reaches `threshold`) for an expected score `mean_score` with per-answer spread `spread`."""
    return 0.5 * (1.0 + math.erf((mean_score - threshold) / (spread * math.sqrt(2.0))))


class FailureMemory:
    """Acceptance counts per (domain, model), per (domain, rejected model, next model), and judging costs.

    `rate(domain, model, rejected, base)` is the chance that `model`'s next answer is accepted once
    the `rejected` models' answers were turned down: its own acceptance rate (the router's prior
    `base`, worth `strength` answers, plus what it observed), moved by the mean difference its
    answers showed after each rejected model's failure from its answers as a whole (each pair's
    rate shrunk toward the model's observed rate by `strength`, so a pair that is all the model was
    ever seen doing moves nothing: the prior is not counted twice). Asking a rejected model again is
    a pair like any other, whose prior is `retry_prior` (rarely fixed): it is chosen only once
    retries have been seen to succeed.
    """

    def __init__(self, *, strength: float = 2.0, retry_prior: float = 0.0) -> None:
        self.strength = strength
        self.retry_prior = retry_prior
        self.single: dict[tuple[str, str], list[int]] = {}
        self.pairs: dict[tuple[str, str, str], list[int]] = {}
        """[answers, accepted] per (domain, rejected model, next model); grown by `learn` and `restore` only."""
        self._after: dict[tuple[str, str], dict[str, list[int]]] = {}
        """The same counts per (domain, rejected model): {next model: counts} (what `beliefs` reads)."""
        self.judging = [0, 0.0]

    # -- learning -----------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget every count (the knobs stay)."""
        self.single.clear()
        self.pairs.clear()
        self._after.clear()
        self.judging = [0, 0.0]

    def learn(self, feedback: RoutingFeedback) -> list[tuple[str, bool]]:
        """Add one judged answer; return the (stored model name, accepted) entries to persist."""
        accepted = feedback.score >= feedback.threshold
        rejected = dict.fromkeys(
            a.model for a in feedback.attempts if a.score is not None and a.score < feedback.threshold
        )
        entries = [(feedback.model_name, accepted)]
        entries += [(f"{feedback.model_name}{_AFTER}{r}", accepted) for r in rejected]
        for key, ok in entries:
            self._add(feedback.domain, key, 1, int(ok))
        self.judging[0] += 1
        self.judging[1] += max(feedback.evaluation_cost, 0.0)
        return entries

    def _add(self, domain: str, key: str, n: int, ok: int) -> None:
        model, _, after = key.partition(_AFTER)
        if after:
            bucket = self.pairs.get((domain, after, model))
            if bucket is None:
                bucket = self.pairs[(domain, after, model)] = [0, 0]
                self._after.setdefault((domain, after), {})[model] = bucket
        else:
            bucket = self.single.setdefault((domain, model), [0, 0])
        bucket[0] += n
        bucket[1] += ok

    def restore(self, stats: Sequence[RoutingStat]) -> None:
        for stat in stats:
            if stat.model_name == _JUDGING:
                self.judging[0] += stat.n
                self.judging[1] += stat.cost_sum
            else:
                self._add(stat.domain, stat.model_name, stat.n, round(stat.score_sum / 10))

    @property
    def judging_cost(self) -> float:
        """Mean cost of one evaluation seen so far (0 before any)."""
        return self.judging[1] / self.judging[0] if self.judging[0] else 0.0

    # -- beliefs ------------------------------------------------------------------------------
    def rate(self, domain: str, model: str, rejected: frozenset[str], base: float) -> float:
        return self.rate_from(domain, model, rejected, self.own_rate(domain, model, base))

    def own_rate(self, domain: str, model: str, base: float) -> float:
        """The model's acceptance rate before any rejection: the prior `base` moved by what it observed."""
        n, ok = self.single.get((domain, model), (0, 0))
        return (ok + self.strength * base) / (n + self.strength)

    def observed_rate(self, domain: str, model: str, own: float) -> float:
        """The share of the model's answers that were accepted (`own` before it has any): what a pair's shift is
        measured from."""
        n, ok = self.single.get((domain, model), (0, 0))
        return ok / n if n else own

    def rate_from(self, domain: str, model: str, rejected: frozenset[str], own: float) -> float:
        """`rate` given the model's `own_rate` (which a planner computes once for all the states it visits)."""
        strength, pairs = self.strength, self.pairs
        if model in rejected:
            n, ok = pairs.get((domain, model, model), (0, 0))
            return (ok + strength * self.retry_prior) / (n + strength)
        if not rejected:
            return own
        seen = self.observed_rate(domain, model, own)
        unseen = (0 + strength * seen) / (0 + strength) - seen  # a pair never observed (the same operations as below)
        shift = 0.0
        for r in rejected:
            counts = pairs.get((domain, r, model))
            shift += unseen if counts is None else (counts[1] + strength * seen) / (counts[0] + strength) - seen
        return min(max(own + shift / len(rejected), 1e-4), 1 - 1e-4)

    def beliefs(self, domain: str, names: Sequence[str], bases: Sequence[float], failed: frozenset[str]) -> Rates:
        """For a planner: the `rate` of every model in `names` (priors `bases`) once the models in `failed` and
        those at the given indices were rejected. Exactly `rate`, with the per-model parts computed once; its
        `ceiling` bounds each model's rate over every state (see `plan`)."""
        strength, pairs, retry = self.strength, self.pairs, self.retry_prior
        owns = [self.own_rate(domain, name, base) for name, base in zip(names, bases, strict=True)]
        retries = [
            (ok + strength * retry) / (n + strength) for n, ok in (pairs.get((domain, m, m), (0, 0)) for m in names)
        ]
        # per model that may be rejected before: the shift it makes to each candidate's rate (`rate`'s terms; the
        # same for one never observed together), so a state's shifts are a sum of columns, not of lookups
        seens = [self.observed_rate(domain, name, own) for name, own in zip(names, owns, strict=True)]
        unseen = [(0 + strength * seen) / (0 + strength) - seen for seen in seens]
        positions: dict[str, list[int]] = {}  # (a name listed twice has both places)
        for i, name in enumerate(names):
            positions.setdefault(name, []).append(i)
        columns, observed = self._columns(domain, positions, seens, unseen, failed)
        index = {name: places[-1] for name, places in positions.items()}  # (a retry's place: the last, as ever)

        def rates(state: frozenset[int]) -> tuple[list[float], list[float]]:
            gone = failed | {names[i] for i in state}
            if not gone:
                return owns, owns
            size = len(gone)
            rejected = iter(gone)
            shifts = columns[next(rejected)]
            # min(max(own + shift / size, _LOW), _HIGH), NaN kept; with two rejected models (a plan's most common
            # state) their columns are summed in the same pass, the same operations in the same order
            if size == 2:
                second = columns[next(rejected)]
                out = [
                    _LOW if (v := o + (a + b) / size) < _LOW else _HIGH if v > _HIGH else v
                    for o, a, b in zip(owns, shifts, second, strict=True)
                ]
            else:
                for r in rejected:
                    shifts = [a + b for a, b in zip(shifts, columns[r], strict=True)]
                out = [
                    _LOW if (v := o + t / size) < _LOW else _HIGH if v > _HIGH else v
                    for o, t in zip(owns, shifts, strict=True)
                ]
            for r in gone:  # a rejected model asked again: the rate of retries
                i = index.get(r)
                if i is not None:
                    out[i] = retries[i]
            return out, out

        ceiling = _ceiling(owns, retries, unseen, observed, finite=math.isfinite(strength))
        return Rates(rates, ceiling)

    def _columns(
        self,
        domain: str,
        positions: dict[str, list[int]],
        seens: list[float],
        unseen: list[float],
        failed: frozenset[str],
    ) -> tuple[dict[str, list[float]], list[list[float]]]:
        """`beliefs`' column of each model that may be rejected (`positions`: each candidate's places; `seens`: each
        candidate's `observed_rate`), and those with a pair seen (the others are `unseen` itself, shared)."""
        strength = self.strength
        columns: dict[str, list[float]] = {}
        observed: list[list[float]] = []
        for r in {*positions, *failed}:
            seen = self._after.get((domain, r))
            column = unseen
            if seen:
                column = unseen.copy()
                for name, counts in seen.items():
                    for i in positions.get(name, ()):
                        base = seens[i]
                        column[i] = (counts[1] + strength * base) / (counts[0] + strength) - base
                observed.append(column)
            columns[r] = column
        return columns, observed

    def retries_pay(self, domain: str, model: str) -> bool:
        """Whether re-asking `model` after its answer was rejected has been seen to succeed."""
        return self.pairs.get((domain, model, model), (0, 0))[1] > 0


def _ceiling(
    owns: list[float], retries: list[float], unseen: list[float], observed: list[list[float]], *, finite: bool
) -> list[float]:
    """Each model's highest rate in any state: asked first (`own`), again (`retry`), or after rejections, whose mean
    shift is at most its largest column entry (plus a margin for the rounding of their float sum). NaN where a rate
    may be NaN (a model's column entries are NaN only if its own rate or the strength is: `finite` says it is not)."""
    peaks = unseen.copy()
    for column in observed:
        for i, entry in enumerate(column):
            if entry > peaks[i]:
                peaks[i] = entry
    ceiling = []
    for own, retry, peak in zip(owns, retries, peaks, strict=True):
        if own != own or retry != retry or not finite:
            ceiling.append(math.nan)
            continue
        after = own + (peak + _MARGIN * (1.0 + abs(peak)))
        ceiling.append(max(own, retry, _LOW if after < _LOW else _HIGH if after > _HIGH else after))
    return ceiling


class Rates:
    """`FailureMemory.beliefs`: called with a state (the indices of the rejected models), each model's
    (P accepted, P right and accepted), the same list twice; `ceiling[j]` is at least model `j`'s rate in
    any state (NaN when unknown), which lets `plan` skip steps that cannot beat the best one found."""

    __slots__ = ("_rates", "ceiling")

    def __init__(
        self, rates: Callable[[frozenset[int]], tuple[list[float], list[float]]], ceiling: list[float]
    ) -> None:
        self._rates = rates
        self.ceiling = ceiling

    def __call__(self, state: frozenset[int]) -> tuple[list[float], list[float]]:
        return self._rates(state)


class EscalatingRouter(LearningRouter):
    """A learning router that also learns, online, which model to escalate to after which failure.

    Besides the statistics of its `name`, it keeps acceptance counts after each rejection (and
    the judging cost) under `<name>.cascade` in the store, so they survive restarts too.
    """

    cascade: bool = True
    horizon: int = 3
    memory: FailureMemory

    async def attach(self, store: Store) -> None:
        await super().attach(store)  # (a router attached before forgets its memory there too: see `forget`)
        self.memory.restore(await store.routing_stats(f"{self.name}.cascade"))

    async def observe(self, feedback: RoutingFeedback) -> None:
        await super().observe(feedback)
        entries = self.memory.learn(feedback)
        if self._store is None or not persisting():
            return
        for key, ok in [*entries, (_JUDGING, False)]:
            judging = key == _JUDGING
            await self._store.record_routing_outcome(
                f"{self.name}.cascade",
                domain=feedback.domain,
                model_name=key,
                score=10.0 if ok else 0.0,
                cost=max(feedback.evaluation_cost, 0.0) if judging else 0.0,
                latency_ms=0.0,
                output_tokens=0,
            )

    def wants_plan(self, task: Task) -> bool:
        """Whether this decision is a cascade step (a failure seen, or attempts left after it)."""
        # (`failed_models` is empty without attempts: not built for a first decision)
        return self.cascade and (task.remaining_iterations > 1 or (bool(task.attempts) and bool(task.failed_models)))

    def escalate(
        self,
        task: Task,
        candidates: Sequence[ModelProfile],
        base: Sequence[float],
        costs: Sequence[float],
        weight: float,
    ) -> tuple[int, Plan]:
        """The index of the candidate to try now, and the plan it starts (acceptance taken as success)."""
        failed = frozenset(task.failed_models)
        allowed = [
            i for i, m in enumerate(candidates) if m.name not in failed or self.memory.retries_pay(task.domain, m.name)
        ] or best_rejected(task, [m.name for m in candidates])
        models = [candidates[i] for i in allowed]
        prior = [base[i] for i in allowed]
        spend = [costs[i] + self.memory.judging_cost for i in allowed]

        names = [m.name for m in models]
        beliefs = self.memory.beliefs(task.domain, names, prior, failed)

        best = plan(
            beliefs,
            spend,
            steps=task.remaining_iterations,
            cost_weight=weight,
            budget=task.remaining_budget,
            horizon=self.horizon,
            ceiling=beliefs.ceiling,
        )
        return allowed[best.order[0]], Plan(
            order=tuple(allowed[i] for i in best.order),
            values=tuple(
                best.values[allowed.index(i)] if i in allowed else _NOT_PLANNED for i in range(len(candidates))
            ),
            success=best.success,
            cost=best.cost,
        )


_NOT_PLANNED = -1e9
"""The value of a candidate the plan left out (rejected, and not worth asking again): below any it weighs."""


def best_rejected(task: Task, names: Sequence[str]) -> list[int]:
    """The indices of `names` (every one rejected in `task`, none whose retries were seen to pay) whose answer scored
    best in this run: the best of them is asked again, as docs/routing.md says. Before, every retry being believed
    as hopeless as the next, the plan took the first candidate in catalog order (or, with a cost knob, the cheapest),
    re-asking a model whose answer scored 1 when another's scored 5.9."""
    best: dict[str, float] = {}
    for attempt in task.attempts:
        if attempt.score is not None:
            best[attempt.model] = max(attempt.score, best.get(attempt.model, attempt.score))
    top = max((best.get(name, -1.0) for name in names), default=-1.0)
    return [i for i, name in enumerate(names) if best.get(name, -1.0) == top]


def planned_scores(models: Sequence[ModelProfile], values: Sequence[float], digits: int) -> dict[str, float]:
    """The decision's `scores`: each model the plan weighed, with its value (a model it left out has none, rather
    than a placeholder that the event, the console and the logs would show as a score)."""
    return {m.name: round(v, digits) for m, v in zip(models, values, strict=True) if v > _NOT_PLANNED}


def plan_reasoning(task: Task, candidates: Sequence[ModelProfile], best: Plan) -> str:
    """One sentence on the plan: the order, what was rejected, its chance and expected spend."""
    names = " → ".join(candidates[i].name for i in best.order)
    after = f" after {', '.join(task.failed_models)} scored below the threshold" if task.failed_models else ""
    return f"plans {names}{after} (P(accepted) {best.success:.2f} at ~${estimate(best.cost)})"
