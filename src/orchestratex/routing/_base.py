"""The `Router` contract: pick a model for a task among the candidates, and learn from outcomes."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from .._awaited import check_async
from ..catalog import ModelProfile
from ..exceptions import UserError
from ..records import RoutingDecision

if TYPE_CHECKING:
    from ..stores import RoutingStat, Store

__all__ = [
    "Attempt",
    "LearningRouter",
    "Router",
    "RoutingFeedback",
    "Task",
    "check_inputs",
    "check_router",
    "checked_decision",
    "decided",
    "offline",
    "persisting",
]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One earlier attempt of the orchestration: which model answered, what the judges made of it, what it cost."""

    model: str
    score: float | None = None
    """The judges' aggregate score (0–10); None when the answer was not judged (yet)."""
    cost: float = 0.0
    """What the answer cost (US dollars; judging not included)."""
    feedback: str | None = None
    """The judges' feedback, when judged."""


@dataclass(frozen=True, slots=True)
class Task:
    """What a router (and an evaluator) knows about the work at hand."""

    prompt: str
    """The prompt the model will be sent (a refinement prompt after the first iteration)."""
    domain: str = "general"
    """The task's domain: what routers keep their statistics by."""
    original_prompt: str = ""
    """The user's prompt, before any refinement."""
    context: str | None = None
    """The extra context the run was given, if any."""
    iteration: int = 1
    """The attempt being routed (1-based)."""
    input_tokens: int = 0
    """An upper bound of the prompt's tokens."""
    max_output_tokens: int = 2048
    """The most the answer may write."""
    remaining_budget: float | None = None
    """US dollars left for this orchestration, or None when unlimited."""
    previous_models: tuple[str, ...] = ()
    """Models already tried in this orchestration, in order."""
    best_score: float | None = None
    """The best score of this orchestration's answers so far, None before any."""
    threshold: float = 8.0
    """The score that ends the orchestration (an answer below it is rejected)."""
    attempts: tuple[Attempt, ...] = ()
    """The attempts of this orchestration so far, in order (model, judges' score, cost, feedback)."""
    max_iterations: int | None = None
    """The orchestration's iteration limit (None when the router is asked outside a loop: one attempt)."""

    @property
    def remaining_iterations(self) -> int:
        """Attempts left, this one included (1 when `max_iterations` is unknown)."""
        if self.max_iterations is None:
            return 1
        return max(self.max_iterations - self.iteration + 1, 1)

    @property
    def failed_models(self) -> tuple[str, ...]:
        """Models whose judged answer scored below `threshold`, in order, without repeats."""
        return tuple(dict.fromkeys(a.model for a in self.attempts if a.score is not None and a.score < self.threshold))


@dataclass(frozen=True, slots=True)
class RoutingFeedback:
    """One observed outcome: what `model_name` scored on a task of `domain`, and what it cost."""

    domain: str
    """The task's domain."""
    model_name: str
    """The model that answered."""
    score: float
    """The judges' score of its answer (0–10)."""
    cost: float
    """What the answer cost (its judging is `evaluation_cost`)."""
    latency_ms: float
    """How long the model took to answer, in milliseconds."""
    output_tokens: int = 0
    """Tokens the answer took."""
    prompt: str = ""
    """The user's prompt."""
    iteration: int = 1
    """The attempt (1-based)."""
    extra: dict[str, object] = field(default_factory=dict)
    """Free-form data for a router of your own (the orchestrator leaves it empty)."""
    attempts: tuple[Attempt, ...] = ()
    """The orchestration's attempts *before* this one (what the answer was chosen after)."""
    threshold: float = 8.0
    """The orchestration's evaluation threshold (a score below it is a failure)."""
    evaluation_cost: float = 0.0
    """What judging this answer cost (US dollars)."""


class Router(ABC):
    """Chooses which model answers.

    The orchestrator passes only *eligible* candidates (active, preferred, fitting the context
    window and the remaining budget, circuit closed) and rejects a decision outside them; it does not
    stop a router asking again a model whose answer was rejected (`task.failed_models`: the policy is
    the router's). `select`, `observe` and `attach` are awaited on the orchestrator's event loop, with
    no time limit: do not block it. Writing one: docs/routing.md, "Your own router".
    """

    name: str = "router"
    """Key under which the router's statistics persist in the store: give a router of your own a name of its own (a
    `LearningRouter` sharing another's name restores that router's statistics and adds to them)."""

    @abstractmethod
    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        """Choose one of `candidates` (never empty) for `task`: return `RoutingDecision(model_name=<a candidate's
        full name, candidate.name>, reasoning=<one sentence>, scores=<optional: a finite number by model name>)`.

        When the chosen model's call fails, it is called again for the same iteration, with the same `task` (a
        failed call is no `Attempt`) and that model no longer among the candidates, for the rest of the run: choose
        among the candidates given each time. A choice outside them ends the run `failed` (`result.error` says why);
        an exception, a return that is not a `RoutingDecision` or a score that is not finite is raised by `run`."""

    async def observe(self, feedback: RoutingFeedback) -> None:
        """Learn from an evaluated outcome: awaited once for each judged answer (refinements' too, never a failed
        call), after its judging and before the next `select`. An error it raises is logged as a WARNING on
        `orchestratex.orchestrator` and the run goes on. The default does nothing."""
        return None

    async def attach(self, store: Store) -> None:
        """Called once before the first `select` with the orchestrator's store (load persisted statistics)."""
        return None

    def __repr__(self) -> str:
        """Its class, `name` and settings (`BayesianRouter(name='bayesian', cost_sensitivity=1.0, …)`), not
        `<… object at 0x…>`: what a notebook shows for `orchestrator.router`."""
        from ._knobs import knob_settings

        return f"{type(self).__name__}(name={self.name!r}{knob_settings(self)})"


