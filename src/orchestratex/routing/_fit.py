"""Fitting a `FittedRouter` on an outcome table, and predicting over a whole table (what the lab replays).

The prediction is a domain mean (shrunk toward the mean over all domains) plus a ridge regression of the
residual on per-prompt features; see `FittedRouter`."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..catalog import ModelProfile
from ..exceptions import UserError
from ._features import load_numpy
from ._joint import JointOutcomes

if TYPE_CHECKING:
    from ..lab import OutcomeTable
    from .fitted import FittedRouter

__all__ = ["cheapest_best", "check_profiles", "fit", "predict", "price_per_1k"]


def price_per_1k(model: ModelProfile) -> float | None:
    """A model's price per 1k tokens as read now: the mean of its input and output prices, else the blended one."""
    if model.input_cost_per_1k is not None and model.output_cost_per_1k is not None:
        return (model.input_cost_per_1k + model.output_cost_per_1k) / 2
    if model.cost_per_1k_tokens is not None:
        return model.cost_per_1k_tokens
    return None


def cheapest_best(utility: Any, cost: Any) -> Any:
    """Along the last axis, the index of the highest `utility` and, of several equal, of the least `cost` (as the
    oracle breaks ties): numpy's `argmax` took the first in the table's order, so at `cost_weight=0` a router sent
    every prompt to the dearer of two models predicted equally good when it came first."""
    np = load_numpy()
    return np.lexsort((cost, -utility), axis=-1)[..., 0]


def check_profiles(profiles: object, call: str) -> list[ModelProfile]:
    """`profiles` as a list of `ModelProfile`s, else a `UserError` naming `call` (e.g. one profile alone, whose
    fields a loop would otherwise walk, or a list of names)."""
    if isinstance(profiles, ModelProfile | str | bytes) or not isinstance(profiles, Iterable):
        raise UserError(
            f"{call}: profiles is a list of ModelProfile (e.g. lab.profiles_for(table)), not {type(profiles).__name__}"
        )
    given = list(profiles)
    odd = next((p for p in given if not isinstance(p, ModelProfile)), None)
    if odd is not None:
        raise UserError(f"{call}: profiles is a list of ModelProfile (e.g. lab.profiles_for(table)); it holds {odd!r}")
    return given


def fit(router: FittedRouter, table: OutcomeTable, *, profiles: Sequence[ModelProfile], progress: bool | None) -> None:
    """What `FittedRouter.fit` does (see there)."""
    np = load_numpy()
    from ..lab._progress import check_progress
    from ..lab._table import OutcomeTable, rows_hint

    check_progress(progress)
    if not isinstance(table, OutcomeTable):
        raise UserError(
            "fit takes an OutcomeTable (lab.load_routerbench(...), lab.OutcomeTable(...)), "
            f"not {type(table).__name__}{rows_hint(table)}"
        )
    profiles = check_profiles(profiles, "fit(table, profiles=...)")
    if len(table) < 2:
        raise UserError(f"table {table.name!r} has {len(table)} rows: fitting needs at least 2")
    observed = table.observed
    if not observed.any(axis=0).all():
        seen = np.asarray(observed.any(axis=0), dtype=bool).tolist()
        empty = [m for m, s in zip(table.models, seen, strict=True) if not s]
        raise UserError(f"table {table.name!r} has no outcome for {empty}")
    top = float(np.nanmax(table.quality))
    router.quality_scale = 1.0 if top <= 1.0 else 10.0
    quality = table.quality / router.quality_scale
    router.models = table.models
    from .fitted import _domain_key

    # each task as a run reads it: `Coding` and `coding` (two tables concatenated, a column written by hand) are
    # one domain, as every run, replay and prediction reads both; before, the rows of one of them were never used
    domains = [_domain_key(table.task_of(i)) for i in range(len(table))]
    router._domains = {d: i for i, d in enumerate(dict.fromkeys(domains))}
    dom = np.asarray([router._domains[d] for d in domains])
    router._mean_q = _domain_means(router, quality, observed, dom)
    router._mean_c = _domain_means(router, np.where(observed, table.cost, np.nan), observed, dom)
    by_name = {p.name: p for p in profiles} | {p.version: p for p in profiles}
    router._fit_prices = {}
    for m in router.models:
        price = price_per_1k(by_name[m]) if m in by_name else None
        if price:
            router._fit_prices[m] = price
    router._joint = JointOutcomes(quality, dom, len(router._domains), smoothing=router.smoothing)
    router._buckets = np.zeros(0, dtype=np.int64)
    router._coef = np.zeros((len(router.models), 0))
    if router.text:
        _fit_text(router, table, quality, observed, dom, progress)


