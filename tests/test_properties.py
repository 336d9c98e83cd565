"""Invariants of the orchestration loop, checked over generated scenarios (hypothesis)."""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestratex import FunctionProvider, Generation, GenerationRequest, Orchestrator, RunResult, Usage
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ContentFiltered, ProviderServerError
from orchestratex.providers import estimate_input_tokens
from orchestratex.routing import BayesianRouter, RoutingFeedback, Task
from orchestratex.stores.checks import to_pico

from .helpers import NO_WAIT

NAMES = ["a", "b", "c", "d"]
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _catalog(prices: list[float], qualities: list[float]) -> ModelCatalog:
    return ModelCatalog(
        ModelProfile(
            name=f"function:{n}", input_cost_per_1k=p, output_cost_per_1k=p * 4, quality=q, max_output_tokens=600
        )
        for n, p, q in zip(NAMES, prices, qualities, strict=True)
    )


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    return {
        "prices": draw(st.lists(st.floats(0.0001, 0.02), min_size=4, max_size=4)),
        "qualities": draw(st.lists(st.floats(5, 10), min_size=4, max_size=4)),
        "scores": draw(st.lists(st.floats(0, 10), min_size=1, max_size=12)),
        "out_fraction": draw(st.lists(st.floats(0, 1), min_size=1, max_size=12)),
        "failures": draw(st.lists(st.booleans(), min_size=1, max_size=12)),
        "cost_limit": draw(st.one_of(st.none(), st.floats(0, 0.05))),
        "max_iterations": draw(st.integers(1, 6)),
        "threshold": draw(st.floats(0, 10)),
        "preferred": draw(st.one_of(st.none(), st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))),
    }


def _run(s: dict[str, object]) -> tuple[RunResult, Orchestrator]:
    counter = {"gen": 0, "judge": 0}
    scores: list[float] = s["scores"]  # type: ignore[assignment]
    fractions: list[float] = s["out_fraction"]  # type: ignore[assignment]
    failures: list[bool] = s["failures"]  # type: ignore[assignment]
    faults: list[str | None] = s.get("faults") or []  # type: ignore[assignment]

    def fn(request: GenerationRequest) -> Generation:
        bound = estimate_input_tokens(request)
        kind = "judge" if request.purpose == "judge" else "gen"
        i = counter[kind]
        counter[kind] += 1
        out = int(request.max_output_tokens * fractions[i % len(fractions)])
        usage = Usage(input_tokens=bound // 3, output_tokens=out)
        fault = faults[i % len(faults)] if faults else None
        if kind == "judge":
            if fault == "refused":  # (billed: its verdict is a failed one)
                raise ContentFiltered("refused", status_code=400, usage=usage, model=request.model.name)
            if fault is not None:  # (no score to read)
                return Generation(text="" if fault == "empty" else "I liked it.", usage=usage)
            text = json.dumps({"score": round(scores[i % len(scores)], 2), "feedback": "more detail"})
            return Generation(text=text, usage=usage)
        if failures[i % len(failures)]:
            raise ProviderServerError("flaky", status_code=500)
        if fault == "refused":  # billed, then the fallback answers
            raise ContentFiltered("refused", status_code=400, usage=usage, model=request.model.name)
        if fault == "empty":
            return Generation(text=" ", usage=usage)
        return Generation(text=f"answer {i}", usage=usage)

    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=_catalog(s["prices"], s["qualities"]),  # type: ignore[arg-type]
        retry=NO_WAIT,
        max_output_tokens=400,
    )
    preferred = s["preferred"]
    result = asyncio.run(
        orch.run(
            "Write a function that merges two sorted lists",
            cost_limit=s["cost_limit"],  # type: ignore[arg-type]
            max_iterations=s["max_iterations"],  # type: ignore[arg-type]
            evaluation_threshold=s["threshold"],  # type: ignore[arg-type]
            preferred_models=[f"function:{n}" for n in preferred] if preferred else None,  # type: ignore[attr-defined]
        )
    )
    return result, orch


