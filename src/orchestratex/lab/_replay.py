"""Replay routers over an outcome table, offline: no provider is called, the table says what each answer scored."""

from __future__ import annotations

import asyncio
import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..catalog import ModelProfile
from ..domains import DOMAINS
from ..exceptions import UserError
from ..routing import Router, RoutingFeedback, Task
from ..routing._base import offline
from ..routing._fit import cheapest_best, check_profiles
from ..routing.fitted import FittedRouter
from ._metrics import Curve, OperatingPoint
from ._profiles import CHARS_PER_TOKEN, DEFAULT_ANSWER_CHARS
from ._progress import Progress, check_progress
from ._table import FloatArray, IntArray, OutcomeTable, check_arguments

__all__ = [
    "Replay",
    "default_cost_weights",
    "fitted_curve",
    "oracle_curve",
    "random_point",
    "ranking_curve",
    "replay",
    "single_model_points",
    "sweep",
    "zero_router_curve",
]


def _point(table: OutcomeTable, choice: IntArray, knob: float | None = None) -> OperatingPoint:
    rows = np.arange(len(table))
    counts = np.bincount(choice, minlength=len(table.models)) / max(len(table), 1)
    return OperatingPoint(
        cost=float(table.cost[rows, choice].mean()),
        quality=float(table.quality[rows, choice].mean()),
        knob=knob,
        shares={m: float(s) for m, s in zip(table.models, counts, strict=True) if s > 0},
    )


def default_cost_weights(cost: FloatArray, count: int = 160) -> list[float]:
    """Cost-knob values spanning "quality only" (0) to "cheapest only", log-spaced for a cost scale like `cost`."""
    positive = cost[cost > 0]
    if positive.size == 0:
        return [0.0]
    low, high = 1e-3 / float(positive.max()), 10.0 / float(positive.min())
    return [0.0, *np.geomspace(low, high, count - 1).tolist()]


def _weights(cost: FloatArray, cost_weights: Sequence[float] | None) -> list[float]:
    """`cost_weights` as a list of finite numbers >= 0 (by default `default_cost_weights(cost)`), else a `UserError`
    (a NaN weight would pick every row's first model: a point of no router)."""
    if cost_weights is None:
        return default_cost_weights(cost)
    if isinstance(cost_weights, numbers.Real) or not isinstance(cost_weights, Iterable):
        raise UserError(
            f"cost_weights is a list of numbers, e.g. cost_weights=[{cost_weights!r}]; got {cost_weights!r}"
        )
    weights = list(cost_weights)
    bad = next((w for w in weights if isinstance(w, bool) or not _finite_weight(w)), None)
    if bad is not None:
        raise UserError(f"cost_weights are finite numbers >= 0 (quality given up per unit of cost); got {bad!r}")
    return [float(w) for w in weights]


def _finite_weight(weight: object) -> bool:
    return isinstance(weight, numbers.Real) and math.isfinite(weight) and float(weight) >= 0


def sweep(
    table: OutcomeTable,
    predicted_quality: FloatArray | Sequence[Sequence[float]],
    predicted_cost: FloatArray | Sequence[Sequence[float]],
    *,
    name: str,
    cost_weights: Sequence[float] | None = None,
) -> Curve:
    """The curve of the rule `argmax(predicted quality − w × predicted cost)` at each cost weight `w` (of models
    ranked equal, the one of least predicted cost, as `FittedRouter.choose` and the oracle pick).

    Predictions are (rows, models) arrays aligned with `table.models`; the outcome of each
    choice is read from the table.
    """
    check_arguments("sweep(table, predicted_quality, predicted_cost, name=...)", table)
    table.require_complete()
    shape = (len(table), len(table.models))
    predicted_quality, predicted_cost = (
        _predictions(table, label, a) for label, a in (("quality", predicted_quality), ("cost", predicted_cost))
    )
    if predicted_quality.shape != shape or predicted_cost.shape != shape:
        raise UserError(f"predictions must have shape {shape} (rows, models of {table.name!r})")
    weights = _weights(predicted_cost, cost_weights)
    points = [_point(table, cheapest_best(predicted_quality - w * predicted_cost, predicted_cost), w) for w in weights]
    return Curve(name, tuple(points))


