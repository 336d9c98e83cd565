"""Who may judge an answer: the judges an evaluator pins are the only ones the orchestrator plans for, and a
judge call to the answer's author (or to a model that may not judge) is refused, whatever the evaluator."""

from __future__ import annotations

import json
from collections import Counter

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
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)

from ..helpers import NO_WAIT


def _catalog() -> ModelCatalog:
    return ModelCatalog(
        ModelProfile(
            name=f"function:m{i}",
            input_cost_per_1k=0.001 * (i + 1),
            output_cost_per_1k=0.001 * (i + 1),
            context_window=100_000,
            max_output_tokens=1000,
            quality=7.0 + i,  # m2 looks best: the router would pick it first
        )
        for i in range(3)
    )


class _Calls:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.provider = FunctionProvider(self.answer)

    def answer(self, request: GenerationRequest) -> str:
        self.calls.append((request.purpose, request.model.name))
        if request.purpose == "judge":
            return json.dumps({"score": 4, "feedback": "not yet"})
        return f"an answer by {request.model.name}"


async def test_a_model_pinned_as_the_only_judge_is_never_routed_to() -> None:
    # Before: m2 answered (paid for), then no judge could judge it and the run stopped with an error.
    calls = _Calls()
    orchestrator = Orchestrator(
        catalog=_catalog(),
        providers=[calls.provider],
        router=BayesianRouter(explore=False),
        evaluator=LLMJudgeEvaluator(judges=["function:m2"]),
        retry=NO_WAIT,
    )
    for i in range(3):
        result = await orchestrator.run(f"What is {i} + 2?", max_iterations=3, patience=5)
        assert result.stop_reason == "max_iterations", result.orchestration.error
        assert all(it.evaluation is not None for it in result.orchestration.iterations)
    generated = Counter(name for purpose, name in calls.calls if purpose == "generate")
    judged = Counter(name for purpose, name in calls.calls if purpose == "judge")
    assert "function:m2" not in generated
    assert set(judged) == {"function:m2"}
    await orchestrator.aclose()


class _AskTheAuthor(Evaluator):
    """A faulty evaluator: asks the model that wrote the answer (or `judge`) to judge it."""

    def __init__(self, judge: str | None = None) -> None:
        self.judge = judge

    async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
        assert task.generator is not None
        judge = task.generator if self.judge is None else next(j for j in task.judges if j.name == self.judge)
        request = GenerationRequest(
            model=judge, messages=[Message(role="user", content=response.text)], purpose="judge", max_output_tokens=50
        )
        await task.call(judge, request)
        return Evaluation(score=9, feedback="fine", judge_models=[judge.name])


async def test_a_judge_call_to_the_answers_author_is_refused() -> None:
    calls = _Calls()
    orchestrator = Orchestrator(
        catalog=_catalog(), providers=[calls.provider], evaluator=_AskTheAuthor(), retry=NO_WAIT
    )
    result = await orchestrator.run("What is 2 + 2?", max_iterations=2)
    assert result.stop_reason == "error"
    assert "never judges its own answer" in (result.orchestration.error or "")
    assert [p for p, _ in calls.calls] == ["generate"]  # the author was not asked to judge, nor paid for it
    await orchestrator.aclose()


async def test_a_judge_call_outside_the_judge_set_is_refused() -> None:
    calls = _Calls()
    catalog = _catalog()
    orchestrator = Orchestrator(
        catalog=catalog, providers=[calls.provider], router=BayesianRouter(explore=False), judges=["function:m0"]
    )

    class _AskAnother(Evaluator):
        async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
            outsider = next(m for m in catalog if m.name not in {task.generating_model, "function:m0"})
            request = GenerationRequest(model=outsider, messages=[Message(role="user", content="?")], purpose="judge")
            await task.call(outsider, request)
            return Evaluation(score=9, feedback="fine", judge_models=[outsider.name])

    orchestrator.evaluator = _AskAnother()
    result = await orchestrator.run("What is 2 + 2?", max_iterations=1)
    assert result.stop_reason == "error"
    assert "may not judge in this run" in (result.orchestration.error or "")
    assert [p for p, _ in calls.calls] == ["generate"]
    await orchestrator.aclose()


async def test_the_default_panel_still_judges_with_the_offered_judges() -> None:
    calls = _Calls()
    orchestrator = Orchestrator(
        catalog=_catalog(),
        providers=[calls.provider],
        router=BayesianRouter(explore=False),
        evaluator=LLMJudgeEvaluator(panel_size=2),
        retry=NO_WAIT,
    )
    result = await orchestrator.run("What is 2 + 2?", max_iterations=1)
    (it,) = result.orchestration.iterations
    assert it.evaluation is not None
    assert sorted(it.evaluation.judge_models) == sorted(m.name for m in orchestrator.catalog if m.name != it.model_name)
    await orchestrator.aclose()
