"""A provider that rejects its API key (a 401) is asked no more in the run: a wrong OPENAI_API_KEY had each of the
catalog's OpenAI models asked in turn, each answering the same 401. Other providers' models are still asked."""

from __future__ import annotations

import pytest

from orchestratex import (
    BayesianRouter,
    Evaluation,
    EvaluationTask,
    Evaluator,
    FunctionProvider,
    Generation,
    GenerationRequest,
    LLMJudgeEvaluator,
    Message,
    Orchestrator,
)
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import AuthenticationError, EvaluationError

from ..helpers import NO_WAIT, catalog

_REFUSED = "keyed rejected the API key (401): Incorrect API key provided: sk-***; set KEYED_API_KEY to a valid key"


def _keyed(*names: str) -> list[ModelProfile]:
    """Models of the provider whose key is refused, of the best quality: the router's first picks."""
    return [
        ModelProfile(
            name=f"keyed:{n}", input_cost_per_1k=0.001, output_cost_per_1k=0.001, context_window=100_000, quality=9.9
        )
        for n in names
    ]


def _orchestrator(
    asked: list[tuple[str, str]], models: list[ModelProfile], status: int = 401, **kwargs: object
) -> Orchestrator:
    def fn(request: GenerationRequest) -> str:
        asked.append((request.model.name, request.purpose))
        if request.model.provider == "keyed":
            raise AuthenticationError(_REFUSED, status_code=status, provider="keyed", model=request.model.name)
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "forty-two"

    return Orchestrator(
        providers=[FunctionProvider(fn), FunctionProvider(fn, name="keyed")],
        catalog=ModelCatalog(models),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("status", [401, 400], ids=["401", "gemini-400-API_KEY_INVALID"])
async def test_a_refused_key_is_tried_once_and_the_other_provider_answers_and_judges(status: int) -> None:
    asked: list[tuple[str, str]] = []
    models = [*_keyed("x", "y", "z"), *catalog("a", "b", quality={"a": 7.0, "b": 6.0})]
    orch = _orchestrator(asked, models, status, evaluator=LLMJudgeEvaluator(panel_size=2))
    result = await orch.run("What is six times seven?", max_iterations=2, evaluation_threshold=9.5)
    assert result.status == "completed" and result.final_model is not None
    assert result.final_model.startswith("function:")
    keyed = [call for call in asked if call[0].startswith("keyed:")]
    assert len(keyed) == 1, asked  # one call, then none of its models answers nor judges
    assert [e.split(": ", 1)[0] for it in result.orchestration.iterations for e in it.errors] == [keyed[0][0]]
    await orch.aclose()


async def test_a_run_of_one_provider_whose_key_is_refused_fails_after_one_call_saying_so() -> None:
    asked: list[tuple[str, str]] = []
    result = await _orchestrator(asked, _keyed("x", "y", "z")).run("What is six times seven?")
    assert result.status == "failed" and len(asked) == 1
    assert result.orchestration.error == (
        "1 model failed in this run; the other models of a provider that rejected the API key were not asked; the"
        f" last failure: {asked[0][0]}: AuthenticationError: {_REFUSED}"
    )


async def test_a_judge_whose_key_is_refused_is_followed_by_a_judge_of_another_provider() -> None:
    """The author's answer went to a judge of another family first, whose key was refused: the spare judge asked then
    was the same provider's next model (refused as well, a call more), and the run failed "no judge produced a
    verdict" though a model of the author's provider could judge."""
    asked: list[tuple[str, str]] = []
    models = [*_keyed("x", "y"), *catalog("a", "b", quality={"a": 7.0, "b": 6.0})]
    orch = _orchestrator(asked, models, evaluator=LLMJudgeEvaluator(panel_size=1))
    result = await orch.run("What is six times seven?", max_iterations=1, preferred_models=["function:a"])
    assert result.status == "completed" and result.final_model == "function:a", result.orchestration.error
    judges = [name for name, purpose in asked if purpose == "judge"]
    assert judges[0].startswith("keyed:") and judges[1:] == ["function:b"], asked
    await orch.aclose()


class _OneAfterAnother(Evaluator):
    """An evaluator of a user's own: asks the judges offered one at a time until one answers, skipping those the
    run has ruled out since the task was made (`EvaluationTask.may_judge`)."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
        for judge in task.judges:
            if not task.may_judge(judge):
                self.skipped.append(judge.name)
                continue
            request = GenerationRequest(model=judge, messages=[Message(role="user", content=response.text)])
            try:
                await task.call(judge, request)
            except AuthenticationError:
                continue
            return Evaluation(score=9.0, feedback="ok", judge_models=[judge.name])
        raise EvaluationError("no judge answered")


async def test_a_custom_evaluator_reads_from_the_task_which_judges_are_ruled_out_since_it_was_made() -> None:
    """The judges a run rules out while an evaluation is under way (a provider that rejected its API key) are told to
    a custom evaluator by `EvaluationTask.may_judge`, a declared field: it was an undocumented attribute of the
    orchestrator's `task.call`, found by `getattr`, and an evaluator of one's own asked the same provider's next model
    (refused again, a call more)."""
    asked: list[tuple[str, str]] = []
    models = [*_keyed("x", "y"), *catalog("a", "b", quality={"a": 7.0, "b": 6.0})]
    evaluator = _OneAfterAnother()
    orch = _orchestrator(asked, models, evaluator=evaluator)
    result = await orch.run("What is six times seven?", max_iterations=1, preferred_models=["function:a"])
    assert result.status == "completed" and result.final_model == "function:a", result.orchestration.error
    judges = [name for name, purpose in asked if purpose == "judge"]
    assert judges == ["keyed:x", "function:b"] and evaluator.skipped == ["keyed:y"], asked
    await orch.aclose()
