"""Building an `Analytics` document from the group sums a store's query returns.

A store aggregates its orchestrations by (domain, status) in its own query language (SQL, a
MongoDB pipeline) and feeds each group to `OrchestrationTotals.add`; the totals, means and the
per-domain breakdown are then derived the same way for every store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeGuard

from ._base import Analytics, DomainUsage, ModelUsage
from .checks import from_pico

__all__ = ["SCORE_UNITS", "OrchestrationTotals", "counted_score", "mean_score", "score_units"]

SCORE_UNITS = 10**9
"""Score units per point of a final score: `score_units` of a score, summed as integers, make exact sums."""


def counted_score(score: float | None) -> TypeGuard[float]:
    """Whether a `final_score` counts in the means and the median: a number from 0 to 10, the range of an evaluation's
    score (SQL: `final_score >= 0 AND final_score <= 10`, NaN being NULL there; MongoDB: `$gte: 0, $lte: 10`). NaN
    and infinities, which read back as None, do not."""
    return score is not None and 0 <= score <= 10


def score_units(score: float) -> int:
    """A final score in score units: `int(score * 1e9 + 0.5)`, the float product plus a half, truncated towards zero
    (SQL: `CAST(final_score * 1e9 + 0.5 AS INTEGER)`; MongoDB: `$toLong` of `$trunc` of the same sum). Summed as
    integers, scores add up to the same figure in any order: float sums differ in their last digit with the order
    of the additions, which differs between stores (per group, then over groups; in the order stored)."""
    return int(score * 1e9 + 0.5)


class OrchestrationTotals:
    """Running sums over groups of orchestrations (money in pico-dollars), turned into an `Analytics` document.

    A store groups the orchestrations of the scope by (domain, status) in its own query language and calls
    `add` once per group: `domain` as stored, with None mapped to `"general"`; `n` orchestrations; `pico`
    the sum of their `total_cost` in pico-dollars (`checks.to_pico` of each, summed as integers);
    `iterations` the sum of their iteration counts; `score_units` and `scored` the sum (`score_units` of each,
    summed as integers) and count of their `final_score`s that count (`counted_score`: a number from 0 to 10; None,
    NaN and one out of range do not). It then sets `overage_pico`
    (Σ `overage_cost` in pico-dollars, summed apart because few orchestrations have one) and calls `analytics`
    with the figures it computes itself (the scope's sessions and threads, tokens, the median final score, and
    from its call records the latency percentiles and per-model usage). The means, the per-status counts and the
    per-domain breakdown then come out exactly as the built-in stores' do.
    """

    def __init__(self) -> None:
        self.by_status: dict[str, int] = {}
        self.total_pico = 0
        self.overage_pico = 0
        """Σ `overage_cost` (stores sum it apart: few orchestrations have one)."""
        self.iterations = 0
        self.score_units = 0
        """Σ `score_units(final_score)`."""
        self.scored = 0
        """How many orchestrations have a final score."""
        self._domains: dict[str, list[int]] = {}  # domain -> [orchestrations, pico, score units, scored]

    def add(
        self, *, domain: str, status: str, n: int, pico: int, iterations: int, score_units: int, scored: int
    ) -> None:
        """Add one group: `n` orchestrations of `domain` in `status`, with their summed figures."""
        self.by_status[status] = self.by_status.get(status, 0) + n
        acc = self._domains.setdefault(domain, [0, 0, 0, 0])
        acc[0] += n
        acc[1] += pico
        acc[2] += score_units
        acc[3] += scored
        self.total_pico += pico
        self.iterations += iterations
        self.score_units += score_units
        self.scored += scored

    @property
    def orchestrations(self) -> int:
        return sum(self.by_status.values())

    def analytics(
        self,
        *,
        scope: str,
        scope_id: str,
        sessions: int,
        threads: int,
        input_tokens: int,
        output_tokens: int,
        median_final_score: float | None,
        latency_p50_ms: float | None,
        latency_p95_ms: float | None,
        models: Sequence[ModelUsage],
    ) -> Analytics:
        """The `Analytics` document: these sums plus what the store computed from its call records."""
        count = self.orchestrations
        return Analytics(
            scope=scope,
            scope_id=scope_id,
            sessions=sessions,
            threads=threads,
            orchestrations=count,
            by_status=self.by_status,
            total_cost=from_pico(self.total_pico),
            overage_cost=from_pico(self.overage_pico),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_iterations=self.iterations,
            mean_iterations=self.iterations / count if count else None,
            mean_final_score=mean_score(self.score_units, self.scored),
            median_final_score=median_final_score,
            latency_p50_ms=latency_p50_ms,
            latency_p95_ms=latency_p95_ms,
            models=list(models),
            domains=[
                DomainUsage(
                    domain=domain,
                    orchestrations=n,
                    cost=from_pico(pico),
                    mean_final_score=mean_score(units, k),
                )
                for domain, (n, pico, units, k) in sorted(self._domains.items())
            ],
        )


def mean_score(units: int, scored: int) -> float | None:
    """The mean of `scored` scores summing to `units` score units (the quotient of integers, correctly rounded)."""
    return units / (scored * SCORE_UNITS) if scored else None