def _predictions(table: OutcomeTable, label: str, values: object) -> FloatArray:
    """`sweep`'s predicted `label` as an array of finite numbers (numpy's argmax takes a NaN for the best value: every
    row would go to the model of a NaN prediction)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"predicted_{label} is a (rows, models) array of numbers for table {table.name!r}") from None
    bad = np.argwhere(~np.isfinite(array))
    if bad.size and array.ndim == 2 and array.shape[1] == len(table.models):
        row, col = (int(i) for i in bad[0])
        raise UserError(
            f"predicted_{label} of model {table.models[col]!r} on row {row} is {float(array[row, col])!r}: "
            "predictions are finite numbers"
        )
    return array


def ranking_curve(table: OutcomeTable, gain: FloatArray | Sequence[float], *, name: str, strong: int = 0) -> Curve:
    """A two-model router's curve: send the `k` prompts of highest `gain` to model `strong`, for every k.

    `gain` is the router's score for "the strong model is needed" (e.g. predicted quality of
    strong − weak). This is the threshold sweep RouteLLM's APGR and CPT are computed on. No threshold separates
    prompts of equal gain: within them the curve is the expected outcome of a random pick (a straight line).
    """
    check_arguments("ranking_curve(table, gain, name=...)", table)
    table.require_complete()
    if len(table.models) != 2:
        raise UserError("a ranking curve is for two-model tables")
    if isinstance(strong, bool) or strong not in (0, 1):
        raise UserError(f"strong is the column of the strong model, 0 or 1 (of {list(table.models)}); got {strong!r}")
    try:
        gain = np.asarray(gain, dtype=np.float64)  # (a list of scores, as well as an array)
    except (TypeError, ValueError):
        raise UserError(f"gain is one number per row of table {table.name!r} (an array or a list)") from None
    if gain.shape != (len(table),):
        raise UserError(f"gain must have one value per row ({len(table)}), got shape {gain.shape}")
    if not np.isfinite(gain).all():  # (argsort would put NaN last, as if the router never needed the strong model)
        row = int(np.flatnonzero(~np.isfinite(gain))[0])
        raise UserError(
            f"gain of row {row} (id {table.ids[row]!r}) is {float(gain[row])!r}: each row's gain is a finite number"
        )
    weak, n = 1 - strong, len(table)
    order = np.argsort(-gain, kind="stable")
    rows = np.arange(n)
    # point k sends order[:k] to strong: running sums instead of re-reading the table for each of the n + 1 points
    quality = _running_means(table.quality[rows, weak], table.quality[order, strong] - table.quality[order, weak])
    cost = _running_means(table.cost[rows, weak], table.cost[order, strong] - table.cost[order, weak])
    quality, cost = _untied(gain[order], quality), _untied(gain[order], cost)
    points = []
    for k in range(n + 1):
        share = {strong: k / n, weak: (n - k) / n}
        shares = {m: share[j] for j, m in enumerate(table.models) if share[j] > 0}
        points.append(OperatingPoint(cost=float(cost[k]), quality=float(quality[k]), knob=float(k), shares=shares))
    return Curve(name, tuple(points))


def _untied(sorted_gain: FloatArray, means: FloatArray) -> FloatArray:
    """`means` (n + 1 points) with the points inside each run of equal gains on the line between the run's ends.

    No threshold separates prompts of equal gain: sending k of them to the strong model is a random pick of k, whose
    expected outcome is that line. Before, they were taken in the table's order, so a router scoring many prompts
    alike (the task-only router: one score per task) was credited with, or blamed for, the order of the data file.
    """
    out = means.copy()
    n, start = len(sorted_gain), 0
    while start < n:
        end = start + 1
        while end < n and sorted_gain[end] == sorted_gain[start]:
            end += 1
        if end - start > 1:
            out[start : end + 1] = np.linspace(means[start], means[end], end - start + 1)
        start = end
    return out


def _running_means(base: FloatArray, delta: FloatArray) -> FloatArray:
    """Mean of `base` with the first 0, 1, …, n entries of `delta` added to it."""
    return (float(base.sum()) + np.concatenate([[0.0], np.cumsum(delta)])) / max(len(base), 1)


def single_model_points(table: OutcomeTable) -> dict[str, OperatingPoint]:
    """Each model alone: its mean cost and quality."""
    check_arguments("single_model_points(table)", table)
    table.require_complete()
    return {m: _point(table, np.full(len(table), j, dtype=np.int64)) for j, m in enumerate(table.models)}


def random_point(table: OutcomeTable) -> OperatingPoint:
    """Routing uniformly at random among all models (in expectation)."""
    check_arguments("random_point(table)", table)
    table.require_complete()
    m = len(table.models)
    return OperatingPoint(
        cost=float(table.cost.mean()),
        quality=float(table.quality.mean()),
        shares=dict.fromkeys(table.models, 1 / m),
    )


def zero_router_curve(table: OutcomeTable) -> Curve:
    """RouterBench's zero router: random mixtures of single models, i.e. the hull of their points."""
    check_arguments("zero_router_curve(table)", table)
    points = single_model_points(table)
    return Curve("zero router (random mix)", tuple(OperatingPoint(p.cost, p.quality) for p in points.values()))