class LearningRouter(Router):
    """A router that learns from every evaluated outcome and keeps what it learned in the store,
    under its `name`, so routing improves with use and survives restarts.

    Subclasses implement `select`, `update` (learn one outcome in memory), `restore` (rebuild from the
    statistics persisted in the store) and, when `restore` adds to what the router holds, `forget`; they leave
    `observe` and `attach` as they are: `observe` does `update` and then adds the outcome to the store's sums for
    (`name`, domain, model), a `RoutingStat` (`n`, `score_sum`, `score_sq_sum`, `cost_sum`, `latency_ms_sum`,
    `output_tokens_sum`); the prompt, the attempts and the judging cost
    are not kept, so what `update` learns from them is lost at a restart.
    """

    _store: Store | None = None

    async def attach(self, store: Store) -> None:
        """Load the statistics persisted in `store`: `restore(await store.routing_stats(self.name))`. A
        router attached before (the same router object given to another orchestrator: a notebook cell run again, an
        orchestrator made per request) to a store that holds statistics of it first forgets what it held, so they
        are not counted twice (`forget`, then `restore`); attached to a store holding none (a new one: a lab replay),
        it keeps what it learned."""
        stats = await store.routing_stats(self.name)
        if self._store is not None and stats:
            self.forget()
        self._store = store
        self.restore(stats)

    def forget(self) -> None:
        """Drop what was learned in memory: `attach` calls it before `restore` when the router was attached before and
        the new store holds statistics of it, which include what it learned then. The default drops nothing: a router
        of your own that keeps what `update` and `restore` gave it overrides it (or has `restore` replace what it
        holds), else a router given to a second orchestrator (a notebook cell run again) counts those statistics
        twice. The built-in routers override it."""

    async def observe(self, feedback: RoutingFeedback) -> None:
        self.update(feedback)
        if self._store is not None and persisting():
            await self._store.record_routing_outcome(
                self.name,
                domain=feedback.domain,
                model_name=feedback.model_name,
                score=feedback.score,
                cost=feedback.cost,
                latency_ms=feedback.latency_ms,
                output_tokens=feedback.output_tokens,
            )

    @abstractmethod
    def update(self, feedback: RoutingFeedback) -> None:
        """Add one observation in memory only (what `observe` does before persisting it; all `lab.replay` calls). A
        plain `def`. An error it raises is logged as `observe`'s, and the outcome is not stored."""

    @abstractmethod
    def restore(self, stats: Sequence[RoutingStat]) -> None:
        """Add the statistics persisted in the store (called once, by `attach`, with every `RoutingStat` the store
        keeps under `name`, sorted by domain, then model; `[]` for a new store). A plain `def`."""


_OFFLINE: ContextVar[bool] = ContextVar("orchestratex_routing_offline", default=False)


def persisting() -> bool:
    """Whether a learning router's `observe` keeps the outcome in its store (False inside `offline()`)."""
    return not _OFFLINE.get()


@contextmanager
def offline() -> Iterator[None]:
    """Within it (this task and the tasks it starts), learning routers learn in memory only: what the lab's `replay`
    feeds them (recorded outcomes, not runs) never reaches the store of an orchestrator the router is attached to,
    whose other runs, in their own tasks, keep persisting theirs."""
    token = _OFFLINE.set(True)
    try:
        yield
    finally:
        _OFFLINE.reset(token)


