"""Replay the real `Orchestrator` over an outcome table: every model answers with its recorded outcome and cost,
a simulated judge (with the noise you choose) scores through the real judging path."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from ..catalog import ModelCatalog, ModelProfile
from ..domains import check_domain
from ..evaluation import LLMJudgeEvaluator
from ..exceptions import UserError
from ..orchestrator import Orchestrator, OutputCapPolicy
from ..orchestrator._chat import blank
from ..providers import FunctionProvider, Generation, GenerationRequest
from ..routing import Router
from ..routing._fit import check_profiles
from ..routing._knobs import is_whole
from ..routing.fitted import FittedRouter
from ..stores import MemoryStore
from ..usage import Usage
from ._metrics import OperatingPoint
from ._profiles import CHARS_PER_TOKEN, DEFAULT_ANSWER_CHARS, per_call, profiles_for
from ._progress import Progress, check_progress
from ._table import FloatArray, OutcomeTable, check_arguments

__all__ = ["LoopOutcome", "LoopReplay", "SimulatedJudge", "replay_loop"]

_ANSWER_PROVIDER = "lab"
_JUDGE_PROVIDER = "labjudge"
_MARK = "⟦lab answer "
_ROW: contextvars.ContextVar[int] = contextvars.ContextVar("orchestratex_lab_row")


@dataclass(frozen=True, slots=True)
class SimulatedJudge:
    """A judge model that knows from the table whether an answer is right, and errs as told.

    A right answer scores `right_score`, a wrong one `wrong_score` (on a table of 1–10 scores,
    the recorded score itself); with probability `flip_rate` the verdict is the opposite one,
    and `score_noise` adds Gaussian noise (standard deviation, in score points, clipped to 0–10).
    Errors are drawn once per (prompt, model, judge): the same answer gets the same verdict if
    it is judged again, as a judge at temperature 0 would give. The judge is a model of the
    catalog (`name`, priced per 1k tokens in and out) served by a `FunctionProvider`, so its
    calls are reserved, paid and recorded like any judge's.
    """

    name: str = "judge"
    right_score: float = 9.0
    wrong_score: float = 3.0
    flip_rate: float = 0.0
    score_noise: float = 0.0
    input_cost_per_1k: float = 0.0002
    output_cost_per_1k: float = 0.0002
    seed: int = 0

    def __post_init__(self) -> None:
        for knob in (
            "right_score",
            "wrong_score",
            "flip_rate",
            "score_noise",
            "input_cost_per_1k",
            "output_cost_per_1k",
        ):
            value = getattr(self, knob)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise UserError(f"SimulatedJudge({knob}=...) is a number, not {type(value).__name__} {value!r}")
        if not isinstance(self.name, str):
            raise UserError(f"a judge's name is a plain model name without ':', got {self.name!r}")
        if not is_whole(self.seed):
            raise UserError(f"SimulatedJudge(seed=...) is a whole number, not {self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))  # (np.int64(3) draws as 3 does)
        if not 0 <= self.flip_rate <= 1:
            raise UserError("flip_rate is a probability: between 0 and 1")
        if not math.isfinite(self.score_noise) or self.score_noise < 0:
            raise UserError(f"score_noise is a standard deviation in score points: >= 0, got {self.score_noise!r}")
        for price in ("input_cost_per_1k", "output_cost_per_1k"):
            value = getattr(self, price)
            if not math.isfinite(value) or value < 0:
                raise UserError(f"{price} is US dollars per 1,000 tokens: a number >= 0 (e.g. 0.0002), got {value!r}")
        if not (0 <= self.wrong_score <= 10 and 0 <= self.right_score <= 10):
            raise UserError("scores are on the 0–10 scale")
        if ":" in self.name or not self.name:
            raise UserError(f"a judge's name is a plain model name without ':', got {self.name!r}")

    @property
    def profile(self) -> ModelProfile:
        """The judge's catalog entry."""
        return ModelProfile(
            name=f"{_JUDGE_PROVIDER}:{self.name}",
            input_cost_per_1k=self.input_cost_per_1k,
            output_cost_per_1k=self.output_cost_per_1k,
            quality=9.0,
        )

    def _draw(self, row_id: str, model: str, salt: str) -> float:
        digest = hashlib.blake2b(f"{self.seed}|{self.name}|{salt}|{row_id}|{model}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def score(self, quality: float, scale: float, row_id: str, model: str) -> float:
        """The verdict on an answer of recorded `quality` (table scale `scale`: 1 or 10)."""
        if scale > 1:
            score = quality
            right = quality >= (self.right_score + self.wrong_score) / 2
        else:
            right = quality >= 0.5
            score = self.right_score if right else self.wrong_score
        if self.flip_rate and self._draw(row_id, model, "flip") < self.flip_rate:
            score = self.wrong_score if right else self.right_score
        if self.score_noise:
            u1, u2 = max(self._draw(row_id, model, "n1"), 1e-12), self._draw(row_id, model, "n2")
            score += self.score_noise * math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
        return round(min(max(score, 0.0), 10.0), 3)


@dataclass(frozen=True, slots=True)
class LoopOutcome:
    """One prompt's orchestration in the replay."""

    row: int
    id: str
    task: str
    models: tuple[str, ...]
    """The table models that answered, in order (a model asked twice appears twice)."""
    scores: tuple[float | None, ...]
    """The judges' score of each answer."""
    final_model: str | None
    quality: float
    """The recorded quality of the final (best-scored) answer; 0 when the run produced none."""
    cost: float
    """What the orchestration spent: answers and judging."""
    judge_cost: float
    """What the judging cost: the kept evaluations' judges, and the judges of an answer whose verdicts were not kept
    (its iteration's `failed_cost`)."""
    stop_reason: str | None


@dataclass(frozen=True)
class LoopReplay:
    """What the real orchestrator did on every prompt of a table, and the summary figures."""

    table: OutcomeTable
    outcomes: tuple[LoopOutcome, ...]
    max_iterations: int
    seconds: float = 0.0
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def quality(self) -> float:
        """Mean quality of the final answers (accuracy on a 0/1 table)."""
        return float(np.mean([o.quality for o in self.outcomes])) if self.outcomes else 0.0

    @property
    def cost(self) -> float:
        """Mean spend per prompt, answers and judging included."""
        return float(np.mean([o.cost for o in self.outcomes])) if self.outcomes else 0.0

    @property
    def judge_cost(self) -> float:
        """Mean judging spend per prompt."""
        return float(np.mean([o.judge_cost for o in self.outcomes])) if self.outcomes else 0.0

    @property
    def attempts(self) -> float:
        """Mean number of answers per prompt."""
        return float(np.mean([len(o.models) for o in self.outcomes])) if self.outcomes else 0.0

    @property
    def repeats(self) -> float:
        """Share of refinements that asked again a model whose answer had been rejected."""
        again = total = 0
        for o in self.outcomes:
            for k in range(1, len(o.models)):
                total += 1
                again += o.models[k] in o.models[:k]
        return again / total if total else 0.0

    def shares(self) -> dict[str, float]:
        """Share of prompts whose final answer came from each model."""
        counts: dict[str, int] = {}
        for o in self.outcomes:
            if o.final_model:
                counts[o.final_model] = counts.get(o.final_model, 0) + 1
        return {m: c / len(self.outcomes) for m, c in sorted(counts.items(), key=lambda kv: -kv[1])}

    def point(self) -> OperatingPoint:
        """The replay as an operating point (mean cost including judging, mean quality)."""
        return OperatingPoint(
            cost=self.cost, quality=self.quality, knob=float(self.max_iterations), shares=self.shares()
        )

    def __repr__(self) -> str:
        # (the dataclass's listed every LoopOutcome: a replay of a few thousand prompts, the last line of a notebook
        # cell, filled it with megabytes of text)
        return (
            f"LoopReplay({self.table.name!r}, prompts={len(self.outcomes)}, max_iterations={self.max_iterations}, "
            f"quality={self.quality:.4f}, cost={self.cost:.6g}, attempts={self.attempts:.2f})"
        )

    def summary(self) -> str:
        return (
            f"quality {self.quality:.4f} at ${self.cost:.5f}/prompt (judging ${self.judge_cost:.5f}), "
            f"{self.attempts:.2f} answers/prompt, {self.repeats:.1%} of refinements re-asked a rejected model, "
            f"{len(self.outcomes)} prompts in {self.seconds:.1f} s"
        )


_TEMPLATES = 8192
"""Tokens a replay's windows keep for the system prompt, the refinement and judging templates and feedback."""

_VERDICT_TOKENS = 64
"""A simulated judge's output cap: its verdict (`{"score": …, "feedback": …}`, under 100 characters) fits; as the live
orchestrator's least learned cap of a judge (`OutputCapPolicy.min_judge_tokens`)."""

_DEFAULT_CHARS = DEFAULT_ANSWER_CHARS
"""The length of an answer when the table does not record it (as `fit_prices` takes it)."""


def _chars(chars: FloatArray | None, row: int, col: int) -> float:
    return float(chars[row, col]) if chars is not None else _DEFAULT_CHARS


def _tokens(chars: float) -> int:
    """The output tokens a replayed answer reports: its recorded length's (at least 1)."""
    return max(math.ceil(chars / CHARS_PER_TOKEN), 1)


def output_cap(table: OutcomeTable, answering: Sequence[tuple[ModelProfile, int]]) -> int:
    """The output cap of the answers of `answering` in a replay (each model is given its own): the fewest tokens
    that hold each recorded answer and at which each call's worst case (its input bound at the model's input price,
    plus the cap at its output price) covers its recorded cost, so no recorded cost overruns its reservation.

    A recorded answer is replayed whole (it cannot be cut at a cap), so the cap is never learned from lengths.
    Only a model without an output price whose recorded cost exceeds its input's price is not covered.
    """
    need = 1
    for row, prompt in enumerate(table.prompts):
        bound = _input_tokens(prompt)  # at most what the run counts (its request holds the prompt, and perhaps more)
        for profile, col in answering:
            need = max(need, _tokens(_chars(table.output_chars, row, col)))
            p_in, p_out = profile.input_cost_per_1k or 0.0, profile.output_cost_per_1k or 0.0
            cost = float(table.cost[row, col])
            short = cost * 1000 - bound * p_in
            if short > 0 and p_out > 0:
                need = max(need, _covering(profile, bound, cost, math.ceil(short / p_out - 1e-9)))
    return need


def _covering(profile: ModelProfile, bound: int, cost: float, tokens: int) -> int:
    """The fewest output tokens from about `tokens` at which `profile`'s worst case with `bound` tokens in covers
    `cost` (as the run prices it): a price per call (`profiles_for`'s for a model billed the same on every prompt)
    then reserves that cost, not one token's more (a cost_limit of 1.005 bought no RouteLLM GPT-4 call at 1.0)."""
    tokens = max(tokens, 1)
    while profile.worst_case_cost(bound, tokens) < cost:
        tokens += 1
    while tokens > 1 and profile.worst_case_cost(bound, tokens - 1) >= cost:
        tokens -= 1
    return tokens


def _input_tokens(*texts: str) -> int:
    """The input tokens a replayed call is billed for (an answer's usage, a judge's): its messages' characters at
    `CHARS_PER_TOKEN` a token, as `FunctionProvider` counts a judge's."""
    return math.ceil(sum(len(text) for text in texts) / CHARS_PER_TOKEN)


def _counted(request: GenerationRequest) -> int:
    """The lab's providers' `count_tokens`: the input tokens they bill, so that a call reserves for those (the
    byte bound of a provider without a tokenizer, four times as many, made a run's first answer and its judging
    reserve several times what they cost, and a small `cost_limit` stopped runs the recorded costs fitted)."""
    return _input_tokens(*(m.content for m in request.messages))


def _answer_text(row: int, model: str, chars: float) -> str:
    """A recorded answer's stand-in for the judge: marked with its row (a number, never an id: distinct whatever
    the table's ids) and model, padded to the answer's length (a short answer's stand-in is the mark alone; its
    usage is the recorded length's all the same)."""
    mark = f"{_MARK}{row} · {model}⟧"
    return mark + " " + "." * max(int(chars) - len(mark) - 1, 0)


async def replay_loop(
    table: OutcomeTable,
    *,
    router: Router,
    judge: SimulatedJudge | Sequence[SimulatedJudge] | None = None,
    max_iterations: int = 3,
    threshold: float = 6.0,
    profiles: Sequence[ModelProfile] | None = None,
    cost_limit: float | None = None,
    patience: int | None = None,
    progress: bool | Callable[[int, int, LoopReplay], None] | None = None,
    progress_every: int = 100,
) -> LoopReplay:
    """Run the real `Orchestrator` on every prompt of `table`, in order, and report accuracy and cost.

    Every model of the table is a catalog model (`profiles`, by default `profiles_for(table)`)
    served by a `FunctionProvider` that answers with the recorded outcome: an answer as long as
    the recorded one, costing the recorded cost (reported to the orchestrator as the provider's
    own cost). A model asked again answers the same. Each model's output cap is `output_cap(table, [(model, ...)])`:
    its recorded answers fit it and its reserved worst case covers their recorded cost, so no model is excluded from
    a run for costing more than it reserved, whatever the fitted prices, nor reserves for another model's longer
    answers. A judge's output cap is 64 tokens, which its verdict fits. The answers are judged by `judge` (one
    `SimulatedJudge`, or several as a panel aggregated by median; default: an exact 9/3 judge)
    through the orchestrator's `LLMJudgeEvaluator`; judges are never routing candidates. The run
    stops when the judges' score reaches `threshold`, after `max_iterations`, on the budget
    (`cost_limit` per prompt) or when the score stops improving (`patience`). A run that fails for a reason
    of its own (stop reason `error`) is raised as a `UserError` naming its row, not counted as a wrong answer.

    The router learns as it would in production (its `observe` sees every judged answer), so
    give it a fresh router for each measurement.

    Progress: by default a line on stderr, updated in place, once the replay has run a second, when
    stderr is a terminal or the code runs in Jupyter (never when stderr is piped); `progress=True`
    shows it wherever stderr goes, `progress=False` never. A callable `progress(done, total, partial)`
    is called instead every `progress_every` prompts and at the end.
    """
    check_arguments("replay_loop(table, router=...)", table, router)
    if profiles is not None:
        profiles = check_profiles(profiles, "replay_loop(table, router=..., profiles=...)")
    table.require_complete()
    check_progress(progress, callback="progress(done, total, partial)")
    if not is_whole(max_iterations) or max_iterations < 1:
        raise UserError(f"max_iterations is a whole number of attempts >= 1 (e.g. 3), got {max_iterations!r}")
    if not is_whole(progress_every) or progress_every < 1:
        raise UserError(f"progress_every is a number of prompts >= 1 (e.g. progress_every=100), got {progress_every!r}")
    max_iterations, progress_every = int(max_iterations), int(progress_every)  # (numpy's integers: np.arange's)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 <= threshold <= 10:
        # (the orchestrator refused it at the first row, naming its own `evaluation_threshold`)
        raise UserError(f"threshold is the judges' score that accepts an answer, 0–10 (e.g. 6), got {threshold!r}")
    _check_tasks(table)
    _check_prompts(table)
    judges = _judges(judge)
    if not judges or len({j.name for j in judges}) != len(judges):
        raise UserError("give at least one judge, each with its own name")
    if isinstance(router, FittedRouter):
        router.known_models(table.models, f"table {table.name!r}")
    answering = list(profiles) if profiles is not None else profiles_for(table, provider=_ANSWER_PROVIDER)
    column = _columns(table, answering)
    chars = table.output_chars
    # each model's own cap (its longest recorded answer, its recorded costs covered): one cap for all, the longest
    # answer of any model, made every call of a terse model reserve for a verbose one's longest answer at its own
    # price (RouterBench: gpt-4-1106-preview reserved 2,540 output tokens for its 708), and a small cost_limit stopped
    # the runs on their budget
    caps = {p.name: output_cap(table, [(p, column[p.name])]) for p in answering}
    cap = max(caps.values(), default=1)
    billed_per_call = {p.name for p in answering if per_call(table.cost[:, column[p.name]])}
    # every window holds what a run may send: the prompt (counted in bytes, as the run bounds it), the previous
    # answer a refinement quotes, the answer (or, for a judge, the answer judged) and the templates around them;
    # only windows smaller than that grow (a recorded answer longer than a model's default window, say)
    window = 2 * cap + max((len(p.encode()) for p in table.prompts), default=0) + _TEMPLATES
    answering = [  # (a recorded answer fitted its model's limits: it must fit the replayed ones)
        p.model_copy(
            update={
                "provider": _ANSWER_PROVIDER,
                "max_output_tokens": caps[p.name],
                "context_window": max(p.context_window, window),
            }
        )
        for p in answering
    ]
    scale = 10.0 if float(np.nanmax(table.quality)) > 1 else 1.0
    by_name = {p.name: column[p.name] for p in answering}
    judge_profiles = [  # (a verdict is a short JSON object: a judge reserves for it, not for the longest answer)
        j.profile.model_copy(
            update={"context_window": max(j.profile.context_window, window), "max_output_tokens": _VERDICT_TOKENS}
        )
        for j in judges
    ]
    judge_by_name = {j.profile.name: j for j in judges}

    def answer(request: GenerationRequest) -> Generation:
        row = _ROW.get()
        col = by_name[request.model.name]
        out = _chars(chars, row, col)
        usage = Usage(
            input_tokens=_counted(request),
            # the recorded answer's, whatever the marked stand-in's length; a model billed per call reports the tokens
            # it is billed for (its cap, at which its price per call is priced): the usage of a shorter answer, priced
            # below the bill, made the run learn a surcharge and reserve up to four times its calls' price
            output_tokens=caps[request.model.name] if request.model.name in billed_per_call else _tokens(out),
        )
        text = _answer_text(row, table.models[col], out)
        return Generation(text=text, usage=usage, reported_cost=float(table.cost[row, col]))

    def verdict(request: GenerationRequest) -> str:
        user = request.messages[-1].content
        start = user.rfind(_MARK)
        if start < 0:
            raise UserError("the lab judge was asked about an answer the lab did not write")
        mark, _, model = user[start + len(_MARK) :].partition("⟧")[0].partition(" · ")
        row = int(mark)
        col = table.model_index(model)
        sim = judge_by_name[request.model.name]
        score = sim.score(float(table.quality[row, col]), scale, table.ids[row], model)
        feedback = "Correct." if score >= threshold else "The answer is wrong: check the reasoning and try again."
        return json.dumps({"score": score, "feedback": feedback})

    orchestrator = Orchestrator(
        providers={
            _ANSWER_PROVIDER: FunctionProvider(answer, name=_ANSWER_PROVIDER, count_tokens=_counted),
            _JUDGE_PROVIDER: FunctionProvider(verdict, name=_JUDGE_PROVIDER, count_tokens=_counted),
        },
        catalog=ModelCatalog([*answering, *judge_profiles]),
        router=router,
        evaluator=LLMJudgeEvaluator(panel_size=len(judges), judges=[j.profile.name for j in judges]),
        store=MemoryStore(),
        max_iterations=max_iterations,
        evaluation_threshold=threshold,
        max_output_tokens=cap,
        output_cap=OutputCapPolicy(learn=False, min_tokens=cap),
    )
    names = [p.name for p in answering]
    outcomes: list[LoopOutcome] = []
    settings: dict[str, object] = {
        "router": router.name,
        "judges": [j.name for j in judges],
        # (plain floats: numpy's, from a sweep `for threshold in np.arange(5, 9)`, made `json.dumps(replay.settings)`
        # fail with "Object of type int64 is not JSON serializable")
        "threshold": float(threshold),
        "cost_limit": float(cost_limit)
        if isinstance(cost_limit, numbers.Real) and not isinstance(cost_limit, bool)
        else cost_limit,
    }
    callback = progress if callable(progress) else None
    show = False if callback is not None else cast("bool | None", progress)  # a callback replaces the display
    started = time.perf_counter()
    spent = right = 0.0
    async with orchestrator:
        session = await orchestrator.create_session()
        with Progress(f"replay_loop {table.name}", len(table), show=show) as bar:
            for row, prompt in enumerate(table.prompts):
                outcome = await _run_row(orchestrator, session.id, table, row, prompt, names, cost_limit, patience)
                _check_run(table, row, outcome)
                outcomes.append(_outcome(table, row, outcome, by_name))
                done = row + 1
                spent, right = spent + outcomes[-1].cost, right + outcomes[-1].quality
                bar.update(done, f"quality {right / done:.3f}, ${spent / done:.5f}/prompt")
                # a row's run may complete without ever suspending (the lab's providers and store answer at once):
                # yield to the event loop between rows, so a cancellation (Ctrl-C under `asyncio.run`) stops the
                # replay here, at a row's end, and other tasks (a notebook's, a server's) get their turn
                await asyncio.sleep(0)
                if callback is not None and (done % progress_every == 0 or done == len(table)):
                    elapsed = time.perf_counter() - started
                    callback(done, len(table), LoopReplay(table, tuple(outcomes), max_iterations, elapsed, settings))
    return LoopReplay(table, tuple(outcomes), max_iterations, time.perf_counter() - started, settings)


def _check_tasks(table: OutcomeTable) -> None:
    """Refuse, before any row is replayed, a table task that no run can take as its domain (`maths`, one typo away
    from `math`; an empty one), naming the task and its first rows rather than a domain the user never wrote."""
    for task in table.task_names:
        try:
            check_domain(task)
        except UserError as exc:
            rows = [i for i, t in enumerate(table.tasks) if t == task]
            shown = ", ".join(str(i) for i in rows[:3]) + (", …" if len(rows) > 3 else "")
            raise UserError(
                f"table {table.name!r}: the task {task!r} (rows {shown}) cannot be a run's domain ({exc}); rename "
                "it in the table's tasks (a FittedRouter fitted on it needs the same name)"
            ) from None


def _check_prompts(table: OutcomeTable) -> None:
    """Refuse, before any row is replayed, a blank prompt (no run takes one), naming its rows and ids."""
    rows = [i for i, prompt in enumerate(table.prompts) if blank(prompt)]
    if rows:
        shown = ", ".join(f"{i} (id {table.ids[i]!r})" for i in rows[:3]) + (", …" if len(rows) > 3 else "")
        raise UserError(
            f"table {table.name!r}: {'the prompts of rows' if len(rows) > 1 else 'the prompt of row'} {shown} "
            f"{'are' if len(rows) > 1 else 'is'} empty, and no run takes an empty prompt: leave such rows out "
            "(table.subset([...]))"
        )


def _judges(judge: SimulatedJudge | Sequence[SimulatedJudge] | None) -> list[SimulatedJudge]:
    """`replay_loop`'s `judge` as a list of judges (the default: one exact judge); anything else is a `UserError`."""
    if judge is None:
        return [SimulatedJudge()]
    if isinstance(judge, SimulatedJudge):
        return [judge]
    if isinstance(judge, str | bytes) or not isinstance(judge, Sequence):
        raise UserError(f"judge is a lab.SimulatedJudge or a list of them, not {type(judge).__name__} {judge!r}")
    other = next((j for j in judge if not isinstance(j, SimulatedJudge)), None)
    if other is not None:
        raise UserError(
            f"judge is a lab.SimulatedJudge or a list of them; the list holds {type(other).__name__} {other!r}"
        )
    return list(judge)


async def _run_row(
    orchestrator: Orchestrator,
    session: str,
    table: OutcomeTable,
    row: int,
    prompt: str,
    names: list[str],
    cost_limit: float | None,
    patience: int | None,
) -> object:
    """One prompt's orchestration document (the row is what the lab's providers answer from)."""
    token = _ROW.set(row)
    try:
        result = await orchestrator.run(
            prompt,
            session=session,
            domain=table.task_of(row),
            preferred_models=names,
            cost_limit=cost_limit,
            patience=patience,
        )
    finally:
        _ROW.reset(token)
    return result.orchestration


def _check_run(table: OutcomeTable, row: int, doc: object) -> None:
    """Raise the error of a row's run that failed for a reason of its own (`stop_reason` `error`: no model could be
    routed to, a judge could not read the answer), rather than count the row as a wrong answer at no cost; a run
    stopped by its budget (`cost_limit`) is an outcome of the replay."""
    from ..records import Orchestration

    assert isinstance(doc, Orchestration)
    if doc.stop_reason == "error" and doc.final_response is None:
        raise UserError(
            f"replay_loop: the run of row {row} (id {table.ids[row]!r}) of table {table.name!r} failed: {doc.error}"
        )


def _columns(table: OutcomeTable, profiles: Sequence[ModelProfile]) -> dict[str, int]:
    column: dict[str, int] = {}
    for p in profiles:
        col = next((j for j, m in enumerate(table.models) if m in (p.name, p.version)), None)
        if col is None:
            raise UserError(f"profile {p.name!r} names no model of table {table.name!r}")
        if p.name in column:
            raise UserError(f"profiles names the model {p.name!r} twice: give each model one profile")
        column[p.name] = col
    missing = set(range(len(table.models))) - set(column.values())
    if missing:
        raise UserError(f"no profile for {[table.models[j] for j in sorted(missing)]}")
    return column


def _outcome(table: OutcomeTable, row: int, doc: object, by_name: dict[str, int]) -> LoopOutcome:
    from ..records import Orchestration

    assert isinstance(doc, Orchestration)
    answered = [it for it in doc.iterations if it.response is not None]
    # (the judges of an answer whose verdicts were not kept are on its `failed_cost`, not in an evaluation: the lab's
    # answers are never refused nor empty, so that is all `failed_cost` holds here, and the replay's judging with it)
    judge_cost = sum(
        it.failed_cost + (it.evaluation.cost if it.evaluation is not None else 0.0) for it in doc.iterations
    )
    final = doc.final_model if doc.final_response is not None else None
    quality = float(table.quality[row, by_name[final]]) if final in by_name else 0.0
    return LoopOutcome(
        row=row,
        id=table.ids[row],
        task=table.task_of(row),
        models=tuple(table.models[by_name[it.model_name]] for it in answered),
        scores=tuple(it.evaluation.score if it.evaluation else None for it in answered),
        final_model=table.models[by_name[final]] if final in by_name else None,
        quality=quality,
        cost=doc.total_cost,
        judge_cost=judge_cost,
        stop_reason=doc.stop_reason,
    )