def oracle_curve(table: OutcomeTable, *, cost_weights: Sequence[float] | None = None) -> Curve:
    """The oracle: knows every outcome in advance, best quality − w × cost for each weight `w`.

    At `w = 0` it picks, for each prompt, the best model and among those the cheapest.
    """
    check_arguments("oracle_curve(table)", table)
    table.require_complete()
    tie_break = table.quality - 1e-9 * table.cost / max(float(table.cost.max()), 1e-30)
    weights = _weights(table.cost, cost_weights)
    points = [_point(table, np.argmax(tie_break - w * table.cost, axis=1), w) for w in weights]
    return Curve("oracle", tuple(points))


@dataclass(frozen=True)
class Replay:
    """What a router chose on each row of a table, and what that earned and cost."""

    table: OutcomeTable
    choices: IntArray
    """The column chosen on each row."""

    @property
    def quality(self) -> FloatArray:
        return self.table.quality[np.arange(len(self.table)), self.choices]

    @property
    def cost(self) -> FloatArray:
        return self.table.cost[np.arange(len(self.table)), self.choices]

    def point(self, start: int = 0, stop: int | None = None) -> OperatingPoint:
        """Mean cost and quality over rows `start:stop` (e.g. the last half of a stream)."""
        rows = np.arange(len(self.table))[start:stop]
        if rows.size == 0:
            raise UserError("no rows in that range")
        return _point(self.table.subset(rows), self.choices[rows])


def _profile_index(table: OutcomeTable, profiles: Sequence[ModelProfile]) -> dict[str, int]:
    index: dict[str, int] = {}
    for p in profiles:
        col = next((j for j, m in enumerate(table.models) if m in (p.name, p.version)), None)
        if col is None:
            raise UserError(f"profile {p.name!r} names no model of table {table.name!r}")
        if p.name in index:
            raise UserError(f"profiles names the model {p.name!r} twice: give each model one profile")
        index[p.name] = col
    missing = set(range(len(table.models))) - set(index.values())
    if missing:
        raise UserError(f"no profile for {[table.models[j] for j in sorted(missing)]}")
    return index


