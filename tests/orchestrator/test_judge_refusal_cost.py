"""A judge that refused on content grounds after reading the answer (`ContentFiltered` with its usage) is billed, and
its cost was counted in `total_cost` — but its verdict said $0, so `Evaluation.cost` and the `evaluation_completed`
event's `cost` left it out, and an iteration's answer and judging no longer added up to what the run spent."""

from __future__ import annotations

import pytest

from orchestratex import (
    BayesianRouter,
    Event,
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    MemoryStore,
    Orchestrator,
)
from orchestratex.exceptions import ContentFiltered
from orchestratex.usage import Usage

from .. import helpers
from ..helpers import NO_WAIT


def _answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        if request.model.name == "function:shy":
            raise ContentFiltered("the judge refused", status_code=200, usage=Usage(input_tokens=300, output_tokens=20))
        return '{"score": 9, "feedback": "fine"}'
    return "7"


async def test_a_judges_billed_refusal_is_in_the_evaluations_cost() -> None:
    events: list[Event] = []
    store = MemoryStore()
    async with Orchestrator(
        providers=[FunctionProvider(_answer)],
        catalog=helpers.catalog(
            "writer", "shy", "judge", output_price=0.002, quality={"writer": 9.0, "shy": 8.0, "judge": 7.9}
        ),
        router=BayesianRouter(explore=False),
        evaluator=LLMJudgeEvaluator(panel_size=2, min_quality=None),
        judges=["function:shy", "function:judge"],
        store=store,
        retry=NO_WAIT,
    ) as orchestrator:
        result = await orchestrator.run("Name a prime", max_iterations=1, on_event=events.append)
    [it] = result.orchestration.iterations
    assert result.status == "completed" and it.model_name == "function:writer" and it.evaluation is not None
    verdicts = {v.judge_model: v for v in it.evaluation.verdicts}
    shy = verdicts["function:shy"]
    assert shy.score is None and shy.error is not None and shy.error.startswith("ContentFiltered")
    assert shy.cost == pytest.approx(0.3 * 0.001 + 0.02 * 0.002, abs=1e-12) == shy.catalog_cost
    assert shy.usage == Usage(input_tokens=300, output_tokens=20)
    assert it.evaluation.cost == pytest.approx(result.total_cost - it.cost, abs=1e-12)
    [judged] = [e for e in events if e.type == "evaluation_completed"]
    assert judged.cost == it.evaluation.cost
    analytics = await store.session_analytics(result.orchestration.session_id)
    assert analytics.total_cost == pytest.approx(result.total_cost, abs=1e-12)
