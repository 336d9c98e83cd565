"""The default router: a Bayesian bandit over (domain, model) judge scores, traded off against cost."""

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
from ._knobs import Knob, flag, number, router_name, seeded, whole
from ._memory import EscalatingRouter, FailureMemory, accept_prior, plan_reasoning, planned_scores

if TYPE_CHECKING:
    from ..stores import RoutingStat

__all__ = ["BayesianRouter"]

_CONSTRUCTOR_ONLY = {"seed": "it is read by the constructor only: make a new BayesianRouter(seed=...)"}

_DEFAULT_OUTPUT_TOKENS = {"coding": 400, "writing": 450, "analysis": 400, "science": 300, "math": 300}


@dataclass(slots=True)
class _Stat:
    n: int = 0
    score_sum: float = 0.0
    score_sq_sum: float = 0.0
    output_tokens_sum: int = 0


class BayesianRouter(EscalatingRouter):
    """Route by expected judge score per domain, learned from outcomes, against expected cost.

    Each model's expected score in a domain starts from a prior (the catalog's `quality`, plus
    `specialty_bonus` when the domain is among its `specialties`) worth `prior_strength`
    observations, and moves with every evaluated answer (a normal model with known noise
    `score_sd`). The choice maximises

        utility = expected score − cost_sensitivity × log10(expected cost / cheapest expected cost)

    so `cost_sensitivity` is the number of score points you would give up for a 10× cheaper
    call: 0 picks the best model whatever it costs, large values pick the cheapest (a free model counts as ten times
    cheaper than the cheapest priced candidate). With
    `explore=True` the expected score is drawn from its posterior (Thompson sampling), so models
    with few observations get tried in proportion to the chance that they are best. Costs use
    the catalog's prices at decision time, so a price change moves the choice at once.
    Statistics persist in the orchestrator's store and survive restarts.

    **The loop.** With `cascade=True` (default), when attempts remain after this one or an
    answer was already rejected, the router plans the rest of the cascade (up to `horizon`
    attempts): each model's chance of an accepted answer (its expected score against the
    threshold, then what it observed), moved by what it saw *after* each rejected model's
    failure (learned online, persisted under `<name>.cascade`), against the expected spend of
    answers and judging. `cost_sensitivity` becomes a price per dollar at the candidates'
    typical cost (κ / (10 · ln 10 · geometric mean of their expected costs)). A rejected model is
    asked again only once retries of it have been seen to succeed.
    """

    name = "bayesian"
    """The key its statistics are stored under; give routers that must learn apart their own `name=`."""

    # Checked whenever set, in __init__ or later (e.g. `router.cost_sensitivity = 2`); read plainly.
    cost_sensitivity = Knob(number("how much cost weighs, e.g. cost_sensitivity=1"))
    """Score points given up for a 10x cheaper call: 0 picks the best model whatever it costs."""
    prior_strength = Knob(number("pseudo-observations, e.g. prior_strength=2", positive=True))
    """How many observations the catalog's `quality` prior is worth."""
    score_sd = Knob(number("on the 0–10 scale, e.g. score_sd=1.5", positive=True))
    """The assumed noise of one judged score (0–10 scale)."""
    horizon = Knob(whole(1, "of attempts", 3))
    """The most attempts a cascade plan looks ahead."""
    specialty_bonus = Knob(number("score points added in a specialty's domain, e.g. specialty_bonus=0.5"))
    """Score points added to a model's prior in the domains of its `specialties`."""
    explore = Knob(flag("False: no exploration, the best expected choice"))
    """True: Thompson sampling (a model is tried in proportion to its chance of being best); False: the best expected
    choice."""
    cascade = Knob(flag("False: one model at a time, no plan"))
    """True: plan the attempts after a rejection (escalation); False: one model at a time, no plan."""

    def __init__(
        self,
        *,
        cost_sensitivity: float = 1.0,
        explore: bool = True,
        seed: int | None = None,
        prior_strength: float = 2.0,
        score_sd: float = 1.5,
        specialty_bonus: float = 0.5,
        name: str | None = None,
        cascade: bool = True,
        horizon: int = 3,
    ) -> None:
        self.cost_sensitivity = cost_sensitivity
        self.explore = explore
        self.prior_strength = prior_strength
        self.score_sd = score_sd
        self.specialty_bonus = specialty_bonus
        name = router_name(name)
        if name:
            self.name = name
        self._rng = seeded(seed)
        self._stats: dict[tuple[str, str], _Stat] = {}
        self.cascade = cascade
        self.horizon = horizon
        self.memory = FailureMemory()
        """What it learned of acceptances after each other model's rejection, per domain (stored under
        `<name>.cascade`)."""

    def __setattr__(self, name: str, value: object) -> None:
        """A misspelt setting (`router.explor = False`) is refused naming the one meant: it made an attribute nothing
        read, and the router went on as before without a word. A subclass's own attributes are left alone."""
        if name[0] != "_" and type(self) is BayesianRouter:
            refuse_misspelt(self, name, hints=_CONSTRUCTOR_ONLY)
        object.__setattr__(self, name, value)

    # -- learning -----------------------------------------------------------------------------
    def forget(self) -> None:
        """Drop what was learned in memory (its statistics and its failure memory): see `LearningRouter.forget`."""
        self._stats.clear()
        self.memory.clear()

    def restore(self, stats: Sequence[RoutingStat]) -> None:
        # added to what the router holds, as `ContextualRouter` and the cascade memory add them: a router warmed up
        # by `lab.replay` (never attached) lost what the replay taught of every (domain, model) the store held, while
        # its cascade memory kept both (a router attached before forgets first: `attach`)
        """Add the statistics the store kept under this router's `name` to what it holds (what `attach` loads)."""
        for stat in stats:
            held = self._stats.setdefault((stat.domain, stat.model_name), _Stat())
            held.n += stat.n
            held.score_sum += stat.score_sum
            held.score_sq_sum += stat.score_sq_sum
            held.output_tokens_sum += stat.output_tokens_sum

    def update(self, feedback: RoutingFeedback) -> None:
        """Add one observation in memory only (what `observe` does before persisting it)."""
        stat = self._stats.setdefault((feedback.domain, feedback.model_name), _Stat())
        stat.n += 1
        stat.score_sum += feedback.score
        stat.score_sq_sum += feedback.score * feedback.score
        stat.output_tokens_sum += feedback.output_tokens

    # -- beliefs ------------------------------------------------------------------------------
    def prior_mean(self, model: ModelProfile, domain: str) -> float:
        """The model's expected score in `domain` before any observation: its catalog `quality`, plus `specialty_bonus`
        in a specialty."""
        return model.quality + (self.specialty_bonus if domain in model.specialties else 0.0)

    def posterior(self, model: ModelProfile, domain: str) -> tuple[float, float, int]:
        """(mean, standard deviation, observations) of the model's expected score in `domain`."""
        stat = self._stats.get((domain, model.name))
        n = stat.n if stat else 0
        n0 = self.prior_strength
        total = n0 * self.prior_mean(model, domain) + (stat.score_sum if stat else 0.0)
        return total / (n0 + n), self.score_sd / math.sqrt(n0 + n), n

    def expected_cost(self, model: ModelProfile, task: Task) -> float:
        """US dollars the model is expected to cost on `task`: its input at about four bytes a token, and the output
        tokens observed for it in the task's domain."""
        stat = self._stats.get((task.domain, model.name))
        if stat and stat.n:
            out = stat.output_tokens_sum / stat.n
        else:
            out = _DEFAULT_OUTPUT_TOKENS.get(task.domain, 250)
        out = min(out, task.max_output_tokens, model.max_output_tokens)
        inp = task.input_tokens / 4  # input_tokens is an upper bound in bytes; ~4 bytes a token
        price_in = model.input_cost_per_1k or 0.0
        price_out = model.output_cost_per_1k or 0.0
        return (inp * price_in + out * price_out) / 1000

    # -- choice -------------------------------------------------------------------------------
    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        """Choose among `candidates` (see `decide`)."""
        return self.decide(task, candidates)

    def decide(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        """The synchronous core of `select`."""
        return decided(self._decide, task, candidates)

    def _decide(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        if not candidates:
            raise UserError("no candidates to route to")
        costs = [self.expected_cost(m, task) for m in candidates]
        scale = _scale(costs)
        cheapest = min(scale)
        rows = []
        for model, cost, scaled in zip(candidates, costs, scale, strict=True):
            mean, sd, n = self.posterior(model, task.domain)
            quality = self._rng.gauss(mean, sd) if self.explore else mean
            utility = min(quality, 10.0) - self.cost_sensitivity * math.log10(scaled / cheapest)
            rows.append((utility, mean, n, cost, model, quality))
        if self.wants_plan(task):
            return self._plan(task, candidates, costs, scale, rows)
        rows.sort(key=lambda r: (r[0], -r[3]), reverse=True)  # (of equal value the cheapest, as `FittedRouter`)
        utility, mean, n, cost, best, _ = rows[0]
        basis = "catalog prior" if n == 0 else f"{n} observed answer{'s' if n != 1 else ''}"
        reasoning = (
            f"{best.name}: best value for {task.domain} — expected score {mean:.1f}/10 ({basis}) at ~${estimate(cost)}"
        )
        if len(rows) > 1:
            _, mean2, _, cost2, second, _ = rows[1]
            reasoning += f"; runner-up {second.name} ({mean2:.1f}/10, ~${estimate(cost2)})"
        return RoutingDecision(
            model_name=best.name,
            reasoning=reasoning + ".",
            scores={r[4].name: round(r[0], 4) for r in rows},
            domain=task.domain,
        )

    def _plan(
        self,
        task: Task,
        candidates: Sequence[ModelProfile],
        costs: list[float],
        scale: list[float],
        rows: list[tuple[float, float, int, float, ModelProfile, float]],
    ) -> RoutingDecision:
        base = [accept_prior(r[5], task.threshold, self.score_sd) for r in rows]
        reference = math.exp(sum(math.log(c) for c in scale) / len(scale))
        weight = self.cost_sensitivity / (10 * math.log(10) * reference)
        pick, best = self.escalate(task, candidates, base, costs, weight)
        model, mean, n = candidates[pick], rows[pick][1], rows[pick][2]
        basis = "catalog prior" if n == 0 else f"{n} observed answer{'s' if n != 1 else ''}"
        return RoutingDecision(
            model_name=model.name,
            reasoning=(
                f"{model.name}: {plan_reasoning(task, candidates, best)} for {task.domain} — "
                f"expected score {mean:.1f}/10 ({basis}) at ~${estimate(costs[pick])}."
            ),
            scores=planned_scores(candidates, best.values, 4),
            domain=task.domain,
        )


def _scale(costs: list[float]) -> list[float]:
    """The expected costs as the cost knob compares them (a ratio): a free model's (price 0) as a tenth of the cheapest
    priced candidate's. Floored at $1e-9 a call, a free model stood 6 to 8 orders of magnitude below any priced model
    (6 to 8 score points at `cost_sensitivity=1`): with a free local model in the catalog the default router sent it
    every first attempt whatever its quality, a paid model's planned value at -20."""
    priced = [c for c in costs if c > 0]
    floor = min(priced) / 10 if priced else 1.0  # (all free: alike, whatever the floor)
    return [c if c > 0 else floor for c in costs]
