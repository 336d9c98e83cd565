"""What a judge writes, read through a run: a score on another scale is converted, a score that is not one is
the judge's failure (never a silently wrong score)."""

from __future__ import annotations

import json

import pytest

from orchestratex import FunctionProvider, GenerationRequest, LLMJudgeEvaluator, Orchestrator

from ..helpers import NO_WAIT, catalog


def judged_by(verdict: str) -> Orchestrator:
    def answer(request: GenerationRequest) -> str:
        return verdict if request.purpose == "judge" else "an answer"

    return Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=catalog("a", "b"),
        evaluator=LLMJudgeEvaluator(),
        retry=NO_WAIT,
    )


@pytest.mark.parametrize(
    ("score", "read"),
    [("4/5", 8.0), ("8,5", 8.5), ("85%", 8.5), ("8.5 out of 10", 8.5), ("3/4", 7.5)],
)
async def test_a_judges_score_is_read_on_the_scale_it_says(score: str, read: float) -> None:
    result = await judged_by(json.dumps({"score": score, "feedback": "fine"})).run("Hello", max_iterations=1)
    assert result.status == "completed"
    assert result.final_score == read
    (verdict,) = result.orchestration.iterations[0].evaluation.verdicts  # type: ignore[union-attr]
    assert verdict.score == read and verdict.error is None


@pytest.mark.parametrize(
    ("score", "error"),
    [
        ("4 out of 5 stars", "judge score '4 out of 5 stars' is not a number from 0 to 10"),
        ("1,000", "judge score '1,000' is ambiguous"),
        ("-2", "judge score '-2' is outside 0–10"),
        (True, "judge score true is not a number from 0 to 10"),
    ],
)
async def test_a_score_that_is_not_one_fails_the_verdict(score: object, error: str) -> None:
    result = await judged_by(json.dumps({"score": score, "feedback": "fine"})).run("Hello", max_iterations=1)
    assert result.status == "failed" and result.orchestration.stop_reason == "error"
    assert result.final_score is None
    it = result.orchestration.iterations[0]
    assert it.evaluation is None and it.phase == "failed"
    assert error in (result.orchestration.error or "") and any(error in e for e in it.errors)
