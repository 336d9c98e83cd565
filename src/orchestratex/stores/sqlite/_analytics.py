"""Analytics as SQL aggregates over indexed columns and running sums: nothing is loaded row by row into Python.

Orchestration figures are aggregated from a covering index; call figures come from `call_stats`, the
running sums a trigger keeps per (user, model), (session, model) and (model, domain) as calls are inserted.

Percentiles and medians are read with `ORDER BY … LIMIT 1 OFFSET k` on an index whose order is the
value's order, scanning from whichever end is nearer, so a p95 over 300,000 calls reads ~15,000
index entries and never sorts. Percentiles are nearest-rank; the median of an even count is the
mean of the two middle values (like `statistics.median`).
"""

from __future__ import annotations

import sqlite3
from typing import Literal

from .._base import Analytics, ModelStats, ModelUsage
from .._memory_analytics import rank_offset
from ..aggregate import OrchestrationTotals
from ..checks import from_pico

__all__ = ["model_stats", "scope_analytics"]


class _Scope:
    """Column, index hints and counts for one analytics scope."""

    def __init__(self, scope: Literal["session", "user"]) -> None:
        self.name = scope
        self.column = "session_id" if scope == "session" else "user_id"
        user = scope == "user"
        self.orchestrations = "INDEXED BY ix_orchestrations_user" if user else ""
        self.scores = "INDEXED BY ix_orchestrations_user_score" if user else ""
        self.calls_by_model = "INDEXED BY ix_calls_user_model" if user else "INDEXED BY ix_calls_session"
        self.latency = "INDEXED BY ix_calls_user_latency" if user else ""


_SCOPES = {"session": _Scope("session"), "user": _Scope("user")}
_SCORED = "final_score IS NOT NULL AND final_score >= 0 AND final_score <= 10"
"""A final score that counts (`aggregate.counted_score`)."""


def _nth(conn: sqlite3.Connection, sql: str, params: tuple[object, ...], n: int, offset: int) -> float:
    """The value at 0-based `offset` of `n` ordered values; `sql` ends with `ORDER BY x {order} LIMIT 1 OFFSET ?`."""
    if offset <= (n - 1) // 2:
        row = conn.execute(sql.format(order="ASC"), (*params, offset)).fetchone()
    else:
        row = conn.execute(sql.format(order="DESC"), (*params, n - 1 - offset)).fetchone()
    return float(row[0])


def _percentiles(
    conn: sqlite3.Connection, sql: str, params: tuple[object, ...], n: int
) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    return _nth(conn, sql, params, n, rank_offset(n, 50)), _nth(conn, sql, params, n, rank_offset(n, 95))


