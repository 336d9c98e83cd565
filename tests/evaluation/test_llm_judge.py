"""LLMJudgeEvaluator on its own: judge choice, concurrency, failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from unittest.mock import AsyncMock, MagicMock

import pytest
from pydantic import ValidationError

from orchestratex import (
    EvaluationTask,
    Generation,
    GenerationRequest,
    IsotonicCalibration,
    LLMJudgeEvaluator,
    ModelCatalog,
    ModelProfile,
)
from orchestratex.evaluation._base import RunJudgeCall
from orchestratex.exceptions import BudgetExceeded, EvaluationError, ProviderTimeout, UserError

CATALOG = ModelCatalog(
    [
        ModelProfile(name="openai:gen", cost_per_1k_tokens=0.01, quality=9),
        ModelProfile(name="openai:cheap", cost_per_1k_tokens=0.0001, quality=7),
        ModelProfile(name="anthropic:good", cost_per_1k_tokens=0.005, quality=9),
        ModelProfile(name="gemini:ok", cost_per_1k_tokens=0.001, quality=8),
    ]
)


def task(call: object, judges: list[str] | None = None) -> EvaluationTask:
    return EvaluationTask(
        prompt="Write a haiku",
        domain="writing",
        generating_model="openai:gen",
        judges=[CATALOG.get(n) for n in (judges or [m.name for m in CATALOG])],
        call=call,  # type: ignore[arg-type]
    )


async def test_never_picks_the_generator_and_prefers_other_providers() -> None:
    evaluator = LLMJudgeEvaluator(panel_size=2)
    chosen = [m.name for m in evaluator.choose_judges(task(None))]
    assert "openai:gen" not in chosen
    assert all(not name.startswith("openai:") for name in chosen)


async def test_panel_runs_concurrently() -> None:
    running, peak = 0, 0

    async def call(model: ModelProfile, request: GenerationRequest) -> Generation:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        assert request.json_output and request.purpose == "judge"
        return Generation(text=json.dumps({"score": 8, "feedback": model.name}), cost=0.001)

    evaluation = await LLMJudgeEvaluator(panel_size=3).evaluate(task(call), Generation(text="answer"))
    assert peak == 3
    assert evaluation.score == 8 and evaluation.cost == 0.003
    assert len(evaluation.judge_models) == 3


async def test_all_judges_failing_is_an_evaluation_error() -> None:
    async def call(model: ModelProfile, request: GenerationRequest) -> Generation:
        raise ProviderTimeout("slow", model=model.name)

    with pytest.raises(EvaluationError, match="no judge produced a verdict"):
        await LLMJudgeEvaluator(panel_size=2).evaluate(task(call), Generation(text="answer"))


async def test_no_affordable_judge_is_budget_exceeded() -> None:
    async def call(model: ModelProfile, request: GenerationRequest) -> Generation:
        raise BudgetExceeded("no money")

    with pytest.raises(BudgetExceeded):
        await LLMJudgeEvaluator().evaluate(task(call), Generation(text="answer"))


async def test_no_eligible_judge() -> None:
    with pytest.raises(EvaluationError, match="no judge available"):
        await LLMJudgeEvaluator().evaluate(task(None, judges=["openai:gen"]), Generation(text="answer"))


def test_pinned_judges_by_alias_or_name() -> None:
    evaluator = LLMJudgeEvaluator(panel_size=2, judges=["gemini:ok", "openai:gen"])
    assert [m.name for m in evaluator.choose_judges(task(None))] == ["gemini:ok"]


def test_simulated_judges_prefer_another_maker() -> None:
    sim = ModelCatalog.default().simulated()
    generator = sim.get("anthropic:claude-haiku-5-5")
    etask = EvaluationTask(
        prompt="x",
        domain="coding",
        generating_model=generator.name,
        generator=generator,
        judges=[m for m in sim if m.name != generator.name],
        call=None,  # type: ignore[arg-type]
    )
    chosen = LLMJudgeEvaluator(panel_size=2).choose_judges(etask)
    assert all(not m.name.startswith("sim:claude") for m in chosen)


def recording_judge() -> tuple[
    list[GenerationRequest], Callable[[ModelProfile, GenerationRequest], Awaitable[Generation]]
]:
    """A judge call that scores every answer 8, and the list of the requests it was sent."""
    sent: list[GenerationRequest] = []

    async def call(model: ModelProfile, request: GenerationRequest) -> Generation:
        sent.append(request)
        return Generation(text=json.dumps({"score": 8, "feedback": "fine"}))

    return sent, call


async def test_a_request_built_beforehand_is_sent_once_and_only_for_its_own_answer() -> None:
    sent, call = recording_judge()
    evaluator = LLMJudgeEvaluator(judges=["gemini:ok"])
    judged = task(call, ["gemini:ok"])
    judge = CATALOG.get("gemini:ok")
    built = evaluator.build_request(judged, judge, "answer")  # as the orchestrator does, to price the judge
    await evaluator.evaluate(judged, Generation(text="answer"))
    await evaluator.evaluate(judged, Generation(text="answer"))
    assert sent[0] is built and sent[1] is not built and sent[1] == built
    evaluator.build_request(judged, judge, "another answer")
    await evaluator.evaluate(judged, Generation(text="answer"))
    assert sent[2] == built
    evaluator.build_request(replace(judged, prompt="Write a sonnet"), judge, "answer")  # another task
    await evaluator.evaluate(judged, Generation(text="answer"))
    assert sent[3] == built and "haiku" in sent[3].messages[-1].content


async def test_a_panels_requests_built_beforehand_are_each_sent_once_around_one_user_message() -> None:
    sent, call = recording_judge()
    evaluator = LLMJudgeEvaluator(panel_size=2, judges=["gemini:ok", "anthropic:good"])
    judged = task(call, ["gemini:ok", "anthropic:good"])
    built = {
        name: evaluator.build_request(judged, CATALOG.get(name), "answer") for name in ("gemini:ok", "anthropic:good")
    }
    assert built["gemini:ok"].messages[1] is built["anthropic:good"].messages[1]  # the user message is built once
    await evaluator.evaluate(judged, Generation(text="answer"))
    assert sorted(map(id, sent)) == sorted(map(id, built.values()))
    await evaluator.evaluate(judged, Generation(text="answer"))  # built again, equal, never the ones sent
    assert not {id(r) for r in sent[2:]} & {id(r) for r in built.values()}
    assert {r.model.name: r for r in sent[2:]} == built


async def test_a_request_built_for_a_smaller_cap_or_another_rubric_is_not_sent() -> None:
    sent, call = recording_judge()
    evaluator = LLMJudgeEvaluator(judges=["gemini:ok"])
    judged = task(call, ["gemini:ok"])
    judge = CATALOG.get("gemini:ok")
    evaluator.build_request(replace(judged, max_output_tokens=5), judge, "answer")
    await evaluator.evaluate(judged, Generation(text="answer"))
    assert sent[-1].max_output_tokens == 512
    evaluator.build_request(judged, judge, "answer")
    evaluator.rubric = "Score it."
    await evaluator.evaluate(judged, Generation(text="answer"))
    assert sent[-1].messages[0].content == "Score it."


class CappingCall(RunJudgeCall):
    """A judge call that says the cap it would give each judge's request (as the orchestrator's does), and records
    the verdicts it is told could not be read."""

    def __init__(self, cap: int, verdict: str = json.dumps({"score": 8, "feedback": "ok"})) -> None:
        self.cap, self.verdict = cap, verdict
        self.requests: list[GenerationRequest] = []
        self.unread: list[tuple[str, str]] = []

    def judge_cap(self, judge: ModelProfile) -> int:
        return self.cap

    def unreadable(self, judge: ModelProfile, generation: Generation) -> str | None:
        self.unread.append((judge.name, generation.text))
        return " (set aside)"

    async def __call__(self, judge: ModelProfile, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        return Generation(text=self.verdict)


class DuckCappingCall:
    """A call of its own with methods of the same names, not a `RunJudgeCall`: asked nothing."""

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    def judge_cap(self, judge: ModelProfile) -> int:
        raise AssertionError("asked its cap")

    def unreadable(self, judge: ModelProfile, generation: Generation) -> str | None:
        raise AssertionError("told of an unreadable verdict")

    async def __call__(self, judge: ModelProfile, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        return Generation(text="no verdict here")


async def test_a_request_is_built_at_the_cap_the_call_says() -> None:
    """With a call that says its cap, the request is `build_request`'s at that cap (every field set alike); above the
    evaluator's own cap, or with a call that says none, it is `build_request`'s."""
    evaluator = LLMJudgeEvaluator(max_output_tokens=300)
    for cap, expected in ((120, 120), (1000, 300)):
        call = CappingCall(cap)
        etask = task(call, ["anthropic:good"])
        await evaluator.evaluate(etask, Generation(text="answer"))
        [sent] = call.requests
        built = evaluator.build_request(etask, CATALOG.get("anthropic:good"), "answer")
        assert sent.max_output_tokens == expected
        assert sent.model_dump() == {**built.model_dump(), "max_output_tokens": expected}
        assert sent.model_fields_set == built.model_fields_set
        assert sent.messages[1] is built.messages[1]  # (one user message for the task and answer)


async def test_a_run_call_is_told_of_a_verdict_it_could_not_read() -> None:
    """`RunJudgeCall.unreadable` hears of each verdict that could not be read, and what it says ends the error."""
    call = CappingCall(100, verdict="no verdict here")
    with pytest.raises(EvaluationError, match=r"\(set aside\)"):
        await LLMJudgeEvaluator().evaluate(task(call, ["anthropic:good"]), Generation(text="answer"))
    assert call.unread == [("anthropic:good", "no verdict here")]


async def test_a_call_that_is_no_run_call_is_asked_neither_its_cap_nor_told_of_an_unreadable_verdict() -> None:
    call = DuckCappingCall()
    with pytest.raises(EvaluationError, match="no judge produced a verdict") as raised:
        await LLMJudgeEvaluator().evaluate(task(call, ["anthropic:good"]), Generation(text="answer"))
    assert "set aside" not in str(raised.value)
    [sent] = call.requests
    assert sent.max_output_tokens == 512


async def test_a_mock_call_is_sent_the_evaluators_request_and_asked_nothing_else() -> None:
    """A test's `AsyncMock` (or `MagicMock`) call answers any attribute: its made-up `judge_cap` was called (a
    coroutine compared with an int: TypeError) instead of the evaluator's request being sent as built."""
    verdict = Generation(text=json.dumps({"score": 8, "feedback": "ok"}))
    for call in (AsyncMock(return_value=verdict), MagicMock(side_effect=[asyncio.sleep(0, verdict)])):
        etask = task(call, ["anthropic:good"])
        evaluation = await LLMJudgeEvaluator().evaluate(etask, Generation(text="answer"))
        assert evaluation.score == 8
        [(judge, sent), _] = call.call_args
        assert sent.model_dump() == LLMJudgeEvaluator().build_request(etask, judge, "answer").model_dump()
        assert [c[0] for c in call.mock_calls] == [""]  # (only the call itself)


