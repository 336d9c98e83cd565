"""What an evaluator of one's own spends through `task.call` is its evaluation's cost, as the default's is."""

from __future__ import annotations

from orchestratex import (
    Evaluation,
    EvaluationCompleted,
    EvaluationTask,
    Evaluator,
    Event,
    FunctionProvider,
    Generation,
    GenerationRequest,
    Message,
    Orchestrator,
)
from orchestratex.records import JudgeVerdict

from ..helpers import NO_WAIT, catalog


class _OneJudge(Evaluator):
    """Asks the first judge offered for a plain score, and reports it as docs/evaluation.md's example does: without a
    cost (`MustCompile` calls no model, so its evaluations cost nothing)."""

    def __init__(self, reported: float = 0.0) -> None:
        self.reported = reported

    async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
        judge = task.judges[0]
        request = GenerationRequest(
            model=judge,
            messages=[Message(role="user", content=f"Score this answer from 0 to 10: {response.text}")],
            purpose="judge",
            max_output_tokens=20,
        )
        verdict = await task.call(judge, request)
        return Evaluation(
            score=float(verdict.text), feedback="be more precise", judge_models=[judge.name], cost=self.reported
        )


def _answer(request: GenerationRequest) -> str:
    return "4" if request.purpose == "judge" else "an answer " * 20


async def test_the_judge_calls_an_evaluator_of_ones_own_made_are_its_evaluations_cost() -> None:
    # Before: the evaluation said $0 (what the evaluator returned), so the `evaluation_completed` event, the stored
    # iteration and the routers' judging cost left out judge calls counted in `total_cost`.
    events: list[Event] = []
    for reported in (0.0, 123.0):  # (nothing said, and a made-up figure: what was paid through `task.call` wins)
        orch = Orchestrator(
            providers=[FunctionProvider(_answer)],
            catalog=catalog("a", "b", "c"),
            evaluator=_OneJudge(reported),
            retry=NO_WAIT,
        )
        result = await orch.run("What is two plus two?", max_iterations=2, on_event=events.append)
        assert result.status == "completed" and result.iterations == 2, result.error
        judged = [it.evaluation for it in result.orchestration.iterations]
        assert all(e is not None and e.cost > 0 for e in judged)
        costs = [it.cost + (it.evaluation.cost if it.evaluation else 0.0) for it in result.orchestration.iterations]
        assert abs(sum(costs) - result.total_cost) < 1e-12
        said = [e.cost for e in events if isinstance(e, EvaluationCompleted) and e.orchestration_id == result.id]
        assert said == [e.cost for e in judged if e is not None]
        await orch.aclose()


async def test_an_evaluator_that_calls_no_model_costs_nothing() -> None:
    class Fixed(Evaluator):
        async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
            verdict = JudgeVerdict(judge_model="rubric", score=5.0, feedback="ok")
            return Evaluation(score=5.0, feedback="ok", judge_models=["rubric"], verdicts=[verdict])

        def panel_size_for(self, judges: object) -> int:
            return 0

    orch = Orchestrator(providers=[FunctionProvider(_answer)], catalog=catalog("a"), evaluator=Fixed())
    result = await orch.run("What is two plus two?", max_iterations=1)
    [iteration] = result.orchestration.iterations
    assert iteration.evaluation is not None and iteration.evaluation.cost == 0.0
    assert result.total_cost == iteration.cost
    await orch.aclose()


async def test_a_request_an_evaluator_of_ones_own_sends_through_task_call_is_a_judge_call() -> None:
    # Before: a request built as `GenerationRequest(model=judge, messages=...)` (purpose "generate", the default)
    # reached the provider as a generation, though counted as a judge call: a test double answering verdicts on
    # `request.purpose == "judge"` (as docs/testing.md writes one) answered it with an answer, and the adapters' judge
    # settings (a thinking model asked not to think its cap away, a verdict kept whole) were not applied.
    purposes: list[str] = []

    def answer(request: GenerationRequest) -> str:
        purposes.append(request.purpose)
        return "7" if request.purpose == "judge" else "an answer"

    class Plain(Evaluator):
        async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
            judge = task.judges[0]
            request = GenerationRequest(model=judge, messages=[Message(role="user", content=f"Score: {response.text}")])
            verdict = await task.call(judge, request)
            return Evaluation(score=float(verdict.text), feedback="ok", judge_models=[judge.name])

    orch = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b"), evaluator=Plain())
    result = await orch.run("What is two plus two?", max_iterations=1)
    assert result.status == "completed" and result.final_score == 7.0, result.error
    assert purposes == ["generate", "judge"]

    class Reference(Evaluator):  # asks the judge for an answer of its own to compare with: sent as it says
        async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
            judge = task.judges[0]
            messages = [Message(role="user", content=task.prompt)]
            reference = await task.call(judge, GenerationRequest(model=judge, messages=messages, purpose="generate"))
            same = reference.text == response.text
            return Evaluation(score=9.0 if same else 2.0, feedback="compared", judge_models=[judge.name])

    purposes.clear()
    orch.evaluator = Reference()
    result = await orch.run("What is two plus two?", max_iterations=1)
    assert result.status == "completed" and result.final_score == 9.0, result.error
    assert purposes == ["generate", "generate"]
    await orch.aclose()
