"""The events an orchestration emits, in the order it emits them.

Each event is a pydantic model with a `type` discriminator; `Event` is their union and
`EVENT_ADAPTER` parses or serialises any of them (the WebSocket sends exactly this JSON).
Every event carries `orchestration_id`, `thread_id`, `session_id`, `seq` (contiguous per session,
from 1) and `timestamp`, plus the fields the API spec gives it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ._ids import utcnow
from ._timestamps import Timestamp
from .records import StopReason

__all__ = [
    "EVENT_ADAPTER",
    "EVENT_TYPES",
    "EvaluationCompleted",
    "Event",
    "EventHandler",
    "ModelSelected",
    "OrchestrationCompleted",
    "OrchestrationFailed",
    "OrchestrationStarted",
    "ResponseGenerated",
    "dispatch",
]

logger = logging.getLogger("orchestratex.events")
"""The `orchestratex.events` logger: a handler that raises is logged here."""


class _EventBase(BaseModel):
    model_config = ConfigDict(defer_build=True)

    orchestration_id: str
    thread_id: str
    session_id: str
    seq: int = 0
    """Position in the session's event stream: 1, 2, 3, … with no gap. Set when the event is stored."""
    timestamp: Timestamp = Field(default_factory=utcnow)


class OrchestrationStarted(_EventBase):
    """The orchestration began: always its first event, emitted once. An orchestration resumed after a crash
    does not emit it again; its stream goes on from its last stored event."""

    type: Literal["orchestration_started"] = "orchestration_started"
    """The event's discriminator."""
    prompt: str
    """The user message being answered."""
    domain: str
    """The prompt's domain: the one the run was given, else the one detected from the prompt."""
    max_iterations: int
    """The most attempts of the run."""
    evaluation_threshold: float
    """The score that ends the run once an answer reaches it."""
    simulated: bool = False
    """True when the models are simulated offline (no provider key configured)."""


class ModelSelected(_EventBase):
    """The router chose the model for an iteration; again within the iteration when that model failed (a fallback)."""

    type: Literal["model_selected"] = "model_selected"
    """The event's discriminator."""
    model_name: str
    """The chosen model's full name."""
    reasoning: str
    """The router's reason for its choice, in words."""
    iteration: int
    """The attempt it answers (1-based)."""
    scores: dict[str, float] = Field(default_factory=dict)
    """The router's score of each candidate model it weighed, by model name."""


class ResponseGenerated(_EventBase):
    """The chosen model answered."""

    type: Literal["response_generated"] = "response_generated"
    """The event's discriminator."""
    model_name: str
    """The model that answered."""
    response_preview: str
    """The answer's first 200 characters (the whole answer is in `orchestration_completed` and the store)."""
    tokens_used: int
    """`input_tokens + output_tokens`."""
    iteration: int
    """The attempt (1-based)."""
    input_tokens: int = 0
    """Tokens the model read."""
    output_tokens: int = 0
    """Tokens the model wrote."""
    cost: float = 0.0
    """What the answer cost (the judges' cost is on `evaluation_completed`)."""
    latency_ms: float = 0.0
    """How long the model took to answer, in milliseconds."""


class EvaluationCompleted(_EventBase):
    """The evaluator scored an answer."""

    type: Literal["evaluation_completed"] = "evaluation_completed"
    """The event's discriminator."""
    evaluator_model: str
    """The judge, or the judges joined by commas when a panel scored it (those whose verdict counted)."""
    score: float
    """Out of 10. The default evaluator gives the median of its judges' scores (with a calibration, 10 times
    the probability it gives that median)."""
    feedback: str
    """The judges' feedback, combined."""
    iteration: int
    """The attempt whose answer was scored (1-based)."""
    cost: float = 0.0
    """What the judges' calls cost."""