async def test_a_task_built_by_hand_with_an_invalid_domain_is_refused_as_before() -> None:
    etask = replace(task(CappingCall(100), ["anthropic:good"]), domain=None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="domain"):
        await LLMJudgeEvaluator().evaluate(etask, Generation(text="answer"))


async def test_a_panel_that_fails_whole_is_replaced_once_by_judges_not_asked_yet() -> None:
    asked: list[str] = []

    async def call(model: ModelProfile, request: GenerationRequest) -> Generation:
        asked.append(model.name)
        if len(asked) <= 2:
            raise ProviderTimeout("slow", model=model.name)
        return Generation(text=json.dumps({"score": 7, "feedback": "ok"}), cost=0.001)

    evaluation = await LLMJudgeEvaluator(panel_size=2).evaluate(task(call), Generation(text="answer"))
    assert len(asked) == 3 and len(set(asked)) == 3 and "openai:gen" not in asked
    assert evaluation.score == 7 and evaluation.judge_models == [asked[2]]
    assert [v.score for v in evaluation.verdicts] == [None, None, 7]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"panel_size": 2.5}, r"^panel_size is a whole number of judges .* got 2.5$"),
        ({"panel_size": True}, r"^panel_size is a whole number"),
        ({"min_quality": float("nan")}, r"^min_quality must be a quality from 0 to 10"),
        ({"min_quality": 11}, r"^min_quality must be a quality from 0 to 10"),
        ({"judges": "gpt4"}, r"^judges is a list of model names: write judges=\['gpt4'\]$"),
        ({"judges": []}, r"^judges must be a non-empty list of model names"),
        ({"max_output_tokens": 0}, r"^max_output_tokens is a whole number of tokens each judge may write"),
        ({"cost_sensitivity": -1}, r"^cost_sensitivity must be a finite number >= 0"),
        ({"rubric": " "}, r"^rubric must be the judges' instructions"),
    ],
)
def test_a_bad_setting_is_refused_when_the_evaluator_is_made(options: dict[str, object], message: str) -> None:
    """They were taken, and met in a run: `panel_size=2.5` raised a `TypeError` from a slice, `max_output_tokens=0`
    a pydantic error once the answer was paid for, `min_quality=nan` left no judge, `judges="gpt4"` pinned 'g'."""
    with pytest.raises(UserError, match=message):
        LLMJudgeEvaluator(**options)  # type: ignore[arg-type]


