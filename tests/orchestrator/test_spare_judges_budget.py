"""The spare panel — the judges asked once when the whole panel failed — is paid from what the failed judges' calls
did not spend. Before, their reservations were held until the step's commit: with a budget that had room for one
more judge but not two, the spare judge was refused ("a call may cost up to $0.002163 but $0.000518 is left") while
the session had spent $0.0003 of $0.003, and the answer, paid for, was dropped with "no judge produced a verdict"."""

from __future__ import annotations

import json

import pytest

from orchestratex import (
    BayesianRouter,
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    MemoryStore,
    Orchestrator,
)
from orchestratex.exceptions import ProviderServerError
from orchestratex.orchestrator import RetryPolicy

from .. import helpers


def _answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        if request.model.name == "function:down":
            raise ProviderServerError("the judge's server is down", status_code=503)
        return json.dumps({"score": 9, "feedback": "fine"})
    return "an answer " * 400


@pytest.mark.parametrize("where", ["session", "run"])  # the budget held in the store, or by the run alone
async def test_the_spare_judge_is_paid_from_what_the_failed_judge_did_not_spend(where: str) -> None:
    store = MemoryStore()
    async with Orchestrator(
        providers=[FunctionProvider(_answer)],
        catalog=helpers.catalog("writer", "down", "spare", quality={"writer": 9.0, "down": 8.0, "spare": 7.9}),
        router=BayesianRouter(explore=False),
        evaluator=LLMJudgeEvaluator(panel_size=1, min_quality=None),
        judges=["function:down", "function:spare"],
        store=store,
        retry=RetryPolicy(max_attempts=1),
    ) as orchestrator:
        session = await orchestrator.create_session("alice", cost_limit=0.003 if where == "session" else None)
        result = await orchestrator.run(
            "Name a prime",
            session=session,
            max_iterations=1,
            max_output_tokens=300,
            cost_limit=0.003 if where == "run" else None,
        )
        stored = await store.get_session(session.id)
    doc = result.orchestration
    assert result.status == "completed" and doc.stop_reason == "threshold", doc.error
    [it] = doc.iterations
    assert it.evaluation is not None
    assert [(v.judge_model, v.score) for v in it.evaluation.verdicts] == [
        ("function:down", None),
        ("function:spare", 9),
    ]
    assert doc.total_cost <= 0.003 and stored.reserved_cost == 0
    assert stored.total_cost == pytest.approx(doc.total_cost, abs=1e-12)
