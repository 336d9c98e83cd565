"""Analytics as aggregation pipelines and indexed reads: no collection is ever loaded into Python.

Sums and counts are `$group` stages over the scope's documents (found through an index). Percentiles
and medians are read one value at a time with `find(…).sort(field).skip(k).limit(1)` on an index
whose order is the value's order, from whichever end is nearer (mongomock, the test stand-in, has no
`$percentile`; this form also works on every server version). Percentiles are nearest-rank; the
median of an even count is the mean of the two middle values, as in the built-in stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pymongo.asynchronous.collection import AsyncCollection

from orchestratex.stores import Analytics, ModelStats, ModelUsage
from orchestratex.stores.aggregate import OrchestrationTotals
from orchestratex.stores.checks import to_pico

from ._codec import from_pico
from ._errors import Retrier

__all__ = ["ANALYTICS_INDEXES", "model_stats", "scope_analytics"]

_Coll = AsyncCollection[dict[str, Any]]

ANALYTICS_INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "orchestrations": [
        [("session_id", 1), ("domain_key", 1), ("status", 1)],
        [("user_id", 1), ("domain_key", 1), ("status", 1)],
        [("session_id", 1), ("final_score", 1)],
        [("user_id", 1), ("final_score", 1)],
    ],
    "calls": [
        [("session_id", 1), ("model_name", 1), ("latency_ms", 1)],
        [("user_id", 1), ("model_name", 1), ("latency_ms", 1)],
        [("session_id", 1), ("latency_ms", 1)],
        [("user_id", 1), ("latency_ms", 1)],
        [("model_name", 1), ("latency_ms", 1)],
        [("model_name", 1), ("role", 1), ("domain", 1)],
    ],
}
"""The indexes the pipelines and percentile reads below rely on (created by `MongoStore.open`)."""


def _rank_offset(n: int, percent: int) -> int:
    """0-based position of the nearest-rank `percent` percentile among `n` sorted values."""
    return max(1, -(-percent * n // 100)) - 1


def _when(condition: Mapping[str, Any], value: Any = 1) -> dict[str, Any]:
    return {"$sum": {"$cond": [condition, value, 0]}}


async def _nth(run: Retrier, coll: _Coll, query: dict[str, Any], field: str, n: int, offset: int) -> float:
    """The value of `field` at 0-based `offset` among the `n` documents matching `query`, in `field` order."""
    ascending = offset <= (n - 1) // 2
    skip = offset if ascending else n - 1 - offset

    async def read() -> list[dict[str, Any]]:
        cursor = coll.find(query, {field: 1, "_id": 0}).sort(field, 1 if ascending else -1).skip(skip).limit(1)
        return await cursor.to_list(1)

    docs = await run(f"reading a percentile of {field}", read)
    return float(docs[0][field])


async def _percentiles(
    run: Retrier, coll: _Coll, query: dict[str, Any], field: str, n: int
) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    return (
        await _nth(run, coll, query, field, n, _rank_offset(n, 50)),
        await _nth(run, coll, query, field, n, _rank_offset(n, 95)),
    )


async def _median(run: Retrier, coll: _Coll, query: dict[str, Any], field: str, n: int) -> float | None:
    if n == 0:
        return None
    if n % 2:
        return await _nth(run, coll, query, field, n, n // 2)
    low = await _nth(run, coll, query, field, n, n // 2 - 1)
    return (low + await _nth(run, coll, query, field, n, n // 2)) / 2


async def _aggregate(run: Retrier, coll: _Coll, pipeline: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        cursor = await coll.aggregate(pipeline)
        return await cursor.to_list(None)

    return await run(what, go)


_OVERAGE_COST = {"$ifNull": ["$overage_cost", 0]}
_GENERATED = {"$eq": ["$role", "generate"]}
_SCORED_GENERATION = {"$and": [_GENERATED, {"$ne": [{"$ifNull": ["$score", None]}, None]}]}
_HAS_FINAL_SCORE = {"$and": [{"$gte": ["$final_score", 0]}, {"$lte": ["$final_score", 10]}]}  # `counted_score`
"""(null, a missing field and NaN sort below every number: they do not count)"""
_FINAL_SCORE_UNITS = {  # `orchestratex.stores.aggregate.score_units`: int(final_score * 1e9 + 0.5)
    "$cond": [_HAS_FINAL_SCORE, {"$toLong": {"$trunc": {"$add": [{"$multiply": ["$final_score", 1e9]}, 0.5]}}}, 0]
}


async def _model_usages(
    run: Retrier, calls: _Coll, column: str, scope_id: str
) -> tuple[list[ModelUsage], int, int, int]:
    """Per-model usage in the scope, plus its total input tokens, output tokens and number of calls."""
    rows = await _aggregate(
        run,
        calls,
        [
            {"$match": {column: scope_id}},
            {
                "$group": {
                    "_id": "$model_name",
                    "n": {"$sum": 1},
                    "generations": _when(_GENERATED),
                    "judgements": _when({"$eq": ["$role", "judge"]}),
                    "pico": {"$sum": "$cost_pico"},
                    "input_tokens": {"$sum": "$input_tokens"},
                    "output_tokens": {"$sum": "$output_tokens"},
                    "score_sum": _when(_SCORED_GENERATION, "$score"),
                    "scored": _when(_SCORED_GENERATION),
                    "errors": _when({"$eq": ["$failed", True]}),
                }
            },
            {"$sort": {"_id": 1}},
        ],
        "aggregating calls per model",
    )
    models = []
    input_tokens = output_tokens = total = 0
    for row in rows:
        name, n = row["_id"], int(row["n"])
        p50, p95 = await _percentiles(run, calls, {column: scope_id, "model_name": name}, "latency_ms", n)
        models.append(
            ModelUsage(
                model_name=name,
                calls=n,
                generations=int(row["generations"]),
                judgements=int(row["judgements"]),
                cost=from_pico(row["pico"]),
                mean_score=row["score_sum"] / row["scored"] if row["scored"] else None,
                errors=int(row["errors"]),
                latency_p50_ms=p50,
                latency_p95_ms=p95,
            )
        )
        input_tokens += int(row["input_tokens"])
        output_tokens += int(row["output_tokens"])
        total += n
    return models, input_tokens, output_tokens, total


async def scope_analytics(
    run: Retrier,
    orchestrations: _Coll,
    calls: _Coll,
    scope: Literal["session", "user"],
    scope_id: str,
    *,
    sessions: int,
    threads: int,
) -> Analytics:
    """Aggregates over the orchestrations and calls of one session or one user."""
    column = "session_id" if scope == "session" else "user_id"
    groups = await _aggregate(
        run,
        orchestrations,
        [
            {"$match": {column: scope_id}},
            {
                "$group": {
                    "_id": {"domain": "$domain_key", "status": "$status"},
                    "n": {"$sum": 1},
                    "pico": {"$sum": "$total_pico"},
                    "overage": {"$sum": "$overage_pico"},
                    # (a document written before `overage_pico` was: its float `overage_cost`, summed apart)
                    "overage_float": {"$sum": {"$cond": [{"$ifNull": ["$overage_pico", False]}, 0, _OVERAGE_COST]}},
                    "iterations": {"$sum": "$n_iterations"},
                    "score_units": {"$sum": _FINAL_SCORE_UNITS},
                    "scored": _when(_HAS_FINAL_SCORE),
                }
            },
        ],
        "aggregating orchestrations",
    )
    totals = OrchestrationTotals()
    for row in groups:
        totals.add(
            domain=row["_id"]["domain"],
            status=row["_id"]["status"],
            n=int(row["n"]),
            pico=int(row["pico"]),
            iterations=int(row["iterations"]),
            score_units=int(row["score_units"]),
            scored=int(row["scored"]),
        )
        totals.overage_pico += int(row.get("overage") or 0) + to_pico(float(row.get("overage_float") or 0))
    models, input_tokens, output_tokens, n_calls = await _model_usages(run, calls, column, scope_id)
    median = await _median(
        run, orchestrations, {column: scope_id, "final_score": {"$gte": 0, "$lte": 10}}, "final_score", totals.scored
    )
    p50, p95 = await _percentiles(run, calls, {column: scope_id}, "latency_ms", n_calls)
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


async def model_stats(run: Retrier, calls: _Coll, model_name: str) -> ModelStats:
    """Statistics of one model over every recorded call."""
    totals = await _aggregate(
        run,
        calls,
        [
            {"$match": {"model_name": model_name}},
            {"$group": {"_id": None, "n": {"$sum": 1}, "errors": _when({"$eq": ["$failed", True]})}},
        ],
        "aggregating a model's calls",
    )
    if not totals or not totals[0]["n"]:  # (mongomock groups an empty input into one row of zeros)
        return ModelStats(model_name=model_name)
    requests, errors = int(totals[0]["n"]), int(totals[0]["errors"])
    p50, p95 = await _percentiles(run, calls, {"model_name": model_name}, "latency_ms", requests)
    by_domain = await _aggregate(
        run,
        calls,
        [
            {"$match": {"model_name": model_name, "role": "generate", "score": {"$ne": None}}},
            {"$group": {"_id": "$domain", "total": {"$sum": "$score"}, "n": {"$sum": 1}}},
            {"$sort": {"_id": 1}},
        ],
        "aggregating a model's scores per domain",
    )
    return ModelStats(
        model_name=model_name,
        requests=requests,
        errors=errors,
        error_rate=errors / requests,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        mean_score_by_domain={row["_id"]: row["total"] / row["n"] for row in by_domain},
    )