def test_a_calibration_that_is_not_one_is_refused_when_given() -> None:
    """The dict `to_dict()` saved (docs/evaluation.md reads it back with `calibration_from_dict`), or the class, was
    taken: the first evaluation, its answer already paid for, failed with "'dict' object has no attribute
    'probability'" and the run was stored `failed`."""
    calibration = IsotonicCalibration.fit([9, 8, 3, 2], [1, 1, 0, 0])
    with pytest.raises(
        UserError, match=r"^calibration takes a calibration, not the dict its to_dict\(\) saved: read it"
    ):
        LLMJudgeEvaluator(calibration=calibration.to_dict())  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^calibration=IsotonicCalibration is the class, not a calibration: fit one"):
        LLMJudgeEvaluator(calibration=IsotonicCalibration)  # type: ignore[arg-type]
    evaluator = LLMJudgeEvaluator(calibration=calibration)
    with pytest.raises(UserError, match=r"^calibration must be a ScoreCalibration .* or None; got str 'isotonic'$"):
        evaluator.calibration = "isotonic"  # type: ignore[assignment]
    assert evaluator.calibration is calibration
    evaluator.calibration = None
    assert evaluator.calibration is None and "calibration" not in repr(evaluator)


def test_a_setting_changed_later_is_checked_too() -> None:
    evaluator = LLMJudgeEvaluator(panel_size=3)
    with pytest.raises(UserError, match="panel_size"):
        evaluator.panel_size = 0
    assert evaluator.panel_size == 3


async def test_a_judges_feedback_under_another_name_reaches_the_next_attempt() -> None:
    # a judge answering `{"score": 4, "reason": "…"}` (not the rubric's "feedback") was read as a score without
    # feedback: the evaluation's feedback was "" and the refining attempt was not told what to fix
    from orchestratex import FunctionProvider
    from orchestratex.testing.runs import judged_orchestrator

    asked: list[str] = []

    def answer(request: GenerationRequest) -> str:
        asked.append(json.dumps([m.content for m in request.messages]))
        return "Lyon."

    model = ModelProfile(name="writer:model", cost_per_1k_tokens=0.001, quality=8)
    orchestrator = judged_orchestrator(
        FunctionProvider(answer, name="writer"), model, verdict='{"score": 4, "Reason": "Paris is the capital."}'
    )
    result = await orchestrator.run("What is the capital of France?", max_iterations=2)
    evaluations = [i.evaluation for i in result.orchestration.iterations if i.evaluation is not None]
    assert evaluations and evaluations[0].feedback == "Paris is the capital."
    assert len(asked) == 2 and "Paris is the capital." in asked[1] and "Paris is the capital." not in asked[0]
