"""An online router for bandit feedback: Thompson sampling per (domain, model), pooled across domains."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._dollars import estimate
from .._misspelt import refuse_misspelt
from ..catalog import ModelProfile
from ..exceptions import UserError
from ..records import RoutingDecision
from ._base import RoutingFeedback, Task, decided
from ._knobs import Knob, flag, fraction, number, router_name, seeded, whole
from ._memory import EscalatingRouter, FailureMemory, accept_prior, plan_reasoning, planned_scores

if TYPE_CHECKING:
    from ..stores import RoutingStat

__all__ = ["ContextualRouter"]

_CONSTRUCTOR_ONLY = {"seed": "it is read by the constructor only: make a new ContextualRouter(seed=...)"}

_CHARS_PER_TOKEN = 4.0

_Row = tuple[float, float, float, int, float, ModelProfile]
"""A candidate as `decide` weighs it: (sampled value, expected value, expected score, observations, cost, model)."""


@dataclass(slots=True)
class _Stat:
    n: int = 0
    score_sum: float = 0.0
    """Scores on the 0–1 scale."""
    output_tokens_sum: int = 0


class ContextualRouter(EscalatingRouter):
    """Learns online which model is worth its price for each domain, from its own evaluation scores.

    Only the chosen model's outcome is seen (bandit feedback). A model's expected score (0–1,
    the judges' 0–10 divided by 10) in a domain is a normal posterior (noise `score_sd`) whose
    prior, worth `pool_strength` observations, is the domain's mean over all models (itself
    shrunk toward `prior_mean` by `prior_strength`) plus the model's *skill*: how much better
    than each domain's mean it scored, pooled over every domain it was seen in (this one included).
    A model seen doing well in other domains starts ahead in a new one. The choice maximises

        expected score − cost_weight × expected cost in $

    the same rule and knob as `FittedRouter`: `cost_weight` is how much score (0–1) a dollar is
    worth. The expected cost uses the candidate's catalog prices at decision time, the length of
    the input the call sends (the whole conversation: system prompt, earlier turns, the prompt)
    and the output tokens observed for that model in that domain (else the domain's,
    else the model's), so a price change moves the choice at once.

    Exploration is Thompson sampling (`explore=True`) within a budget: a sampled model more
    expensive than the best expected one is taken only while the extra spend on such
    exploration stays under `explore_share` of all expected spend (the budget does not hold back a model sampled as
    best with fewer than `min_tries` answers in the domain; exploring a cheaper model is free: with a free model the
    best expected, a priced one past `min_tries` is explored only within what was spent before). A model whose expected
    cost exceeds the task's remaining budget is never chosen. Statistics persist in the
    orchestrator's store (router `name`) as the default router's do.

    **The loop.** With `cascade=True` (default), when attempts remain or an answer was already
    rejected, the choice plans the rest of the cascade exactly as `BayesianRouter` does (chance
    of an accepted answer from the sampled expected score, moved by what was seen after each
    rejected model's failure; persisted under `<name>.cascade`), valued with the same
    `cost_weight` per dollar over the answers and the judging; a rejected model is asked again
    only once retries of it have been seen to succeed.
    """

    name = "contextual"

    # Checked whenever set, in __init__ or later (e.g. `router.cost_weight = 5`); read plainly.
    cost_weight = Knob(number("quality given up per dollar, e.g. cost_weight=10"))
    prior_mean = Knob(fraction("is on the 0–1 scale"))
    prior_strength = Knob(number("pseudo-observations, e.g. prior_strength=1", positive=True))
    pool_strength = Knob(number("pseudo-observations, e.g. pool_strength=2", positive=True))
    score_sd = Knob(number("on the 0–1 scale, e.g. score_sd=0.1", positive=True))
    default_output_tokens = Knob(number("tokens, e.g. default_output_tokens=250"))
    explore_share = Knob(fraction("is the share of spend on exploring"))
    horizon = Knob(whole(1, "of attempts", 3))
    min_tries = Knob(whole(0, "of tries of each model before exploration is capped", 3))
    explore = Knob(flag("False: no exploration, the best expected choice"))
    cascade = Knob(flag("False: one model at a time, no plan"))

    def __init__(
        self,
        *,
        cost_weight: float = 0.0,
        explore: bool = True,
        seed: int | None = None,
        prior_mean: float = 0.5,
        prior_strength: float = 1.0,
        pool_strength: float = 2.0,
        score_sd: float = 0.1,
        default_output_tokens: int = 250,
        explore_share: float = 0.2,
        min_tries: int = 3,
        name: str | None = None,
        cascade: bool = True,
        horizon: int = 3,
    ) -> None:
        self.cost_weight = cost_weight
        self.explore = explore
        self.prior_mean = prior_mean
        self.prior_strength = prior_strength
        self.pool_strength = pool_strength
        self.score_sd = score_sd
        self.default_output_tokens = default_output_tokens
        self.explore_share = explore_share
        self.min_tries = min_tries
        name = router_name(name)
        if name:
            self.name = name
        self._rng = seeded(seed)
        self._stats: dict[tuple[str, str], _Stat] = {}
        self._spent = 0.0
        self._explore_spent = 0.0
        self._domains: dict[str, _Stat] = {}
        self._models: dict[str, _Stat] = {}
        self.cascade = cascade
        self.horizon = horizon
        self.memory = FailureMemory()

    def __setattr__(self, name: str, value: object) -> None:
        """A misspelt setting (`router.explor = False`) is refused naming the one meant: it made an attribute nothing
        read, and the router went on as before without a word. A subclass's own attributes are left alone."""
        if name[0] != "_" and type(self) is ContextualRouter:
            refuse_misspelt(self, name, hints=_CONSTRUCTOR_ONLY)
        object.__setattr__(self, name, value)

    # -- learning -----------------------------------------------------------------------------
    def forget(self) -> None:
        """Drop what was learned in memory (its statistics and its failure memory): see `LearningRouter.forget`."""
        self._stats.clear()
        self._domains.clear()
        self._models.clear()
        self.memory.clear()

    def restore(self, stats: Sequence[RoutingStat]) -> None:
        for stat in stats:
            self._add(stat.domain, stat.model_name, stat.n, stat.score_sum / 10, stat.output_tokens_sum)

    def update(self, feedback: RoutingFeedback) -> None:
        """Add one observation in memory only (what `observe` does before persisting it)."""
        if not 0 <= feedback.score <= 10:
            raise UserError(f"a score is on the 0–10 scale, got {feedback.score}")
        self._add(feedback.domain, feedback.model_name, 1, feedback.score / 10, feedback.output_tokens)

    def _add(self, domain: str, model: str, n: int, score_sum: float, output_tokens: int) -> None:
        for stat in (
            self._stats.setdefault((domain, model), _Stat()),
            self._domains.setdefault(domain, _Stat()),
            self._models.setdefault(model, _Stat()),
        ):
            stat.n += n
            stat.score_sum += score_sum
            stat.output_tokens_sum += output_tokens

    # -- beliefs ------------------------------------------------------------------------------
    def domain_mean(self, domain: str) -> float:
        """The mean score (0–1) of every model's answers in `domain`, shrunk toward `prior_mean`."""
        stat = self._domains.get(domain, _Stat())
        return (self.prior_strength * self.prior_mean + stat.score_sum) / (self.prior_strength + stat.n)

    def skill(self, model: str) -> float:
        """How much better (or worse) than the domain's mean the model scores, pooled over domains, shrunk to 0."""
        total, n = 0.0, 0
        for (domain, name), stat in self._stats.items():
            if name == model:
                total += stat.score_sum - stat.n * self.domain_mean(domain)
                n += stat.n
        return total / (self.prior_strength + n)

    def posterior(self, model: str, domain: str) -> tuple[float, float, int]:
        """(mean, standard deviation, observations) of the model's expected score (0–1) in `domain`.

        The prior is the domain's mean plus the model's skill (pooled over every domain, this one included), worth
        `pool_strength` observations.
        """
        prior = self.domain_mean(domain) + self.skill(model)
        stat = self._stats.get((domain, model), _Stat())
        weight = self.pool_strength + stat.n
        return (self.pool_strength * prior + stat.score_sum) / weight, self.score_sd / math.sqrt(weight), stat.n

    def expected_output_tokens(self, model: ModelProfile, domain: str) -> float:
        """Tokens the model is expected to write in `domain`: its own mean there, else the domain's, else its own."""
        for stat in (self._stats.get((domain, model.name)), self._domains.get(domain), self._models.get(model.name)):
            if stat and stat.n:
                return stat.output_tokens_sum / stat.n
        return float(min(self.default_output_tokens, model.max_output_tokens))

    def expected_cost(self, model: ModelProfile, task: Task) -> float:
        """US dollars a call is expected to cost at the model's current catalog prices (0 when unpriced)."""
        out = min(self.expected_output_tokens(model, task.domain), task.max_output_tokens)
        # the whole input the call sends, as the orchestrator bounds it (`input_tokens`: the conversation's bytes);
        # the prompt alone left out a thread's earlier turns, which a long conversation pays for on every call
        inp = max(len(task.prompt), task.input_tokens) / _CHARS_PER_TOKEN
        return (inp * (model.input_cost_per_1k or 0.0) + out * (model.output_cost_per_1k or 0.0)) / 1000

    # -- choice -------------------------------------------------------------------------------
    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        return self.decide(task, candidates)

    def decide(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        """The synchronous core of `select`."""
        return decided(self._decide, task, candidates)

    def _decide(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        if not candidates:
            raise UserError("no candidates to route to")
        costs = [self.expected_cost(m, task) for m in candidates]
        affordable = [
            (m, c)
            for m, c in zip(candidates, costs, strict=True)
            if task.remaining_budget is None or c <= task.remaining_budget
        ]
        if not affordable:
            affordable = [min(zip(candidates, costs, strict=True), key=lambda mc: mc[1])]
        rows: list[_Row] = []
        for model, cost in affordable:
            mean, sd, n = self.posterior(model.name, task.domain)
            drawn = self._rng.gauss(mean, sd) if self.explore else mean
            rows.append((drawn - self.cost_weight * cost, mean - self.cost_weight * cost, mean, n, cost, model))
        if self.wants_plan(task):
            return self._plan(task, rows)
        # of equal values the cheapest, as `FittedRouter` and a plan take it (the first in the catalog's order was
        # taken: with explore=False at cost_weight 0, a fresh router sent every answer to the first model, whatever its
        # price)
        sampled = max(rows, key=lambda r: (r[0], -r[4]))
        greedy = max(rows, key=lambda r: (r[1], -r[4]))
        pick, how = sampled, "best sampled value"
        if sampled is not greedy:
            if self._explores(sampled, greedy):
                how = "exploring"
            else:
                pick, how = greedy, "best expected value (exploration budget spent)"
        self._spent += pick[4]
        _, _, mean, n, cost, best = pick
        basis = "no observation yet" if n == 0 else f"{n} observed answer{'s' if n != 1 else ''}"
        return RoutingDecision(
            model_name=best.name,
            reasoning=(
                f"{best.name}: {how} for {task.domain} — expected score {mean * 10:.1f}/10 ({basis})"
                f" at ~${estimate(cost)}."
            ),
            scores={r[5].name: round(r[0], 6) for r in rows},
            domain=task.domain,
        )

    def _explores(self, sampled: _Row, greedy: _Row) -> bool:
        """Whether the `sampled` choice, not the `greedy` one, is taken: exploring a model that is dearer than the
        best expected one only while the extra spend stays under `explore_share` of all expected spend (each model
        gets `min_tries` tries regardless; a cheaper one is free); counts the extra spend when it is taken."""
        extra = max(sampled[4] - greedy[4], 0.0)
        allowed = self.explore_share * (self._spent + sampled[4])
        if sampled[3] >= self.min_tries and self._explore_spent + extra > allowed:
            return False
        self._explore_spent += extra
        return True

    def _plan(self, task: Task, rows: list[_Row]) -> RoutingDecision:
        models = [r[5] for r in rows]
        costs = [r[4] for r in rows]
        base = [accept_prior(10 * (r[0] + self.cost_weight * r[4]), task.threshold) for r in rows]
        pick, best = self.escalate(task, models, base, costs, self.cost_weight)
        if self.explore:  # the plan of the sampled scores explores within the budget, as a single choice does
            # (it went uncapped: with attempts left, as in every run of the default 5 iterations, `explore_share`
            # held nothing back and no exploring spend was counted)
            means = [accept_prior(10 * r[2], task.threshold) for r in rows]
            expected, plan = self.escalate(task, models, means, costs, self.cost_weight)
            if expected != pick and not self._explores(rows[pick], rows[expected]):
                pick, best = expected, plan
        _, _, mean, n, cost, model = rows[pick]
        self._spent += cost
        basis = "no observation yet" if n == 0 else f"{n} observed answer{'s' if n != 1 else ''}"
        return RoutingDecision(
            model_name=model.name,
            reasoning=(
                f"{model.name}: {plan_reasoning(task, models, best)} for {task.domain} — "
                f"expected score {mean * 10:.1f}/10 ({basis}) at ~${estimate(cost)}."
            ),
            scores=planned_scores(models, best.values, 6),
            domain=task.domain,
        )
