"""The default evaluator: a panel of LLM judges, never the generating model, aggregated by median."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from .._misspelt import refuse_misspelt
from .._seal import made
from ..catalog import ModelProfile, model_identity
from ..exceptions import BudgetExceeded, ContentFiltered, EvaluationError, OrchestrateXError, UserError
from ..providers import Generation, GenerationRequest, Message
from ..providers._base import TestSetupError
from ..records import Evaluation, JudgeVerdict
from ..routing._knobs import Knob, number, optional, whole
from ..usage import add_costs
from ._base import EvaluationTask, Evaluator, RunJudgeCall
from ._parse import parse_verdict
from .calibration import ScoreCalibration

__all__ = ["DEFAULT_RUBRIC", "LLMJudgeEvaluator"]

DEFAULT_RUBRIC = """\
You are a strict, fair reviewer. Judge how well the ANSWER fulfils the TASK.
Consider correctness first, then completeness, then clarity. 10 means nothing could be improved;
5 means usable with significant flaws; 0 means wrong or off-topic.
Reply with a single JSON object and nothing else:
{"score": <number from 0 to 10>, "feedback": "<the most important concrete improvements, in one or two sentences>"}"""


def _quality(name: str, value: Any) -> float:
    """A quality prior's floor: a finite number from 0 to 10."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not 0 <= value <= 10:
        raise UserError(f"{name} must be a quality from 0 to 10 (None: quality against price); got {value!r}")
    return float(value)


def _calibration(name: str, value: Any) -> ScoreCalibration | None:
    """None or a `ScoreCalibration` (`IsotonicCalibration`, `LogisticCalibration`, one of your own). The saved dict or
    the class was taken, and failed the first evaluation with an `AttributeError`, once its answer was paid for."""
    if value is None or isinstance(value, ScoreCalibration):
        return value
    if isinstance(value, Mapping):
        raise UserError(
            f"{name} takes a calibration, not the dict its to_dict() saved: read it back with "
            f"calibration_from_dict(saved) (from orchestratex.evaluation)"
        )
    if isinstance(value, type) and issubclass(value, ScoreCalibration):
        raise UserError(
            f"{name}={value.__name__} is the class, not a calibration: fit one with {value.__name__}.fit(scores, "
            "outcomes)"
        )
    raise UserError(
        f"{name} must be a ScoreCalibration (IsotonicCalibration.fit(scores, outcomes), LogisticCalibration.fit(...)) "
        f"or None; got {type(value).__name__} {value!r:.60}"
    )


_CONSTRUCTOR_ONLY = {
    "judges": "set `evaluator.pinned` (the judges `judges=` pins: a list of model names, or None to choose among all)"
}


def _pinned(judges: object) -> list[str] | None:
    """The judges' names `judges=` pins, or None for no pin."""
    if judges is None:
        return None
    if isinstance(judges, str):
        raise UserError(f"judges is a list of model names: write judges=[{judges!r}]")
    names = list(judges) if isinstance(judges, Sequence | set | frozenset | tuple) else None
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise UserError(f"judges must be a non-empty list of model names (or None to choose among all); got {judges!r}")
    return names