async def replay(
    router: Router,
    table: OutcomeTable,
    profiles: Sequence[ModelProfile],
    *,
    learn: bool = True,
    score_scale: float | None = None,
    progress: bool | None = None,
) -> Replay:
    """Run `router` over the table's prompts in order, as a stream, without calling any provider.

    Each prompt becomes a `Task` (its table task as the domain) routed among `profiles` (one
    per table model, matched by name or version: see `profiles_for`). With `learn=True` the
    router then observes the chosen model's outcome only (bandit feedback): a score on the
    0–10 scale (`quality × score_scale`, by default 10 for 0/1 tables and 1 for 1–10 ones), its
    cost, and its output tokens (the recorded answer's length / 4; 100 when the table records no lengths, as
    `profiles_for` prices an answer) — in memory only: a learning router also attached to
    an orchestrator writes nothing of the replay into that orchestrator's store (nor needs it open). A
    `FittedRouter` fitted on none of the table's
    models is a `UserError`, on only some of them a warning. `progress`: the lab's progress display (None: on a
    terminal or in Jupyter once the replay has run a second; True: always; False: never).
    """
    check_arguments("replay(router, table, profiles)", table, router)
    profiles = check_profiles(profiles, "replay(router, table, profiles)")
    table.require_complete()
    check_progress(progress)
    if score_scale is not None and (
        isinstance(score_scale, bool)
        or not isinstance(score_scale, numbers.Real)
        or not math.isfinite(score_scale)
        or score_scale <= 0
    ):
        raise UserError(
            f"score_scale multiplies quality into a 0–10 score: a number > 0 (e.g. 10), got {score_scale!r}"
        )
    if isinstance(router, FittedRouter):
        router.known_models(table.models, f"table {table.name!r}")
    index = _profile_index(table, profiles)
    scale = score_scale if score_scale is not None else (10.0 if float(table.quality.max()) <= 1 else 1.0)
    chars = table.output_chars
    choices = np.empty(len(table), dtype=np.int64)
    # each task as a run reads it (a built-in domain lowercase: `Coding` is `coding`, its models' specialty and
    # statistics), as `replay_loop` passes it: before, `Coding` reached the router as given
    domains = {task: _as_run_reads(task) for task in table.task_names}
    # (offline: a router also attached to an orchestrator keeps what it learns here in memory, not in that store)
    with Progress(f"replay {router.name} on {table.name}", len(table), show=progress) as bar, offline():
        for row, prompt in enumerate(table.prompts):
            domain = domains[table.task_of(row)]
            task = Task(prompt=prompt, domain=domain, original_prompt=prompt, input_tokens=len(prompt.encode()))
            decision = await router.select(task, profiles)
            if decision.model_name not in index:
                raise UserError(f"router {router.name!r} chose {decision.model_name!r}, which is not a candidate")
            col = index[decision.model_name]
            choices[row] = col
            if learn:
                await router.observe(
                    RoutingFeedback(
                        domain=domain,
                        model_name=decision.model_name,
                        score=float(min(10.0, max(0.0, table.quality[row, col] * scale))),
                        cost=float(table.cost[row, col]),
                        latency_ms=0.0,
                        output_tokens=_output_tokens(chars, row, col),
                        prompt=prompt,
                    )
                )
            bar.advance()
            await asyncio.sleep(0)  # a cancellation (Ctrl-C) stops the replay here; other tasks get their turn
    return Replay(table, choices)


def _output_tokens(chars: FloatArray | None, row: int, col: int) -> int:
    """The output tokens of a replayed answer: its recorded length's, or, when the table records none, those of the
    400 characters `profiles_for` prices an answer at and `replay_loop` answers with. Before, 0: a learning router
    then believed every answer free of output, its expected costs a fraction of the recorded ones (GSM8K's GPT-4
    call, 1.0, expected at about 0.4), and `ContextualRouter`'s cost knob bought GPT-4 on 98 % of the prompts."""
    return int((chars[row, col] if chars is not None else DEFAULT_ANSWER_CHARS) / CHARS_PER_TOKEN)


def _as_run_reads(task: str) -> str:
    """A table's task as a run's domain reads it (`check_domain`, refusing nothing): without surrounding spaces, a
    built-in one lowercase."""
    stripped = task.strip()
    return stripped.lower() if stripped.lower() in DOMAINS else stripped


def fitted_curve(
    router: FittedRouter, table: OutcomeTable, *, name: str | None = None, progress: bool | None = None
) -> Curve:
    """The curve of a fitted router's `quality − w × cost` rule over `table` (predictions made once).

    The rule chooses among the models both know (as the router does among a catalog's): a table with none of
    the router's models is a `UserError`, one with only some of them a warning naming the others. `progress` as
    in `replay`.
    """
    check_arguments("fitted_curve(router, table)", table, router)
    if not isinstance(router, FittedRouter):
        raise UserError(f"fitted_curve(router, table): router is a FittedRouter, not {type(router).__name__}")
    q, c = router.predict_table(table, progress=progress)  # refuses a table without the router's models
    common = [m for m in router.models if m in table.models]
    cols = [router.models.index(m) for m in common]
    return sweep(table.with_models(*common), q[:, cols], c[:, cols], name=name or router.name)