def check_router(router: Router) -> None:
    """Refuse a router whose `select`, `observe` or `attach` is a plain function: the orchestrator and the lab await
    them, and a `def select` returning its decision failed every run with "object RoutingDecision can't be used in
    'await' expression" (logged as failing unexpectedly, the run stored as failed)."""
    for method, arguments in (("select", "task, candidates"), ("observe", "feedback"), ("attach", "store")):
        check_async(router, method, arguments)
    if isinstance(router, LearningRouter):
        # (the other way round: `async def update` or `async def restore` was taken; `observe` and `attach` call them
        # without awaiting them, so the router learned nothing, only Python's "coroutine … was never awaited" said so)
        for method, arguments, caller in (
            ("update", "self, feedback", "observe"),
            ("restore", "self, stats", "attach"),
            ("forget", "self", "attach"),
        ):
            if inspect.iscoroutinefunction(getattr(type(router), method, None)):
                raise UserError(
                    f"{type(router).__name__}.{method} must be a plain function, as LearningRouter.{caller} calls"
                    f" it without awaiting it (an `async def {method}` never runs):"
                    f" write `def {method}({arguments})`"
                )


def check_inputs(task: object, candidates: object) -> None:
    """Refuse with a `UserError` saying what to give, a `task` or `candidates` of the wrong kind handed to a router's
    `decide` or `select` (a prompt for the task, model names or one profile for the candidates): they failed deep
    inside with an `AttributeError` ("'str' object has no attribute 'name'")."""
    if not isinstance(task, Task):
        hint = f": write Task(prompt={task!r:.60})" if isinstance(task, str) else ""
        raise UserError(f"task is a routing Task(prompt=...), not {type(task).__name__}{hint}")
    for field_name in ("prompt", "domain", "original_prompt"):
        value = getattr(task, field_name)
        if not isinstance(value, str):
            raise UserError(f"Task.{field_name} is text, not {type(value).__name__} {value!r:.60}")
    if isinstance(candidates, ModelProfile):
        raise UserError("candidates is a list of ModelProfile: give [profile] for one model")
    if isinstance(candidates, str | bytes) or not isinstance(candidates, Iterable):
        raise UserError(
            f"candidates is a list of ModelProfile (catalog.get(name) gives one, a catalog is one), not "
            f"{type(candidates).__name__} {candidates!r:.60}"
        )
    for odd in candidates:
        if isinstance(odd, ModelProfile):
            continue
        raise UserError(
            f"candidates are ModelProfile objects (catalog.get(name) gives one, a catalog is a list of them), not "
            f"{type(odd).__name__} {odd!r:.60}"
        )


def decided(
    decide: Callable[[Task, Sequence[ModelProfile]], RoutingDecision], task: Task, candidates: Sequence[ModelProfile]
) -> RoutingDecision:
    """`decide(task, candidates)` (a router's own decision), with a `task` or `candidates` of the wrong kind refused by
    `check_inputs` when the decision fails on them, at no cost to a decision that succeeds."""
    try:
        return decide(task, candidates)
    except (AttributeError, TypeError, ValueError):
        check_inputs(task, candidates)  # (a `UserError` saying what to give, when given something else)
        raise


def checked_decision(router: Router, decision: object) -> RoutingDecision:
    """`decision`, what `router.select` returned, when it is a valid `RoutingDecision`: `TypeError` naming `select`
    when it is anything else (a model name, a dict) or holds no text, or scores that are no numbers, rather than an
    `AttributeError` deep in the run (which makes its records from it without validation)."""
    if type(decision) is RoutingDecision or isinstance(decision, RoutingDecision):
        if type(decision.model_name) is str and type(decision.reasoning) is str:
            return _scored(router, decision)
    raise TypeError(
        f"{type(router).__name__}.select returned {_described(decision)}, not a RoutingDecision(model_name=..., "
        f"reasoning=...) with text in both"
    )


def _scored(router: Router, decision: RoutingDecision) -> RoutingDecision:
    """`decision`, or a copy whose `scores` are validated when the router's are not floats by model name (numpy's
    float32, an int: built with `model_construct` or set after validation): the run's `ModelSelected` is made from
    them without validation."""
    scores = decision.scores
    # (`v - v == 0.0`: finite. An infinite or NaN score, `quality / price` of a free model, was stored in the run's
    # `model_selected` event as JSON's null, and every later read of the session's events failed to validate it)
    if type(scores) is dict and all(type(k) is str and type(v) is float and v - v == 0.0 for k, v in scores.items()):
        return decision
    try:
        checked = _SCORES.validate_python(scores)
    except ValidationError:
        raise TypeError(
            f"{type(router).__name__}.select returned a RoutingDecision whose scores are not finite numbers by model"
            f" name ({scores!r:.200}): give RoutingDecision(scores={{model_name: float, ...}}), without inf or nan"
        ) from None
    return decision.model_copy(update={"scores": checked})


_SCORES = TypeAdapter(dict[str, Annotated[float, Field(allow_inf_nan=False)]], config=ConfigDict(defer_build=True))
"""Built on its first use: a router's scores that are not plain finite floats are rare."""


def _described(value: object) -> str:
    if isinstance(value, RoutingDecision):
        return (
            f"a RoutingDecision whose model_name or reasoning is not text ({value.model_name!r}, {value.reasoning!r})"
        )
    return type(value).__name__