@PROPS
@given(scenarios())
def test_loop_invariants(s: dict[str, object]) -> None:
    result, orch = _run(s)
    doc = result.orchestration
    limit = s["cost_limit"]

    # spent cost never exceeds the limit, and the session's books balance
    if limit is not None:
        assert doc.total_cost <= limit + 1e-12  # type: ignore[operator]
    session = asyncio.run(orch.store.get_session(doc.session_id))
    assert session.total_cost == doc.total_cost
    assert session.reserved_cost == 0

    # events begin with started, end with completed/failed, seq contiguous from 1
    types = [e.type for e in result.events]
    assert types[0] == "orchestration_started"
    assert types[-1] in ("orchestration_completed", "orchestration_failed")
    assert types.count("orchestration_completed") + types.count("orchestration_failed") == 1
    assert [e.seq for e in result.events] == list(range(1, len(types) + 1))
    assert result.events[-1].total_cost == doc.total_cost  # type: ignore[union-attr]

    # iterations <= max_iterations
    assert len(doc.iterations) <= s["max_iterations"]  # type: ignore[operator]

    # the router only ever chose among the allowed candidates
    preferred = s["preferred"]
    allowed = {f"function:{n}" for n in (preferred or NAMES)}  # type: ignore[attr-defined]
    chosen = [e.model_name for e in result.events if e.type == "model_selected"]
    assert set(chosen) <= allowed

    # the final answer is the best-scoring one
    scored = [it for it in doc.iterations if it.evaluation is not None]
    if scored:
        best = max(it.evaluation.score for it in scored)  # type: ignore[union-attr]
        assert doc.final_score == best
        assert doc.final_response in [it.response for it in scored if it.evaluation.score == best]  # type: ignore[union-attr]
    else:
        assert doc.status in ("failed", "cancelled")


@PROPS
@given(scenarios(), st.lists(st.sampled_from([None, None, "refused", "empty", "unreadable"]), min_size=1, max_size=9))
def test_the_iterations_add_up_to_the_run_s_total_cost(s: dict[str, object], faults: list[str | None]) -> None:
    """An answer refused with its usage (billed), an empty answer, the judges of an answer no verdict was kept for:
    each was in `total_cost` and on no iteration, so the iterations' costs did not add up to the run's. Each is now on
    its iteration's `failed_cost`."""
    result, orch = _run({**s, "faults": faults})
    doc = result.orchestration
    parts = [
        to_pico(it.cost) + to_pico(it.failed_cost) + (to_pico(it.evaluation.cost) if it.evaluation else 0)
        for it in doc.iterations
    ]
    assert sum(parts) == to_pico(doc.total_cost), [(it.errors, it.failed_cost) for it in doc.iterations]
    session = asyncio.run(orch.store.get_session(doc.session_id))
    assert session.total_cost == doc.total_cost and session.reserved_cost == 0


@PROPS
@given(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True),
    st.lists(st.tuples(st.sampled_from(NAMES), st.floats(0, 10)), max_size=30),
    st.floats(0, 5),
    st.booleans(),
)
def test_router_never_selects_outside_candidates(
    subset: list[str], history: list[tuple[str, float]], cost_sensitivity: float, explore: bool
) -> None:
    catalog = _catalog([0.001, 0.002, 0.004, 0.008], [7, 8, 8.5, 9])
    router = BayesianRouter(cost_sensitivity=cost_sensitivity, explore=explore, seed=1)
    for name, score in history:
        router.update(
            RoutingFeedback(domain="coding", model_name=f"function:{name}", score=score, cost=0.01, latency_ms=1)
        )
    candidates = [catalog.get(f"function:{n}") for n in subset]
    decision = asyncio.run(router.select(Task(prompt="x", domain="coding", input_tokens=100), candidates))
    assert decision.model_name in {c.name for c in candidates}
    assert set(decision.scores) == {c.name for c in candidates}