def _domain_means(router: FittedRouter, values: Any, observed: Any, dom: Any) -> Any:
    np = load_numpy()
    v = np.where(observed, values, 0.0)
    overall = v.sum(axis=0) / np.maximum(observed.sum(axis=0), 1)
    out = np.empty((len(router._domains) + 1, values.shape[1]))
    out[-1] = overall
    for d in range(len(router._domains)):
        rows = dom == d
        weight = observed[rows].sum(axis=0) + router.domain_prior
        total = v[rows].sum(axis=0) + router.domain_prior * overall
        # a model never seen in the domain, with domain_prior=0, takes its overall mean (not 0/0 = NaN)
        out[d] = np.divide(total, weight, out=overall.copy(), where=weight > 0)
    return out


def _fit_text(
    router: FittedRouter, table: OutcomeTable, quality: Any, observed: Any, dom: Any, progress: bool | None
) -> None:
    np = load_numpy()
    from ..lab._progress import Progress

    label = f"fit {router.name} on {table.name}"
    with Progress(label, len(table), show=progress) as bar:  # the prompts' features, then the regressions
        if "sklearn.linear_model" not in sys.modules:  # (1.5 s the first time, before any prompt is counted)
            bar.describe(f"{label} (importing scikit-learn)")
        try:
            with bar.ticking():
                from sklearn.linear_model import Ridge
        except ImportError as exc:
            raise ImportError("fitting a FittedRouter needs scikit-learn: pip install 'orchestratex[lab]'") from exc
        bar.describe(label)
        if router.features == "minilm":
            x = router._dense(table.prompts, bar)
            used = np.arange(x.shape[1])
        else:
            x = router.featurizer.fit_transform(table.prompts, tick=bar.advance)
            used = np.flatnonzero(np.asarray(x.getnnz(axis=0)) > 0)
            x = x[:, used]
        bar.describe(f"{label} (regressions)")
        with bar.ticking():  # (counting nothing: its clock goes on)
            _ridge(router, Ridge, x, used, quality, observed, dom)
        bar.describe(label)


def _ridge(router: FittedRouter, ridge: Any, x: Any, used: Any, quality: Any, observed: Any, dom: Any) -> None:
    """The residual regressions (scikit-learn's `Ridge`) on the features `x` (columns `used` of the featurizer)."""
    np = load_numpy()
    residual = quality - router._mean_q[dom]
    coef = np.zeros((len(router.models), len(used)))
    if observed.all():
        coef[:] = ridge(alpha=router.alpha, fit_intercept=False).fit(x, residual).coef_
    else:
        for j in range(len(router.models)):
            rows = observed[:, j]
            if rows.sum() >= 2:
                coef[j] = ridge(alpha=router.alpha, fit_intercept=False).fit(x[rows], residual[rows, j]).coef_
    router._buckets = used.astype(np.int64)
    router._coef = coef


def predict(router: FittedRouter, table: OutcomeTable, *, progress: bool | None) -> tuple[Any, Any]:
    """What `FittedRouter.predict_table` does (see there)."""
    np = load_numpy()
    from ..lab._progress import Progress, check_progress
    from ..lab._table import OutcomeTable

    check_progress(progress)
    router._check_fitted()
    if not isinstance(table, OutcomeTable):
        raise UserError(f"predict_table takes an OutcomeTable (lab.load_routerbench(...)), not {type(table).__name__}")
    router.known_models(table.models, f"table {table.name!r}")
    domains = [table.task_of(i) for i in range(len(table))]
    with Progress(f"predict {router.name} on {table.name}", len(table), show=progress) as bar:
        if router.text and router.features == "minilm" and router._coef.size:
            q = router._mean_q[[router.domain_row(d) for d in domains]]
            q = np.clip(q + router._dense(table.prompts, bar) @ router._coef.T, 0.0, 1.0)
        else:
            rows = []
            for prompt, domain in zip(table.prompts, domains, strict=True):
                rows.append(router.predict_quality(prompt, domain))
                bar.advance()
            q = np.stack(rows) if rows else np.zeros((0, len(router.models)))
    c = np.stack([router.predict_cost(d) for d in domains]) if domains else np.zeros((0, len(router.models)))
    return q, c
