"""What an outcome table says about models failing together: P(model j right | the models in F were rejected)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from ..exceptions import UserError

__all__ = ["JointOutcomes", "logit", "sigmoid"]


def logit(p: Any) -> Any:
    import numpy as np

    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def sigmoid(x: Any) -> Any:
    import numpy as np

    return 1.0 / (1.0 + np.exp(-x))


class JointOutcomes:
    """Per-domain joint outcomes of several models on the same prompts (quality 0–1, NaN when unobserved).

    `conditional(domain, rejected, judge_error)` estimates each model's chance of a right answer
    on a prompt whose answers by the `rejected` models the judges turned down: a weighted mean
    over the domain's rows, each row weighted by how likely the observed rejections are on it
    (a rejection of a right answer happens with probability `judge_error`, of a wrong one with
    `1 − judge_error`), smoothed toward the model's mean by `smoothing` pseudo-rows. With an
    exact judge this is the success rate of each model on the prompts where all the rejected
    models were wrong. Domain index −1 means all rows.
    """

    def __init__(self, quality: Any, domains: Sequence[int], n_domains: int, *, smoothing: float = 2.0) -> None:
        import numpy as np

        if smoothing < 0:
            raise UserError("smoothing must be >= 0")
        self.quality = np.asarray(quality, dtype=np.float64)
        self.domains = np.asarray(domains, dtype=np.int64)
        self.n_domains = n_domains
        self.smoothing = smoothing
        self._cache: dict[tuple[int, frozenset[int], float, float], Any] = {}

    def _rows(self, domain: int) -> Any:
        if domain < 0 or not (self.domains == domain).any():
            return self.quality
        return self.quality[self.domains == domain]

    def _prior(self, y: Any, observed: Any) -> Any:
        """Each model's mean on the rows given; a model observed on none of them takes its mean over all rows (a
        history table has models never tried in a domain: they are not believed always wrong)."""
        import numpy as np

        seen = observed.sum(axis=0)
        everywhere = ~np.isnan(self.quality)
        overall = np.where(everywhere, self.quality, 0.0).sum(axis=0) / np.maximum(everywhere.sum(axis=0), 1)
        return np.divide(y.sum(axis=0), seen, out=overall, where=seen > 0)

    def conditional(
        self, domain: int, rejected: frozenset[int], judge_error: float = 0.0, smoothing: float | None = None
    ) -> Any:
        """(models,) estimated P(right) of each model given the `rejected` models' answers were turned down.

        `smoothing`: the pseudo-rows toward each model's mean (None: the one given at construction).
        """
        import numpy as np

        smoothing = self.smoothing if smoothing is None else smoothing
        key = (domain, rejected, round(judge_error, 6), smoothing)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        rows = self._rows(domain)
        observed = ~np.isnan(rows)
        y = np.where(observed, rows, 0.0)
        prior = self._prior(y, observed)
        w = np.ones(len(rows))
        for i in rejected:
            w *= np.where(observed[:, i], y[:, i] * judge_error + (1 - y[:, i]) * (1 - judge_error), 1.0)
        weight = w @ observed + smoothing
        # (no row and no smoothing: the prior, not 0)
        q = np.divide(w @ y + smoothing * prior, weight + 1e-12, out=prior.copy(), where=weight > 0)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[key] = q
        return q


def judge_error_ok(value: float) -> float:
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)  # (numpy's numbers too)
    if not number or not 0 <= value < 0.5 or math.isnan(value):
        raise UserError(f"judge_error is the chance a verdict is wrong: between 0 and 0.5; got {value!r}")
    return float(value)
