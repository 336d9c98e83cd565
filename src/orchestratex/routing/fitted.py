"""A router fitted on outcome data: predicts each model's quality for a prompt, then trades it against cost.

Needs the `lab` extra (numpy; scikit-learn only to fit): `pip install 'orchestratex[lab]'`.

    from orchestratex.lab import load_routerbench
    from orchestratex.routing.fitted import FittedRouter

    router = FittedRouter(cost_weight=100).fit(load_routerbench(data, "train"))
    router.save("router.npz")
    orchestrator = Orchestrator(router=FittedRouter.load("router.npz"), ...)
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from .._dollars import estimate
from .._misspelt import refuse_misspelt
from ..catalog import ModelProfile
from ..domains import DOMAINS
from ..exceptions import UserError
from ..records import RoutingDecision
from . import _fit
from ._base import Router, RoutingFeedback, Task, decided
from ._escalate import escalate
from ._features import TextFeaturizer, load_numpy
from ._fit import cheapest_best, price_per_1k
from ._joint import JointOutcomes, judge_error_ok
from ._knobs import Knob, flag, fraction, number, optional, whole
from ._memory import best_rejected
from ._saved import load_router, save_router

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from ..lab import OutcomeTable
    from ..lab._progress import Progress
    from ..stores import Store
    from ._embed import MiniLMEmbedder

__all__ = ["FEATURE_SETS", "FittedRouter", "TextFeaturizer"]

logger = logging.getLogger("orchestratex.routing")

FEATURE_SETS = ("tfidf", "minilm")
"""Per-prompt feature sets of `FittedRouter`: hashed TF-IDF (default), or MiniLM sentence embeddings."""


class FittedRouter(Router):
    """Predicts each model's quality on a prompt from outcome data, then picks by value for money.

    The prediction is the model's mean quality on the prompt's domain (shrunk toward its mean
    over all domains by `domain_prior` pseudo-rows) plus a ridge regression of the residual on
    per-prompt features of the prompt's last paragraph (`text=False` keeps the domain means
    alone: routing by task). `features="tfidf"` (default) uses hashed TF-IDF (`featurizer`);
    `features="minilm"` uses all-MiniLM-L6-v2 sentence embeddings (the `embeddings` extra:
    `pip install 'orchestratex[embeddings]'`; about 20 ms a new prompt on a CPU instead of 0.1 ms).
    Quality is divided by `quality_scale` (1 for 0/1 correctness, 10 for judge scores), so it
    lies in [0, 1].

    The choice, among the candidates the router knows:

    * `target_quality=None` (default): maximise `quality − cost_weight × expected cost in $`;
      `cost_weight` is how much quality (on the 0–1 scale) a dollar is worth giving up.
    * `target_quality=q`: the cheapest model expected to reach `q`, else the best expected one.

    Expected cost is the model's mean cost per call on the domain in the training table, scaled
    by the candidate's price *read at each decision* relative to its price when the table's costs
    were paid (`fit(..., profiles=...)`; without profiles, the price at the router's first
    decision), so a price change moves the next choice without refitting.
    Candidates the router has never seen are used only when it knows none of them (then the
    one with the best catalog `quality` prior wins).

    **The loop.** With `cascade=True` (default) the router plans the orchestration's remaining
    attempts (up to `horizon`): which model first, and which next if the judges reject it. It
    learns from the training table how models fail *together* — P(model j right | the models
    rejected so far were wrong), per domain, smoothed by `smoothing` pseudo-rows — so after a
    rejection it goes where a failure is least likely to repeat, and it can start with a cheap
    model when a likely rescue follows. A plan is valued as P(right answer accepted) −
    `cost_weight` × expected $ (answers and judging, the latter learned from `observe`);
    `judge_error` is the chance the judges' verdict is wrong (a noisy judge makes a rejection
    weaker evidence and an acceptance less valuable). A model whose answer was rejected is asked
    again only when retries of that model have been seen to succeed (`observe`). With one
    iteration left (or `max_iterations=1`) the choice is the single-shot rule above.
    """

    name = "fitted"

    # Checked whenever set, in __init__ or later (e.g. `router.cost_weight = 5` between replays); read plainly.
    cost_weight = Knob(number("quality given up per dollar, e.g. cost_weight=10"))
    target_quality: Knob[float | None] = Knob(optional(fraction("is on the 0–1 scale")))
    alpha = Knob(number("the ridge penalty, e.g. alpha=10", positive=True))
    domain_prior = Knob(number("pseudo-rows, e.g. domain_prior=5"))
    smoothing = Knob(number("pseudo-prompts, e.g. smoothing=2"))
    retry_prior = Knob(number("pseudo-retries, e.g. retry_prior=2", positive=True))
    horizon = Knob(whole(1, "of attempts", 3))
    judge_error = Knob(lambda _, value: judge_error_ok(value))
    text = Knob(flag("False: the domain means alone"))
    cascade = Knob(flag("False: one model at a time, no plan"))

    def __init__(
        self,
        *,
        cost_weight: float = 0.0,
        target_quality: float | None = None,
        alpha: float = 10.0,
        text: bool = True,
        domain_prior: float = 5.0,
        featurizer: TextFeaturizer | None = None,
        features: Literal["tfidf", "minilm"] = "tfidf",
        embedder: MiniLMEmbedder | None = None,
        cascade: bool = True,
        horizon: int = 3,
        judge_error: float = 0.0,
        smoothing: float = 2.0,
        retry_prior: float = 2.0,
    ) -> None:
        if features not in FEATURE_SETS:
            raise UserError(f"features must be one of {FEATURE_SETS}, got {features!r}")
        self.cost_weight = cost_weight
        self.target_quality = target_quality
        self.alpha = alpha
        self.text = text
        self.domain_prior = domain_prior
        if featurizer is not None and not isinstance(featurizer, TextFeaturizer):
            raise UserError(f"featurizer is a TextFeaturizer(bits=..., ...), not {type(featurizer).__name__}")
        # a copy: `fit` learns the featurizer's idf, which a featurizer shared by several routers (one per fold of
        # a cross-validation) would otherwise take from the last fit, changing the others' predictions
        self.featurizer = copy.copy(featurizer) if featurizer is not None else TextFeaturizer()
        self.features = features
        self.cascade = cascade
        self.horizon = horizon
        self.judge_error = judge_error
        self.smoothing = smoothing
        self.retry_prior = retry_prior
        self._embedder = embedder
        if features == "minilm" and text and embedder is None:
            self._embedder = _default_embedder()
        self.models: tuple[str, ...] = ()
        self.quality_scale = 1.0
        self._domains: dict[str, int] = {}
        self._domain_keys: tuple[dict[str, int], dict[str, int]] = ({}, {})  # (_domains, its keys as runs name them)
        self._mean_q: Any = None  # (domains + 1, models): last row = over all domains
        self._mean_c: Any = None
        self._buckets: Any = None  # sorted hashed buckets with a coefficient
        self._coef: Any = None  # (models, buckets), or (models, embedding size) for dense features
        self._fit_prices: dict[str, float] = {}
        self._joint: JointOutcomes | None = None
        self._accepting: tuple[JointOutcomes, dict[float, JointOutcomes]] | None = None  # (`_accepted_at`'s, per fit)
        self._judge_cost = (0, 0.0)  # (evaluations seen, their total cost)
        self._retries: dict[tuple[str, str], tuple[int, int]] = {}  # (domain, model) -> (retries, accepted)
        self._warned_unknown = False  # warned that no candidate is one of the router's models
        self._offered: set[str] | None = None  # the candidates of the first decision, then those warned of as new

    def __setattr__(self, name: str, value: object) -> None:
        """A misspelt knob (`router.cost_wieght = 5` in a sweep) is refused naming the one meant: it made an attribute
        nothing read, and every point of the sweep routed alike without a word. A subclass's own attributes are left
        alone."""
        if name[0] != "_" and type(self) is FittedRouter:
            refuse_misspelt(self, name)
        object.__setattr__(self, name, value)

    # -- fitting ------------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self._mean_q is not None

    def fit(
        self, table: OutcomeTable, *, profiles: Sequence[ModelProfile] = (), progress: bool | None = None
    ) -> FittedRouter:
        """Learn from `table` (unobserved cells are skipped); `profiles` give the prices the costs were paid at.

        A router fitted again starts anew: what it learned before (the earlier fit, and what `observe` learned:
        judging cost, re-asks; the one-time warning about unknown candidates) is dropped. A fit that fails or is
        interrupted (Ctrl-C) leaves the router as it was: fitted as before, or not fitted.

        `progress`: the lab's progress display on stderr (see `orchestratex.lab`) while the prompts' features are
        computed: None shows it on a terminal or in Jupyter once the fit has run a second, True always, False never.
        """
        # (a fit sets the means first, then the text's regression: cut short, it left a router that read as fitted,
        # with the new table's models and means and no regression, which routed and saved without a word)
        before = dict(self.__dict__)
        self.featurizer = copy.copy(self.featurizer)  # (the fit learns its idf: the earlier fit's stays as it was)
        try:
            _fit.fit(self, table, profiles=profiles, progress=progress)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        self._judge_cost, self._retries, self._warned_unknown = (0, 0.0), {}, False
        self._offered = None
        return self

    @property
    def embedder(self) -> MiniLMEmbedder | None:
        """The sentence embedder of `features="minilm"` (None for TF-IDF features)."""
        return self._embedder if self.features == "minilm" else None

    def _dense(self, texts: Sequence[str], bar: Progress | None = None) -> Any:
        """(rows, dim) embeddings of the texts' tails; `bar` advances as they are embedded, `_EMBED_CHUNK` at a time."""
        np = load_numpy()
        if self._embedder is None:
            self._embedder = _default_embedder()
        tails = [self.featurizer.tail(t) for t in texts]
        if bar is None:
            return self._embedder.embed(tails).astype(np.float64)
        parts = []
        for start in range(0, len(tails), _EMBED_CHUNK):
            parts.append(self._embedder.embed(tails[start : start + _EMBED_CHUNK]).astype(np.float64))
            bar.advance(len(parts[-1]))
        return np.concatenate(parts) if parts else np.zeros((0, 0))

    # -- prediction ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not self.fitted:
            raise UserError("this FittedRouter is not fitted: call fit(table) or FittedRouter.load(path)")

    def known_models(self, models: Sequence[str], where: str) -> tuple[str, ...]:
        """The router's models found among `models` (those of `where`, e.g. a table), in the router's order.

        None of them is a `UserError`; some of them only is a warning (logger `orchestratex.routing`) naming the
        models the router cannot choose (not fitted on them) and those `where` does not have.
        """
        self._check_fitted()
        theirs = set(models)
        common = tuple(m for m in self.models if m in theirs)
        fitted = f"this FittedRouter was fitted on {list(self.models)}"
        if not common:
            raise UserError(
                f"{fitted}, and {where} has none of them ({list(models)}): "
                "fit the router on outcomes of these models, or give it a table of the models it was fitted on"
            )
        unknown = [m for m in models if m not in set(self.models)]
        absent = [m for m in self.models if m not in theirs]
        if unknown or absent:
            parts = [f"it chooses only among {list(common)}"]
            if unknown:
                parts.append(f"never {unknown} (it was fitted on no outcome of them)")
            if absent:
                parts.append(f"{absent} are not offered ({where} lacks them)")
            logger.warning("%s and %s has %s: %s", fitted, where, list(models), "; ".join(parts))
        return common

    def domain_row(self, domain: str) -> int:
        """The row of `domain` in the fitted means, -1 (over all domains) for a domain not in the table.

        A table's task is matched as a run's domain is read (`check_domain`): a built-in domain in any case and
        without surrounding spaces, so a router fitted on tasks `Math` and `Coding` knows a run's `math`.
        """
        row = self._domains.get(domain)
        if row is not None or not isinstance(domain, str):  # (None, as a caller may pass: the overall means)
            return row if row is not None else -1
        source, keys = self._domain_keys
        if source is not self._domains:  # (fitted or loaded since the keys were made)
            keys = {}
            for name, i in self._domains.items():
                keys.setdefault(_domain_key(name), i)
            self._domain_keys = (self._domains, keys)
        return keys.get(_domain_key(domain), -1)

    def predict_quality(self, prompt: str, domain: str = "general") -> NDArray[np.float64]:
        """Expected quality (0–1, clipped) of each of `self.models` on `prompt`."""
        np = load_numpy()
        self._check_fitted()
        base = self._mean_q[self.domain_row(domain)].copy()
        if self.text and self.features == "minilm" and self._coef.size:
            base += self._coef @ self._dense([prompt])[0]
        elif self.text and self._buckets.size:
            idx, val = self.featurizer.transform_one(prompt)
            pos = np.searchsorted(self._buckets, idx)
            pos[pos >= self._buckets.size] = 0
            hit = self._buckets[pos] == idx
            base += self._coef[:, pos[hit]] @ val[hit]
        return np.clip(base, 0.0, 1.0)  # type: ignore[no-any-return]

    def predict_cost(self, domain: str = "general", prices: Mapping[str, float | None] | None = None) -> Any:
        """Expected cost ($) of each of `self.models` on a prompt of `domain`, at `prices` (model → price per 1k).

        A model priced for the first time, by a router fitted without `profiles`, takes that price as the one
        its table costs were paid at.
        """
        np = load_numpy()
        self._check_fitted()
        cost = self._mean_c[self.domain_row(domain)].copy()
        if prices:
            for m, price in prices.items():
                if price and m in self.models and m not in self._fit_prices:
                    self._fit_prices[m] = price
            scale = [
                (prices[m] or 0.0) / self._fit_prices[m] if prices.get(m) is not None and m in self._fit_prices else 1.0
                for m in self.models
            ]
            cost *= np.asarray(scale)
        return cost

    def _candidate_costs(self, domain: str, pairs: list[tuple[ModelProfile, int]]) -> Any:
        """`predict_cost` of each candidate at its own price: two candidates of one table model (the same model
        behind two endpoints, `dear:llama` and `cheap:llama`) are priced apart, not both at the last one's price."""
        np = load_numpy()
        table = self.predict_cost(domain)
        costs = []
        for candidate, j in pairs:
            model, price = self.models[j], price_per_1k(candidate)
            if price and model not in self._fit_prices:  # (a router fitted without profiles: its first price seen)
                self._fit_prices[model] = price
            scale = price / self._fit_prices[model] if price is not None and model in self._fit_prices else 1.0
            costs.append(table[j] * scale)
        return np.asarray(costs, dtype=np.float64)

    def predict_table(self, table: OutcomeTable, *, progress: bool | None = None) -> tuple[Any, Any]:
        """(expected quality 0–1, expected cost) arrays of shape (rows, len(self.models)) for a whole table.

        A table with none of the router's models is a `UserError`, one with only some of them a warning (see
        `known_models`). `progress` as in `fit`.
        """
        return _fit.predict(self, table, progress=progress)

    # -- choice -------------------------------------------------------------------------------
    def choose(self, quality: Any, cost: Any) -> int:
        """The index (into the arrays) of the model the router's rule picks from expected quality and cost: of models
        the rule ranks equal, the cheapest."""
        np = load_numpy()
        if self.target_quality is not None:
            good = np.flatnonzero(quality >= self.target_quality)
            if good.size:
                return int(good[np.argmin(cost[good])])
            return int(cheapest_best(quality, cost))
        return int(cheapest_best(quality - self.cost_weight * cost, cost))

    async def attach(self, store: Store) -> None:
        """Refuse an unfitted router when an orchestrator opens, before any run is stored (nothing is loaded)."""
        self._check_fitted()

    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        return self.decide(task, candidates)

    def decide(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        """The synchronous core of `select`."""
        return decided(self._decide, task, candidates)

    def _decide(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        if not candidates:
            raise UserError("no candidates to route to")
        self._check_fitted()
        index = {m: j for j, m in enumerate(self.models)}
        known = [(c, index.get(c.name, index.get(c.version))) for c in candidates]
        pairs = [(c, j) for c, j in known if j is not None]
        if not pairs:
            # (the loop's policy holds here too: a rejected model is not asked again while another is left; before,
            # the best prior was re-asked at every attempt, never trying the others)
            rejected = set(task.failed_models)
            left = [c for c in candidates if c.name not in rejected]
            left = left or [candidates[i] for i in best_rejected(task, [c.name for c in candidates])]
            best = max(left, key=lambda c: c.quality)
            if not self._warned_unknown:
                self._warned_unknown = True
                logger.warning(
                    "this FittedRouter was fitted on %s, and none of the candidates %s is one of them (by name or "
                    "version): it picks the candidate of best catalog quality (%s) instead; fit it on outcomes of "
                    "the catalog's models, or add the models it was fitted on to the catalog (warned once)",
                    list(self.models),
                    [c.name for c in candidates],
                    best.name,
                )
            return RoutingDecision(
                model_name=best.name,
                reasoning=f"{best.name}: none of the candidates is in the fitted router's data; best catalog prior.",
                scores={c.name: c.quality / 10 for c in candidates},
                domain=task.domain,
            )
        if self._offered is None:
            self._offered = {c.name for c in candidates}
        elif len(pairs) < len(candidates):
            self._warn_new(known)
        # the user's prompt: not the prompt sent, which ends with the run's context ("Context: …", whose paragraph
        # the features would read instead of the question) or, after a rejection, with the refinement's
        text = task.original_prompt or task.prompt
        q_all = self.predict_quality(text, task.domain)
        cols = [j for _, j in pairs]
        q, c = q_all[cols], self._candidate_costs(task.domain, pairs) + _unpaid_input(task, pairs)
        named = {c.name: j for c, j in pairs}
        failed = frozenset(
            j
            for m in task.failed_models
            if (j := named.get(m, index.get(m, index.get(m.partition(":")[2])))) is not None
        )
        if not self.cascade or (not failed and task.remaining_iterations <= 1):
            pick = self.choose(q, c)
            utility = q - self.cost_weight * c
            how = (
                f"cheapest expected to reach {self.target_quality:.2f}"
                if self.target_quality is not None
                else f"best quality − {self.cost_weight:g}×cost"
            )
            return self._decision(task, pairs, pick, how, q[pick], c[pick], utility)
        return escalate(self, task, pairs, q_all, c, failed)

    def _warn_new(self, known: list[tuple[ModelProfile, int | None]]) -> None:
        """Warn, once per model, of a candidate offered since the first decision (a model added to a live catalog,
        one enabled again) that the router was not fitted on: it is never chosen while the router knows another
        candidate, and it was left out without a word."""
        offered = self._offered if self._offered is not None else set()
        new = [c.name for c, j in known if j is None and c.name not in offered]
        if new:
            offered.update(new)
            them = "them" if len(new) > 1 else "it"
            logger.warning(
                "%s %s offered to this FittedRouter since its first decision, but it was fitted on %s: it never "
                "chooses %s; fit it on outcomes that include %s (lab.load_history(store) gives your runs') to route "
                "to %s (warned once per model)",
                new,
                "are" if len(new) > 1 else "is",
                list(self.models),
                them,
                them,
                them,
            )

    # -- the loop -----------------------------------------------------------------------------
    def observe_judging(self, cost: float) -> None:
        """Count what one evaluation cost (the planner adds the mean to every attempt it plans)."""
        n, total = self._judge_cost
        self._judge_cost = (n + 1, total + max(cost, 0.0))

    @property
    def judging_cost(self) -> float:
        """Mean cost of one evaluation seen so far (0 before any)."""
        n, total = self._judge_cost
        return total / n if n else 0.0

    async def observe(self, feedback: RoutingFeedback) -> None:
        """Learn what judging costs and whether re-asking a rejected model pays.

        In memory only: the fit is unchanged, and `save` and the store keep none of it (a loaded router starts anew).
        """
        self.observe_judging(feedback.evaluation_cost)
        rejected = {a.model for a in feedback.attempts if a.score is not None and a.score < feedback.threshold}
        if feedback.model_name in rejected:
            key = (feedback.domain, self._table_name(feedback.model_name))
            n, ok = self._retries.get(key, (0, 0))
            self._retries[key] = (n + 1, ok + (feedback.score >= feedback.threshold))

    def _table_name(self, model: str) -> str:
        """The table's name of a catalog model (`provider:model` → `model` when only that is known)."""
        if model in self.models:
            return model
        bare = model.partition(":")[2]
        return bare if bare in self.models else model

    def retry_success(self, model: str, domain: str) -> float:
        """Estimated chance that re-asking `model` after the judges rejected its answer gets one accepted."""
        n, ok = self._retries.get((domain, self._table_name(model)), (0, 0))
        return ok / (n + self.retry_prior)

    def conditional_quality(self, domain: str, rejected: frozenset[int], threshold: float | None = None) -> Any:
        """P(right) of each of `self.models` on a prompt of `domain` once the `rejected` columns' answers failed.

        On a table of judge scores (`quality_scale` 10: `lab.load_history`, MT-Bench), an answer is right when its
        score reaches the run's `threshold` (when given): a model scoring 7 every time is never accepted at 8,
        whatever its mean score says."""
        np = load_numpy()
        d = self.domain_row(domain)
        if self._joint is None:
            return np.asarray(self._mean_q[d])
        joint = self._joint
        if threshold is not None and self.quality_scale > 1:
            joint = self._accepted_at(joint, threshold)
        return joint.conditional(d, rejected, self.judge_error, self.smoothing)  # (the knob as set now)

    def _accepted_at(self, joint: JointOutcomes, threshold: float) -> JointOutcomes:
        """`joint`'s outcomes as accepted (1) or not (0) at `threshold` on the table's scale (unobserved kept), made
        once per fit and threshold."""
        np = load_numpy()
        made = self._accepting
        if made is None or made[0] is not joint:
            made = self._accepting = (joint, {})
        found = made[1].get(threshold)
        if found is None:
            scores, domains = joint.quality * self.quality_scale, cast(Any, joint.domains)
            accepted = np.where(np.isnan(scores), np.nan, (scores >= threshold - 1e-9).astype(np.float64))
            found = made[1][threshold] = JointOutcomes(accepted, domains, joint.n_domains, smoothing=joint.smoothing)
        return found

    def _decision(
        self, task: Task, pairs: list[tuple[ModelProfile, int]], pick: int, how: str, q: float, c: float, utility: Any
    ) -> RoutingDecision:
        np = load_numpy()
        chosen = pairs[pick][0]
        return RoutingDecision(
            model_name=chosen.name,
            reasoning=(
                f"{chosen.name}: {how} for {task.domain} — expected quality {q:.2f} at ~${estimate(c)}"
                f" (fitted on {len(self._domains)} domain{'s' if len(self._domains) != 1 else ''}"
                f"{', MiniLM features' if self.text and self.features == 'minilm' else ''})."
            ),
            scores={cand.name: round(float(u), 6) for (cand, _), u in zip(pairs, np.asarray(utility), strict=True)},
            domain=task.domain,
        )

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted router to `path` (a numpy `.npz`, no pickle); returns the path written.

        Missing folders of `path` are created; the file is written whole or not at all (an earlier file at `path`
        survives a failed save). A path it cannot write is a `UserError` naming it and the cause. The file keeps
        the fit and the knobs only, nothing `observe` learned (judging cost, re-asks): see docs/routing.md.
        """
        return save_router(self, path)

    @classmethod
    def load(cls, path: str | Path, *, embedder: MiniLMEmbedder | None = None) -> FittedRouter:
        """A router saved by `save`; a MiniLM router uses `embedder`, else the bundled model.

        A file that is not one (missing, empty, cut short, another kind of file, damaged metadata or
        arrays) is a `UserError` naming the file and what is wrong with it.
        """
        return load_router(cls, path, embedder=embedder)


_FRAMING = 1024
"""Bytes of a run's input that are neither its prompt nor its context nor its conversation: the system prompt and
the messages' framing, which the table's costs are taken to include."""


def _unpaid_input(task: Task, pairs: list[tuple[ModelProfile, int]]) -> Any:
    """What each candidate's call costs beyond the table's mean cost per call: its input price for what a run sends
    that the table's prompts did not — a conversation's earlier turns (a thread's, a list of messages'), the run's
    context and, in a refinement, the rejected answer and the judges' feedback the prompt carries — read, as the
    orchestrator bounds its input, as bytes (about four a token). A long thread otherwise cost what a table prompt
    costs, so a model whose input is dear looked cheap and was chosen for every turn (and for every refinement of a
    long answer)."""
    np = load_numpy()
    sent = task.input_tokens  # (the bytes of every message the call sends)
    asked = task.original_prompt or task.prompt  # (the user's prompt: what a table's prompt is)
    tokens = max(sent - len(asked.encode()) - _FRAMING, 0) / 4
    return np.asarray([tokens * (model.input_cost_per_1k or 0.0) / 1000 for model, _ in pairs], dtype=np.float64)


_EMBED_CHUNK = 128
"""Prompts embedded between two updates of the progress display."""


def _domain_key(name: str) -> str:
    """A domain as a run keeps it (`check_domain`, without refusing anything): a built-in one lowercase."""
    stripped = name.strip()
    return stripped.lower() if stripped.lower() in DOMAINS else stripped


def _default_embedder() -> MiniLMEmbedder:
    """The bundled all-MiniLM-L6-v2 embedder (imported lazily: it needs the `embeddings` extra)."""
    from ._embed import MiniLMEmbedder

    return MiniLMEmbedder()