class LLMJudgeEvaluator(Evaluator):
    """Ask `panel_size` judge models to score the answer concurrently; the score is their median.

    Judges are picked among the eligible models the orchestrator offers (never the generating one,
    each fitting the budget and its context window): the **cheapest adequate panel** — models whose
    `quality` prior is at least `min_quality` (or, when none is, the best available), another maker
    than the generator's first, then the lowest expected cost of judging. `min_quality=None` picks the
    best quality for the price instead (the router's trade-off, with `cost_sensitivity`). Pass
    `judges=[...]` to pin them. One failing judge is tolerated as long as another one answers; when
    none does, a panel of the next judges offered (not asked yet) is asked once, and when none of them
    answers either, `EvaluationError` is raised (or `BudgetExceeded` when no judge fitted the budget).

    With a `calibration` (see `orchestratex.evaluation.calibration`), the evaluation's score is
    `10 × P(acceptable)` and `Evaluation.probability` says it, so the threshold means a probability.
    """

    panel_size = Knob(whole(1, "of judges asked for each verdict", 3))
    """How many judges score each answer (their median is the score)."""
    min_quality = Knob(optional(_quality))
    """The catalog `quality` a judge should have; the cheapest adequate judges are chosen. None: the best quality for
    the price."""
    cost_sensitivity = Knob(number("how much a judge's price weighs against its quality"))
    """With `min_quality=None`, score points given up for a 10x cheaper judge."""
    max_output_tokens = Knob(whole(1, "of tokens each judge may write", 512))
    """The most a judge may write for one verdict."""

    def __init__(
        self,
        *,
        panel_size: int = 1,
        judges: Sequence[str] | None = None,
        rubric: str = DEFAULT_RUBRIC,
        cost_sensitivity: float = 1.0,
        max_output_tokens: int = 512,
        min_quality: float | None = 7.5,
        calibration: ScoreCalibration | None = None,
    ) -> None:
        self.min_quality = min_quality
        self.calibration = calibration
        self.panel_size = panel_size
        self.pinned = _pinned(judges)
        """The judges `judges=` pins (names, aliases or bare model ids), or None to choose among every model allowed."""
        if not isinstance(rubric, str) or not rubric.strip():
            raise UserError(f"rubric must be the judges' instructions, a non-empty string; got {rubric!r}")
        self.rubric = rubric
        """The judges' instructions (the system message), `DEFAULT_RUBRIC` unless given."""
        self.cost_sensitivity = cost_sensitivity
        self.max_output_tokens = max_output_tokens
        self._system: Message | None = None
        """The rubric's system message, shared by every request (messages are immutable)."""
        self._built: _Built | None = None
        """The requests `build_request` made last, for one task and answer (the orchestrator builds each judge's
        request to check its window and price before the evaluation): `_judge` sends them rather than building
        them again, and builds the other judges' requests around the same user message."""

    def __setattr__(self, name: str, value: object) -> None:
        """A misspelt setting (`evaluator.panel_siz = 3`) is refused naming the one meant, and `judges` (the
        constructor's name for `pinned`) says so: each made an attribute nothing read. `pinned` is checked as
        `judges=` is. A subclass's own attributes are left alone."""
        if name == "pinned":
            value = _pinned(value)
        elif name[0] != "_" and type(self) is LLMJudgeEvaluator:
            refuse_misspelt(self, name, hints=_CONSTRUCTOR_ONLY)
        object.__setattr__(self, name, value)

    @property
    def calibration(self) -> ScoreCalibration | None:
        """Maps the judges' median score to P(acceptable) (the evaluation's score is then 10 × it); None: raw scores."""
        return self._calibration

    @calibration.setter
    def calibration(self, value: ScoreCalibration | None) -> None:
        self._calibration = _calibration("calibration", value)

    def panel_size_for(self, judges: Sequence[ModelProfile]) -> int:
        """How many of `judges` sit on the panel: `panel_size`, or fewer when fewer are offered."""
        return min(self.panel_size, max(len(judges), 1))

    def admits(self, model: ModelProfile) -> bool:
        """Whether `model` may sit on a panel: any model, or with pinned `judges` one of them (by name, alias or
        bare model id, as the catalog resolves names). The orchestrator offers (and keeps budget for) only the
        judges the evaluator admits, and refuses to run when a pinned name is no model of its catalog."""
        pinned = self.pinned
        return (
            pinned is None
            or model.name in pinned
            or (model.version != "" and model.version in pinned)
            or not set(pinned).isdisjoint(model.aliases)
        )

    def choose_judges(self, task: EvaluationTask) -> list[ModelProfile]:
        """The panel for `task`: the best value among `task.judges` (among those pinned, when judges are pinned)."""
        eligible = [j for j in task.judges if j.name != task.generating_model]
        if task.generator is not None:  # (nor the same model behind another endpoint: `laptop:llama`, `gpu:llama`)
            author = model_identity(task.generator)
            eligible = [j for j in eligible if model_identity(j) != author]
        if self.pinned is not None:  # (more pinned than seats: chosen among them as among any judges, not by order)
            eligible = [j for j in eligible if self.admits(j)]
        if len(eligible) < 2:  # no choice to make (a panel has at least one seat)
            return eligible
        generator = task.generator
        generator_family = _family(generator) if generator else task.generating_model.partition(":")[0]
        if self.min_quality is None:

            def value(model: ModelProfile) -> tuple[bool, float]:
                price = max((model.input_cost_per_1k or 0) + (model.output_cost_per_1k or 0), 1e-12)
                penalty = self.cost_sensitivity * math.log10(price)
                return (_family(model) == generator_family, -(model.quality - penalty))

            return sorted(eligible, key=value)[: self.panel_size]
        floor = min(self.min_quality, max(j.quality for j in eligible) - 0.5)
        adequate = [j for j in eligible if j.quality >= floor]
        prompt_tokens = (len(task.prompt) + len(task.context or "") + len(self.rubric)) / 4 + 400

        def cost(model: ModelProfile) -> tuple[bool, float, float]:
            expected = prompt_tokens * (model.input_cost_per_1k or 0) + 150 * (model.output_cost_per_1k or 0)
            return (_family(model) == generator_family, expected, -model.quality)

        rest = sorted((j for j in eligible if j.quality < floor), key=lambda j: -j.quality)  # fills a larger panel
        return [*sorted(adequate, key=cost), *rest][: self.panel_size]

    def build_request(self, task: EvaluationTask, judge: ModelProfile, answer: str) -> GenerationRequest:
        """The request `judge` is sent to score `answer` to the task (the orchestrator prices it and checks its window
        before offering the judge)."""
        built, system = self._messages(task.prompt, task.context, task.history, answer)
        request = GenerationRequest(
            model=judge,
            messages=[system, built.user],
            max_output_tokens=min(task.max_output_tokens, self.max_output_tokens, judge.max_output_tokens),
            temperature=0.0,
            stop=None,
            json_output=True,
            purpose="judge",
            domain=task.domain,
        )
        built.requests[judge.name] = request
        return request

    def _messages(
        self, prompt: str, context: str | None, history: Sequence[Message], answer: str
    ) -> tuple[_Built, Message]:
        """The user message of the judge requests for `answer` to `prompt` (built once per task and answer) and the
        rubric's system message: every judge's request holds these two."""
        key = (prompt, context, history, answer)
        built = self._built
        if built is None or built.key != key:  # (the user message holds nothing else of the task)
            framed = f"\n\nCONTEXT:\n{context}" if context else ""
            user = f"TASK:\n{prompt}{framed}\n\nANSWER:\n{answer}"
            if history:  # the answer continues a conversation: judge it in that light
                turns = "\n\n".join(f"[{m.role}]\n{m.content}" for m in history)
                user = f"CONVERSATION SO FAR (the TASK is its last user message):\n{turns}\n\n{user}"
            built = self._built = _Built(key, Message(role="user", content=user))
        system = self._system
        if system is None or system.content != self.rubric:  # (`rubric` may be reassigned)
            system = self._system = Message(role="system", content=self.rubric)
        return built, system

    def _request_for(self, task: EvaluationTask, judge: ModelProfile, answer: str) -> GenerationRequest:
        """`build_request(task, judge, answer)`: the request built last for this judge if it is that one (sent
        once), else a new one — capped at the call's own cap for the judge when the orchestrator's call says it
        (`judge_cap`: the cap it would apply on the request's way, so the request is built once, at that cap)."""
        built, system = self._built, self._system
        cap = min(task.max_output_tokens, self.max_output_tokens, judge.max_output_tokens)
        if built is not None and system is not None:
            found = built.requests.pop(judge.name, None)
            if (
                found is not None
                and found.model is judge
                and built.key == (task.prompt, task.context, task.history, answer)
                and found.domain == task.domain
                and found.max_output_tokens == cap
                and found.messages[0] is system
                and system.content == self.rubric
            ):
                return found
        # (a run's call only: a mock's made-up attribute, or one set on an instance, is not asked)
        call = task.call
        if isinstance(call, RunJudgeCall) and type(self).build_request is LLMJudgeEvaluator.build_request:
            said = call.judge_cap(judge)
            request = self._capped_request(task, judge, answer, min(cap, said)) if type(said) is int else None
            if request is not None:
                return request
        request = self.build_request(task, judge, answer)
        if self._built is not None:
            self._built.requests.pop(judge.name, None)  # sent: not kept
        return request

    def _capped_request(
        self, task: EvaluationTask, judge: ModelProfile, answer: str, cap: int
    ) -> GenerationRequest | None:
        """`build_request`'s request with the output cap `cap`, made sealed (`orchestratex._seal.made`: the values are
        validated messages, a validated profile and the task's text and numbers, not validated again); None when one
        of them is not what validation would keep (a task built by hand), for `build_request` to validate."""
        if type(cap) is not int or cap < 1 or type(task.domain) is not str or not isinstance(judge, ModelProfile):
            return None
        built, system = self._messages(task.prompt, task.context, task.history, answer)
        return made(
            GenerationRequest,
            model=judge,
            messages=[system, built.user],
            max_output_tokens=cap,
            temperature=0.0,
            stop=None,
            json_output=True,
            purpose="judge",
            domain=task.domain,
        )

    async def _judge(self, task: EvaluationTask, judge: ModelProfile, answer: str) -> JudgeVerdict:
        try:
            generation: Generation = await task.call(judge, self._request_for(task, judge, answer))
        except TestSetupError:  # (no verdict of the judge's: a test that forgot its test double, which `run` raises)
            raise
        except OrchestrateXError as exc:
            failed = f"{type(exc).__name__}: {exc.message}"
            if isinstance(exc, ContentFiltered) and exc.cost and exc.usage is not None:  # a refusal, billed
                return JudgeVerdict(
                    judge_model=judge.name, cost=exc.cost, catalog_cost=exc.cost, usage=exc.usage, error=failed
                )
            return JudgeVerdict(judge_model=judge.name, error=failed)
        score: float | None = None
        feedback, error = "", None
        try:
            score, feedback = parse_verdict(generation.text)
        except EvaluationError as exc:
            error = exc.message
            # (a run sets aside a judge whose verdict it could not read; a run's call only: a mock's made-up
            # attribute is not asked)
            call = task.call
            if isinstance(call, RunJudgeCall):
                said = call.unreadable(judge, generation)
                if type(said) is str:
                    error += said
        return JudgeVerdict(
            judge_model=judge.name,
            cost=generation.cost,
            catalog_cost=generation.catalog_cost,
            reported_cost=generation.reported_cost,
            usage=generation.usage,
            latency_ms=generation.latency_ms,
            score=score,
            feedback=feedback,
            error=error,
        )

    def _ask(
        self, task: EvaluationTask, panel: list[ModelProfile], answer: str
    ) -> Awaitable[JudgeVerdict | list[JudgeVerdict | BaseException]]:
        """The verdict of a single judge (its coroutine: no task to spawn), or the verdicts of a panel asked
        together (their `gather`), for `_verdicts` to read. Returned rather than awaited here: an evaluation waiting on
        its judges holds no frame of this function, nor of another that awaits the gather (two frames, 0.5 KB a run in
        flight). (A function of its own: a generator expression in `evaluate` would make cells of its variables, held
        by every evaluation while its judges answer.) A judge whose call raises what is no verdict (a bug: a
        provider's `KeyError`) fails the evaluation once every other judge's call has ended: each is counted with the
        step, none left running after the run ends, its reservation released while it answered and its cost never
        counted."""
        if len(panel) == 1:
            return self._judge(task, panel[0], answer)
        return asyncio.gather(*(self._judge(task, judge, answer) for judge in panel), return_exceptions=True)

    async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
        """Ask the panel chosen among `task.judges` and aggregate their verdicts (median); when the whole panel fails,
        ask the next judges offered once. `EvaluationError` when no verdict came (`BudgetExceeded` when no judge fitted
        the budget)."""
        panel = self.choose_judges(task)
        if not panel:
            raise EvaluationError(
                f"no judge available for an answer by {task.generating_model}: a judge must be another model "
                "that is active, fits the budget and is not failing"
            )
        verdicts = _verdicts(await self._ask(task, panel, response.text))
        if not any(v.score is not None for v in verdicts) and not _all_budget(verdicts):
            # the whole panel failed (an unparseable verdict, a timeout): the answer is paid for, so the next judges
            # offered are asked once before the evaluation fails (each call reserves: the budget still holds); still
            # offered, not a judge ruled out since (`task.may_judge`): its provider refused the key
            asked = {j.name for j in panel}
            rest = [j for j in task.judges if j.name not in asked and task.may_judge(j)]
            spare = self.choose_judges(replace(task, judges=rest))
            if spare:
                verdicts += _verdicts(await self._ask(task, spare, response.text))
        scored = [v for v in verdicts if v.score is not None]
        cost = add_costs(*(v.cost for v in verdicts))
        if not scored:
            reasons = "; ".join(f"{v.judge_model}: {v.error}" for v in verdicts)
            if _all_budget(verdicts):
                raise BudgetExceeded(f"no judge fits the remaining budget ({reasons})")
            raise EvaluationError(f"no judge produced a verdict ({reasons})")
        score = _median([v.score for v in scored if v.score is not None])
        feedback = " ".join(v.feedback for v in scored if v.feedback) or "No feedback."
        raw, probability = None, None
        if self.calibration is not None:
            raw, probability = score, min(max(self.calibration.probability(score), 0.0), 1.0)
            score = 10 * probability
        return Evaluation(
            score=round(score, 4),
            feedback=feedback,
            judge_models=[v.judge_model for v in scored],
            verdicts=verdicts,
            cost=cost,
            raw_score=raw,
            probability=probability,
        )


