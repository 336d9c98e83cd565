"""The `Evaluator` contract: score an answer from 0 to 10 with feedback for the next attempt."""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from .._plain import as_count
from ..catalog import ModelProfile
from ..exceptions import UserError
from ..providers import Generation, GenerationRequest, Message
from ..records import Evaluation

__all__ = ["EvaluationTask", "Evaluator", "JudgeCall", "RunJudgeCall"]

JudgeCall = Callable[[ModelProfile, GenerationRequest], Awaitable[Generation]]
"""Calls a judge model through the orchestrator: budget reserved, retries and circuit breaker applied,
`Generation.cost` filled in."""


class RunJudgeCall:
    """The `JudgeCall` a run gives its evaluator (`EvaluationTask.call`), which also says the output cap it gives each
    judge's request and hears of a verdict that could not be read. `LLMJudgeEvaluator` asks these of a call of this
    class only: a call of your own (a function, a test's `AsyncMock`) is sent the requests as built and asked nothing
    else. (A plain class, not an ABC: `isinstance` of it is asked at every judge's call, ten times faster.)"""

    __slots__ = ()

    def __call__(self, judge: ModelProfile, request: GenerationRequest) -> Awaitable[Generation]:
        """Call `judge` with `request` (a `JudgeCall`)."""
        raise NotImplementedError(f"{type(self).__name__}.__call__")

    def judge_cap(self, judge: ModelProfile) -> int:
        """The output cap the call gives `judge`'s request (a longer one is cut to it on its way): the evaluator
        builds the request at it rather than have it copied."""
        raise NotImplementedError(f"{type(self).__name__}.judge_cap")

    def unreadable(self, judge: ModelProfile, generation: Generation) -> str | None:
        """`judge` answered `generation`, whose verdict could not be read: what the verdict's error adds (the run
        sets the judge aside), or None."""
        raise NotImplementedError(f"{type(self).__name__}.unreadable")


def _every_judge(judge: ModelProfile) -> bool:
    """`EvaluationTask.may_judge` of a task made by hand: every judge offered may judge."""
    return True


@dataclass(frozen=True, slots=True)
class EvaluationTask:
    """What an evaluator gets besides the answer."""

    prompt: str
    """The user's original prompt (the answer is judged against it, not against a refinement prompt)."""
    domain: str
    """The task's domain."""
    generating_model: str
    """The full name of the model that wrote the answer (it may not judge it)."""
    judges: Sequence[ModelProfile]
    """Models eligible as judges: never the generating model; active, affordable, circuit closed."""
    call: JudgeCall
    """Calls a judge through the orchestrator (`await task.call(judge, request)`): its budget reserved, retries and
    circuit breaker applied, its cost counted."""
    context: str | None = None
    """The extra context the run was given, if any."""
    iteration: int = 1
    """The attempt whose answer is judged (1-based)."""
    max_output_tokens: int = 512
    """The most a judge may write."""
    generator: ModelProfile | None = None
    """The generating model's profile, when known (judges from another maker are preferred)."""
    extra: dict[str, object] = field(default_factory=dict)
    """Free-form data for an evaluator of your own (the orchestrator leaves it empty)."""
    history: Sequence[Message] = ()
    """The conversation before `prompt` (system messages and earlier turns), when there is one."""
    may_judge: Callable[[ModelProfile], bool] = _every_judge
    """Whether a model of `judges` may still judge now: False for one ruled out since the task was made (its provider
    rejected the API key to another judge, its circuit opened, its verdict could not be read). Ask it before calling a
    judge after others failed (a second panel): `call` would be refused or fail the same way, and paid for."""


class Evaluator(ABC):
    """Scores answers. The orchestrator stops once the score reaches its threshold."""

    @abstractmethod
    async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
        """Score `response` to `task` (0–10) with feedback; raise `EvaluationError` when no verdict can be had."""

    def __repr__(self) -> str:
        """Its class, the judges it pins and its settings (`LLMJudgeEvaluator(panel_size=1, min_quality=7.5, …)`),
        not `<… object at 0x…>`: what a notebook shows for `orchestrator.evaluator`."""
        from ..routing._knobs import knob_settings

        pinned = getattr(self, "pinned", None)
        calibration = getattr(self, "calibration", None)
        shown = knob_settings(self) + (f", judges={list(pinned)!r}" if pinned else "")
        shown += f", calibration={type(calibration).__name__}(…)" if calibration is not None else ""
        return f"{type(self).__name__}({shown.removeprefix(', ')})"

    def panel_size_for(self, judges: Sequence[ModelProfile]) -> int:
        """How many judge calls one evaluation makes (used to keep budget for judging). 0 for an evaluator that
        calls no model (a rubric, an exact match): nothing is kept for judging, and a model needs no other to
        judge it."""
        return 1

    def build_request(self, task: EvaluationTask, judge: ModelProfile, answer: str) -> GenerationRequest:
        """The request `judge` would get for `answer`: the orchestrator prices it and checks it fits the judge's
        context window before choosing the judges it offers. Optional: without it an estimate is used."""
        raise NotImplementedError(f"{type(self).__name__}.build_request")


def checked_panel_size(evaluator: Evaluator, judges: Sequence[ModelProfile]) -> int:
    """`evaluator.panel_size_for(judges)` when it is a count of judge calls (an int >= 0): `UserError` naming the
    evaluator otherwise. (One whose `return` was forgotten failed the run with "'<=' not supported between instances
    of 'NoneType' and 'int'", 1.5 with "slice indices must be integers", the run stored failed; -1 and True passed.)"""
    size = evaluator.panel_size_for(judges)
    count = as_count(size)
    if count is None:
        raise UserError(
            f"{type(evaluator).__name__}.panel_size_for returned {size!r}: how many judge models one evaluation "
            "calls, a whole number >= 0 (0 for an evaluator that calls none; the default is 1)"
        )
    return count


@functools.cache
def _builtin_evaluate() -> object:
    from .judge import LLMJudgeEvaluator  # (the built-in evaluator imports this module)

    return LLMJudgeEvaluator.evaluate


def checked_evaluation(evaluator: Evaluator, evaluation: object) -> Evaluation:
    """`evaluation`, what `evaluator.evaluate` returned, when it is a valid `Evaluation`: `TypeError` when it is not
    one, `ValueError` (naming the field) when it is one with an invalid field — built with `model_construct`, or
    changed after it was built — rather than a score outside 0–10 stored, or a record the store cannot read back.
    (What the built-in `LLMJudgeEvaluator.evaluate` returns is built validated, and not checked again.)"""
    if type(evaluation) is Evaluation and type(evaluator).evaluate is _builtin_evaluate():
        return evaluation
    name = type(evaluator).__name__
    if not isinstance(evaluation, Evaluation):
        raise TypeError(f"{name}.evaluate returned {type(evaluation).__name__}, not an Evaluation")
    try:
        checked = Evaluation.model_validate(evaluation.model_dump())
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{name}.evaluate returned an invalid Evaluation: {where}: {err['msg']}") from None
    if not (math.isfinite(checked.cost) and checked.cost >= 0):
        raise ValueError(f"{name}.evaluate returned an invalid Evaluation: cost: {checked.cost} is not a cost")
    return checked
