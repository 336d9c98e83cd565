"""A `MemoryStore`'s analytics: sums and percentiles over its orchestration rows and call records.

Each figure is computed from the rows when asked (nothing is kept up to date as runs commit), in one
pass over the scope's orchestrations and calls; see `_memory_rows` for the rows' fields.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._base import Analytics, DomainUsage, ModelStats, ModelUsage
from ._memory_rows import (
    C_COST,
    C_DOMAIN,
    C_ERROR,
    C_INPUT_TOKENS,
    C_LATENCY,
    C_MODEL,
    C_OUTPUT_TOKENS,
    C_ROLE,
    C_SCORE,
    O_COST,
    O_DOMAIN,
    O_ITERATIONS,
    O_OVERAGE,
    O_SCORE,
    O_STATUS,
    O_USER,
    THREAD_USER,
    OrchestrationRow,
    Row,
)
from ._memory_state import MemoryState
from .aggregate import counted_score, mean_score, score_units
from .checks import check_name, from_pico, to_pico

__all__ = ["MemoryAnalytics", "rank_offset"]


def rank_offset(n: int, percent: int) -> int:
    """0-based position of the nearest-rank `percent` percentile among `n` sorted values."""
    return max(1, -(-percent * n // 100)) - 1


class MemoryAnalytics(MemoryState):
    """`Store`'s analytics methods over a `MemoryStore`'s tables."""

    async def session_analytics(self, session_id: str) -> Analytics:
        self._session(session_id)
        orchestrations = [self._orchestrations[i] for i in self._orchestrations_by_session.get(session_id, ())]
        return _analytics(
            "session",
            session_id,
            sessions=1,
            threads=len(self._threads_by_session.get(session_id, ())),
            orchestrations=orchestrations,
            calls=self._calls_by_session.get(session_id, ()),
        )

    async def user_analytics(self, user_id: str) -> Analytics:
        check_name("user_id", user_id)
        session_ids = self._sessions_by_user.get(user_id, ())
        orchestrations = [row for row in self._orchestrations.values() if row[O_USER] == user_id]
        threads = sum(1 for row in self._threads.values() if row[THREAD_USER] == user_id)
        return _analytics(
            "user",
            user_id,
            sessions=len(session_ids),
            threads=threads,
            orchestrations=orchestrations,
            calls=self._calls_by_user.get(user_id, ()),
        )

    async def model_stats(self, model_name: str) -> ModelStats:
        check_name("model_name", model_name)
        calls = self._calls_by_model.get(model_name, ())
        if not calls:
            return ModelStats(model_name=model_name)
        errors = sum(1 for c in calls if c[C_ERROR] is not None)
        p50, p95 = _percentiles([c[C_LATENCY] for c in calls])
        by_domain: dict[str, list[float]] = {}
        for c in calls:
            if c[C_ROLE] == "generate" and c[C_SCORE] is not None:
                by_domain.setdefault(c[C_DOMAIN], []).append(c[C_SCORE])
        return ModelStats(
            model_name=model_name,
            requests=len(calls),
            errors=errors,
            error_rate=errors / len(calls),
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            mean_score_by_domain={d: sum(s) / len(s) for d, s in sorted(by_domain.items())},
        )


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    """Nearest-rank p50 and p95."""
    if not values:
        return None, None
    values.sort()
    return values[rank_offset(len(values), 50)], values[rank_offset(len(values), 95)]


def _model_usage(model_name: str, calls: list[Row]) -> ModelUsage:
    scores = [c[C_SCORE] for c in calls if c[C_ROLE] == "generate" and c[C_SCORE] is not None]
    p50, p95 = _percentiles([c[C_LATENCY] for c in calls])
    return ModelUsage(
        model_name=model_name,
        calls=len(calls),
        generations=sum(1 for c in calls if c[C_ROLE] == "generate"),
        judgements=sum(1 for c in calls if c[C_ROLE] == "judge"),
        cost=from_pico(sum(to_pico(c[C_COST]) for c in calls)),
        mean_score=sum(scores) / len(scores) if scores else None,
        errors=sum(1 for c in calls if c[C_ERROR] is not None),
        latency_p50_ms=p50,
        latency_p95_ms=p95,
    )


def _analytics(
    scope: str,
    scope_id: str,
    *,
    sessions: int,
    threads: int,
    orchestrations: list[OrchestrationRow],
    calls: Sequence[Row],
) -> Analytics:
    by_status: dict[str, int] = {}
    by_domain: dict[str, list[OrchestrationRow]] = {}
    for o in orchestrations:
        by_status[o[O_STATUS]] = by_status.get(o[O_STATUS], 0) + 1
        by_domain.setdefault(o[O_DOMAIN], []).append(o)
    scores = [o[O_SCORE] for o in orchestrations if counted_score(o[O_SCORE])]
    iterations = sum(o[O_ITERATIONS] for o in orchestrations)
    by_model: dict[str, list[Row]] = {}
    for c in calls:
        by_model.setdefault(c[C_MODEL], []).append(c)
    p50, p95 = _percentiles([c[C_LATENCY] for c in calls])
    domains = []
    for domain, group in sorted(by_domain.items()):
        group_scores = [o[O_SCORE] for o in group if counted_score(o[O_SCORE])]
        domains.append(
            DomainUsage(
                domain=domain,
                orchestrations=len(group),
                cost=from_pico(sum(to_pico(o[O_COST]) for o in group)),
                mean_final_score=mean_score(sum(map(score_units, group_scores)), len(group_scores)),
            )
        )
    from statistics import median  # analytics only: kept out of `import orchestratex`

    return Analytics(
        scope=scope,
        scope_id=scope_id,
        sessions=sessions,
        threads=threads,
        orchestrations=len(orchestrations),
        by_status=by_status,
        total_cost=from_pico(sum(to_pico(o[O_COST]) for o in orchestrations)),
        overage_cost=from_pico(sum(to_pico(o[O_OVERAGE]) for o in orchestrations if o[O_OVERAGE])),
        input_tokens=sum(c[C_INPUT_TOKENS] for c in calls),
        output_tokens=sum(c[C_OUTPUT_TOKENS] for c in calls),
        total_iterations=iterations,
        mean_iterations=iterations / len(orchestrations) if orchestrations else None,
        mean_final_score=mean_score(sum(map(score_units, scores)), len(scores)),
        median_final_score=median(scores) if scores else None,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        models=[_model_usage(name, group) for name, group in sorted(by_model.items())],
        domains=domains,
    )
