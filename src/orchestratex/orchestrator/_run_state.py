"""The state of one orchestration being driven, and the records and events it builds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._ids import utcnow
from .._seal import made, prepare, seal
from ..catalog import ModelProfile
from ..events import (
    EvaluationCompleted,
    Event,
    EventHandler,
    ModelSelected,
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationStarted,
    ResponseGenerated,
)
from ..providers import Generation, Message
from ..records import (
    CallRecord,
    Evaluation,
    Iteration,
    JudgeVerdict,
    Orchestration,
    OrchestrationSettings,
    Session,
    Thread,
)
from ..stores import RoutingOutcome
from ..telemetry import run_telemetry
from ..usage import Usage
from ._judges import JudgePlanner, Judging
from ._ledger import Ledger, Ready, Role
from ._stream import DeltaSink

if TYPE_CHECKING:
    from .orchestrator import Orchestrator

__all__ = ["RunState", "answer_record", "call_record"]

prepare(  # the records and events of runs, before any is made (see `_seal._key_sharing`)
    Orchestration,
    OrchestrationSettings,
    Iteration,
    Evaluation,
    JudgeVerdict,
    Usage,
    CallRecord,
    OrchestrationStarted,
    ModelSelected,
    ResponseGenerated,
    EvaluationCompleted,
    OrchestrationCompleted,
    OrchestrationFailed,
)

_NO_MODELS: frozenset[str] = frozenset()
"""The empty set every run starts with (`frozenset()` makes a new one each call)."""


class RunState:
    """What a `Run` knows about its orchestration: its document, its budget, its pending writes. (Slotted, as are its
    subclasses: a run holds about 40 attributes, past the 30 an instance dictionary shares its keys for, and a
    dictionary of its own took 1.6 KB of every run in flight, its slots 0.3 KB.)"""

    __slots__ = (
        "_answer",
        "_new_thread",
        "_open",
        "_outcomes",
        "_pending",
        "_ready",
        "_sent",
        "_session",
        "abandoned",
        "asking",
        "circuit",
        "doc",
        "done",
        "emitted",
        "evaluator",
        "failed",
        "handlers",
        "inflight",
        "judges",
        "judging",
        "lease_released",
        "min_context",
        "not_judging",
        "o",
        "on_delta",
        "picked",
        "planner",
        "prepaid",
        "refused",
        "resumed",
        "router",
        "session_base",
        "session_limit",
        "stop_asked",
        "stop_why",
        "stored_at",
        "telemetry",
        "unasked",
        "unknown",
        "unstarted",
        "wait_left",
    )

    def __init__(
        self,
        orchestrator: Orchestrator,
        doc: Orchestration,
        handlers: Sequence[EventHandler],
        on_delta: DeltaSink | None = None,
        session: Session | None = None,
        *,
        start: bool = False,
        new_thread: Thread | None = None,
    ) -> None:
        self.o = orchestrator
        self.router = orchestrator.router
        """The router this run started with, to its end: one set on the orchestrator meanwhile routes from the next
        run on (a run in flight took it up from its next step: unattached, it stored none of its observations, and an
        unfitted `FittedRouter` failed the run)."""
        self.evaluator = orchestrator.evaluator
        """The evaluator this run started with, to its end (as `router`)."""
        self.circuit = orchestrator.circuit
        """The orchestrator's circuit breaker (read here, not through its property, at each of the run's checks; a
        `CircuitPolicy` set meanwhile changes this breaker's policy in place)."""
        self.doc = doc
        seal((doc,))  # its records share one "every field set" marker per class (see `_seal`)
        self.handlers = handlers
        self.on_delta = on_delta
        """Receives the generations' text as it streams (`run_stream`); generations do not stream without it."""
        self.failed = _NO_MODELS
        """Models that failed in this run: routing candidates no more (a new set when one is added: a run in flight
        holds the shared empty one rather than an empty set of its own; so do `handlers`, `_pending` and `_outcomes`,
        tuples or lists as they come)."""
        self.not_judging = _NO_MODELS
        """The failed models that may not judge either: their failure showed them unusable in this run, not only
        one answer failed (see `_failures`)."""
        self.unasked = _NO_MODELS
        """Models never asked in this run, in `failed` as their provider refused its key (a 401) to another: see
        `Spending._key_refused`."""
        self.min_context = 0
        self.picked: ModelProfile | None = None
        """The model the router last picked, as it was then: it gives the answer it was picked for (and that answer
        is judged) even if it leaves the catalog meanwhile; it is no candidate nor judge from the next decision on."""
        self.inflight = 0.0
        self.prepaid = 0.0
        self.asking = 0.0
        """What this run's calls have asked the store to reserve and it has not answered yet: counted as held by
        `_remaining`, so that a call checked meanwhile (another judge of the panel) is checked against it."""
        self.wait_left = orchestrator.reservation_wait_s
        """Seconds this iteration may still wait for the session's other runs to release reservations (its calls,
        their fallbacks and its judges share one `reservation_wait_s`, not one each)."""
        self.abandoned = 0
        """Calls cancelled while in flight (awaiting their model, or retrying it): what a suspended run abandons,
        recorded in `Orchestration.abandoned_calls` for the run that resumes it."""
        self._open: Ledger | None = None
        """The current step's ledger until its commit: a run that ends mid-step (error, cancellation)
        settles it in the final commit, so no reservation outlives the run."""
        """Reserved in the store with a generation for the judges that follow it (one store call, not two)."""
        self.session_limit: float | None = None
        self.session_base = 0.0
        """What the session's other runs have spent (their reservations are waited for, not subtracted)."""
        self.judges: list[str] | None = None
        self.judging: Judging = orchestrator.judging
        self.planner = JudgePlanner(self)
        self.resumed = doc.status != "pending"
        self._session = session
        """The session as the run was planned with it (else read at the start): the budget's basis until the store
        says more (the store's reservations are authoritative)."""
        self.unstarted = start
        """The orchestration is not in the store yet: the first commit stores it (`Store.start`) with the first
        routing decision, the lease and the reservation of its generation."""
        self._new_thread = new_thread
        """The orchestration's new thread, stored with it."""
        self._ready: Ready | None = None
        """The next generation's request and ledger, its reservation made with the commit of its selection."""
        self.stored_at = doc.updated_at
        """The orchestration's `updated_at` as the store has it from this run's last commit (or as read): a failed
        commit may have set the document's own already (SQLite does), not the stored one's."""
        self.lease_released = False
        """The final commit gave the lease up (`commit_step(release_lease=True)`)."""
        self.done = False
        self.stop_asked = False
        """`Orchestrator.cancel` was called by one of the run's own event handlers: it ends `cancelled` before its next
        call (its task cannot be cancelled and awaited from within itself)."""
        self.stop_why: str | None = None
        """Why the store stopped the run (its session ended, a cancel was requested): its `error` when it ends
        `cancelled` (else `Orchestrator.cancel_reason`)."""
        self.refused = False
        """The run's session had ended before the run was stored (`Store.start` said so): it ends at once, and its
        caller gets `Conflict` as if the session had been given by id."""
        self._pending: Sequence[Event] = ()
        """Events to store with the next commit (`orchestration_started` goes with the first routing decision)."""
        self._outcomes: Sequence[RoutingOutcome] = ()
        """The router's observations, written with the next commit."""
        self.emitted: list[Event] = []
        """Events this run committed, in order (a resumed run's earlier ones are in the store)."""
        self.unknown: BaseException | None = None
        """A commit failed with an error other than `StoreUnavailable`: whether it was written is not known
        (a MongoDB step recorded but not completed is rolled forward later), so the run writes nothing
        more and stops as a crash would, to be resumed from what the store has."""
        self.telemetry = run_telemetry(orchestrator, doc)
        """Log lines, spans and metrics of this run (a shared no-op when nothing listens)."""
        self._answer: tuple[int, Generation] | None = None
        """The last answer's generation and its iteration's index: the evaluator gets it as the provider returned it."""
        self._sent: tuple[str, str, list[Message], int] | None = None
        """The last messages built for a generation, with their last user message and the system prompt they
        were built with, and their byte bound (`estimate_message_tokens`: counted once, as their text can be long)
        (messages are immutable); dropped once the generation has answered, rather than held while
        its judges answer (0.6 KB a run in flight)."""

    # -- records and events ---------------------------------------------------------------------
    def _ids(self) -> dict[str, str]:
        doc = self.doc
        return {"orchestration_id": doc.id, "thread_id": doc.thread_id, "session_id": doc.session_id}

    def _selected_event(self, it: Iteration, scores: dict[str, float]) -> ModelSelected:
        return made(
            ModelSelected,
            **self._ids(),
            model_name=it.model_name,
            reasoning=it.reasoning,
            iteration=it.index,
            scores=dict(scores),  # (its own, as validation would copy it)
        )

    def _answer_record(self, it: Iteration, score: float | None) -> CallRecord:
        """The call record of an iteration's answer, committed when its evaluation ends (or its run does)."""
        return answer_record(self.doc, it, score)

    @staticmethod
    def _generation(it: Iteration) -> Generation:
        """The answer of `it` as its generation (for a run resumed between the answer and its evaluation)."""
        return Generation(
            text=it.response or "",
            usage=it.usage,
            latency_ms=it.latency_ms,
            finish_reason=it.finish_reason,
            model_name=it.model_name,
            cost=it.cost,
            reported_cost=it.reported_cost,
            catalog_cost=it.catalog_cost,
        )


def answer_record(doc: Orchestration, it: Iteration, score: float | None) -> CallRecord:
    """The call record of iteration `it`'s answer in `doc`, scored `score` (None: never judged)."""
    return call_record(doc, it.model_name, "generate", it.cost, it.usage, it.latency_ms, score, gen=it)


def call_record(
    doc: Orchestration,
    model_name: str,
    role: Role,
    cost: float,
    usage: Usage,
    latency_ms: float,
    score: float | None,
    *,
    error: str | None = None,
    gen: Generation | Iteration | None = None,
) -> CallRecord:
    """The call record of one call of `doc`'s run (made sealed: its values are the run's own, already valid)."""
    return made(
        CallRecord,
        orchestration_id=doc.id,
        session_id=doc.session_id,
        user_id=doc.user_id,
        model_name=model_name,
        role=role,
        domain=doc.domain or "general",
        cost=cost,
        catalog_cost=gen.catalog_cost if gen is not None else None,
        reported_cost=gen.reported_cost if gen is not None else None,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        latency_ms=latency_ms,
        score=score,
        error=error,
        created_at=utcnow(),
    )