def _median(conn: sqlite3.Connection, sql: str, params: tuple[object, ...], n: int) -> float | None:
    if n == 0:
        return None
    if n % 2:
        return _nth(conn, sql, params, n, n // 2)
    return (_nth(conn, sql, params, n, n // 2 - 1) + _nth(conn, sql, params, n, n // 2)) / 2


def _model_usages(conn: sqlite3.Connection, s: _Scope, scope_id: str) -> tuple[list[ModelUsage], int, int, int]:
    """Per-model usage (from the running sums in `call_stats`), plus the scope's input tokens, output tokens, calls."""
    rows = conn.execute(
        "SELECT model_name, calls, generations, judgements, cost_pico, input_tokens, output_tokens, score_sum,"
        " scored, errors FROM call_stats WHERE scope = ? AND scope_id = ? AND domain = '' ORDER BY model_name",
        (s.name, scope_id),
    ).fetchall()
    latency_sql = (
        f"SELECT latency_ms FROM calls {s.calls_by_model} WHERE {s.column} = ? AND model_name = ?"
        " ORDER BY latency_ms {order} LIMIT 1 OFFSET ?"
    )
    models = []
    input_tokens = output_tokens = calls = 0
    for name, n, generations, judgements, cost, tokens_in, tokens_out, score_sum, scored, errors in rows:
        p50, p95 = _percentiles(conn, latency_sql, (scope_id, name), n)
        models.append(
            ModelUsage(
                model_name=name,
                calls=n,
                generations=generations,
                judgements=judgements,
                cost=from_pico(cost),
                mean_score=score_sum / scored if scored else None,
                errors=errors,
                latency_p50_ms=p50,
                latency_p95_ms=p95,
            )
        )
        input_tokens += tokens_in
        output_tokens += tokens_out
        calls += n
    return models, input_tokens, output_tokens, calls


def scope_analytics(
    conn: sqlite3.Connection, scope: Literal["session", "user"], scope_id: str, sessions: int, threads: int
) -> Analytics:
    """Aggregates over the orchestrations and calls of one session or one user (call in a read transaction)."""
    s = _SCOPES[scope]
    totals = OrchestrationTotals()
    for domain, status, n, pico, its, group_score_units, group_scored in conn.execute(
        "SELECT domain, status, COUNT(*), SUM(total_pico), SUM(iterations),"
        f" COALESCE(SUM(CASE WHEN {_SCORED} THEN CAST(final_score * 1e9 + 0.5 AS INTEGER) END), 0),"  # `score_units`
        f" COUNT(CASE WHEN {_SCORED} THEN 1 END)"
        f" FROM orchestrations {s.orchestrations} WHERE {s.column} = ? GROUP BY domain, status",
        (scope_id,),
    ):
        totals.add(
            domain=domain,
            status=status,
            n=n,
            pico=pico,
            iterations=its,
            score_units=group_score_units,
            scored=group_scored,
        )
    (overage,) = conn.execute(  # reads only the orchestrations that have one (a partial, covering index)
        f"SELECT COALESCE(SUM(overage_pico), 0) FROM orchestrations INDEXED BY ix_orchestrations_{s.name}_overage"
        f" WHERE {s.column} = ? AND overage_pico > 0",
        (scope_id,),
    ).fetchone()
    totals.overage_pico = overage
    models, input_tokens, output_tokens, calls = _model_usages(conn, s, scope_id)
    median = _median(
        conn,
        f"SELECT final_score FROM orchestrations {s.scores} WHERE {s.column} = ? AND {_SCORED}"
        " ORDER BY final_score {order} LIMIT 1 OFFSET ?",
        (scope_id,),
        totals.scored,
    )
    p50, p95 = _percentiles(
        conn,
        f"SELECT latency_ms FROM calls {s.latency} WHERE {s.column} = ? ORDER BY latency_ms {{order}} LIMIT 1 OFFSET ?",
        (scope_id,),
        calls,
    )
    return totals.analytics(
        scope=scope,
        scope_id=scope_id,
        sessions=sessions,
        threads=threads,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        median_final_score=median,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        models=models,
    )


def model_stats(conn: sqlite3.Connection, model_name: str) -> ModelStats:
    """Statistics of one model over every recorded call (call in a read transaction)."""
    rows = conn.execute(
        "SELECT domain, calls, errors, score_sum, scored FROM call_stats"
        " WHERE scope = 'model' AND scope_id = '' AND model_name = ? ORDER BY domain",
        (model_name,),
    ).fetchall()
    requests = sum(row[1] for row in rows)
    if not requests:
        return ModelStats(model_name=model_name)
    errors = sum(row[2] for row in rows)
    p50, p95 = _percentiles(
        conn,
        "SELECT latency_ms FROM calls INDEXED BY ix_calls_model WHERE model_name = ?"
        " ORDER BY latency_ms {order} LIMIT 1 OFFSET ?",
        (model_name,),
        requests,
    )
    return ModelStats(
        model_name=model_name,
        requests=requests,
        errors=errors,
        error_rate=errors / requests,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        mean_score_by_domain={domain: total / scored for domain, _, _, total, scored in rows if scored},
    )