class OrchestrationCompleted(_EventBase):
    """The orchestration finished with an answer: the best-scoring one, not merely the last. It also ends so
    when a later step failed (`stop_reason` `error` or `budget`) after an answer was had."""

    type: Literal["orchestration_completed"] = "orchestration_completed"
    """The event's discriminator."""
    final_response: str
    """The best-scoring answer."""
    iterations: int
    """How many attempts the run made."""
    final_score: float | None
    """None when the answer was returned unjudged (`judging="when_needed"`, or `"when_possible"` without a verdict)."""
    total_cost: float
    """US dollars the run spent in all: answers and judges."""
    stop_reason: StopReason
    """Why it stopped; never `cancelled` (a cancelled orchestration ends with `orchestration_failed`)."""
    model_name: str
    """The model that wrote `final_response`."""


class OrchestrationFailed(_EventBase):
    """The orchestration ended without giving an answer: it had none (`reason` `error`, `budget`, …), or it was
    cancelled (`reason` `cancelled`, even when it had answers; its status is then `cancelled`, else `failed`)."""

    type: Literal["orchestration_failed"] = "orchestration_failed"
    """The event's discriminator."""
    reason: StopReason
    """Why it ended: a stop reason (`cancelled`, `error`, `budget`, …)."""
    error: str
    """What went wrong, in words. For a cancellation, why: `the orchestration was cancelled` (`Orchestrator.cancel`),
    the orchestrator was closed, its session ended, a cancel was requested through the store, or `run_sync()` was
    interrupted (Ctrl-C, a kernel interrupt)."""
    iterations: int
    """How many attempts the run made."""
    total_cost: float
    """US dollars the run spent in all: answers and judges."""


Event: TypeAlias = Annotated[
    OrchestrationStarted
    | ModelSelected
    | ResponseGenerated
    | EvaluationCompleted
    | OrchestrationCompleted
    | OrchestrationFailed,
    Field(discriminator="type"),
]
"""Any orchestration event."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(defer_build=True))
"""Validates and serialises any `Event`, e.g. `EVENT_ADAPTER.validate_json(text)`."""

EVENT_TYPES: tuple[str, ...] = (
    "orchestration_started",
    "model_selected",
    "response_generated",
    "evaluation_completed",
    "orchestration_completed",
    "orchestration_failed",
)
"""The six event types, in the order a run emits them."""

EventHandler: TypeAlias = Callable[[Event], Awaitable[Any] | Any]
"""A sync or async callable that receives each event."""


async def dispatch(handlers: Sequence[EventHandler], event: Event) -> None:
    """Call every handler with `event`; a handler that raises is logged and never breaks the run."""
    for handler in handlers:
        try:
            result = handler(event)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            _log_failure(handler, event, exc)
        except asyncio.CancelledError:  # the handler's own (it awaited something cancelled), unless the run's
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise
            logger.exception("event handler %r was cancelled on %s (seq %d)", handler, event.type, event.seq)


_TOLD: weakref.WeakKeyDictionary[Any, set[tuple[object, ...]]] = weakref.WeakKeyDictionary()
"""The failures of each handler whose traceback was logged: by exception type and the lines it was raised through (by
the handler's class for one that cannot be a key: those of its instances fail through the same lines)."""


def _log_failure(handler: EventHandler, event: Event, exc: Exception) -> None:
    """Log a handler's failure: its traceback the first time the handler fails so (the same exception raised by the
    same lines), then one line. A handler with a bug fails on every event: each of them printed the whole traceback, a
    dozen of them per run in a notebook cell."""
    where = (type(exc).__qualname__, *((f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)))
    try:
        told = _TOLD.setdefault(handler, set())
    except TypeError:  # not weakly referable (an object of a class with __slots__) or not hashable (a dataclass's):
        told = _TOLD.setdefault(type(handler), set())  # its class's failures (it logged every failure's traceback)
    if where in told:
        logger.error(
            "event handler %r failed again on %s (seq %d): %s: %s (traceback logged at its first failure)",
            handler,
            event.type,
            event.seq,
            type(exc).__name__,
            exc,
        )
        return
    told.add(where)
    logger.exception("event handler %r failed on %s (seq %d)", handler, event.type, event.seq)