def _verdicts(said: JudgeVerdict | list[JudgeVerdict | BaseException]) -> list[JudgeVerdict]:
    """What `LLMJudgeEvaluator._ask` gave, as a list of verdicts: a panel's first exception is raised."""
    if not isinstance(said, list):
        return [said]
    for verdict in said:
        if isinstance(verdict, BaseException):
            raise verdict
    return said  # type: ignore[return-value]  # (none is an exception)


def _all_budget(verdicts: list[JudgeVerdict]) -> bool:
    """Whether every verdict failed for want of budget (no judge fitted what is left)."""
    return all((v.error or "").startswith("BudgetExceeded") for v in verdicts)


def _median(scores: list[float]) -> float:
    """`float(statistics.median(scores))`, without importing `statistics` (it costs `import orchestratex` a
    millisecond): the middle score, or the mean of the two middle ones."""
    if len(scores) == 1:
        return float(scores[0])
    ordered = sorted(scores)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return float((ordered[middle - 1] + ordered[middle]) / 2)


class _Built:
    """The user message of one task and answer's judge requests, and those requests not sent yet, by judge."""

    __slots__ = ("key", "requests", "user")

    def __init__(self, key: tuple[object, ...], user: Message) -> None:
        self.key = key
        self.user = user
        self.requests: dict[str, GenerationRequest] = {}


def _family(model: ModelProfile) -> str:
    """Who made the model: its provider, or for a simulated model the provider it imitates."""
    if model.provider == "sim":
        for alias in model.aliases:
            if ":" in alias:
                return alias.partition(":")[0]
    return model.provider
