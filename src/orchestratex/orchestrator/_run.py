"""Driving one orchestration through the loop of DESIGN §4, persisting every step before the next."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from .._ids import utcnow
from ..catalog import ModelProfile
from ..evaluation import EvaluationTask
from ..events import (
    EvaluationCompleted,
    Event,
    EventHandler,
    ModelSelected,
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationStarted,
    ResponseGenerated,
    dispatch,
)
from ..exceptions import (
    BudgetExceeded,
    CircuitOpen,
    ContextLengthExceeded,
    EvaluationError,
    OrchestrateXError,
    ProviderError,
    StoreUnavailable,
)
from ..providers import Generation, GenerationRequest, Message, TextSink
from ..providers._base import estimate_message_tokens
from ..records import CallRecord, Iteration, Orchestration, Session, StopReason, Thread
from ..routing import Attempt, RoutingFeedback, Task, detect_domain
from ..stores import RoutingOutcome, Store
from ..telemetry import run_telemetry
from ..usage import Usage, add_costs
from ._budget import affordable_cap, price_generation, reserve_waiting
from ._durable import outcome, with_store_retries
from ._judges import JudgePlanner, Judging
from ._observe import collect
from ._prompts import build_messages, request_messages, system_message
from ._retry import call_with_retries
from ._stream import AnswerDelta, DeltaSink

if TYPE_CHECKING:
    from .orchestrator import Orchestrator

__all__ = ["Run"]

logger = logging.getLogger("orchestratex.orchestrator")

_EPS = 1e-12
_PREVIEW = 200


_Role = Literal["generate", "judge"]


def _assign(record: BaseModel, **fields: object) -> None:
    """Set `fields` of `record` at once, as pydantic's own assignment does for a model without
    `validate_assignment` (the values are already valid), without its per-field dispatch."""
    record.__dict__.update(fields)
    record.__pydantic_fields_set__.update(fields)


class _Stop(Exception):
    """Ends the run with `reason`; `ledger` holds what the step spent and reserved, settled by the final commit."""

    def __init__(self, reason: StopReason, error: str | None = None, ledger: _Ledger | None = None) -> None:
        super().__init__(error or reason)
        self.reason: StopReason = reason
        self.error = error
        self.ledger = ledger


class _Ledger:
    """What one step reserved, spent and called; settled by one store commit."""

    __slots__ = ("calls", "overage", "reserved_in_store", "reserved_local", "settled", "spent")

    def __init__(self) -> None:
        self.reserved_in_store = 0.0
        self.reserved_local = 0.0
        self.spent: list[float] = []
        self.overage: list[float] = []
        """What calls cost above the worst case reserved for them (see `Run._overage`)."""
        self.calls: list[CallRecord] = []
        self.settled: float | None = None
        """The step's spending once added to the orchestration's `total_cost` (it is added once)."""


class _Ready:
    """A generation prepared at its selection, whose reservation rode on the selection's commit."""

    __slots__ = ("index", "ledger", "model_name", "prepay", "request", "worst")

    def __init__(self, index: int, model_name: str, request: GenerationRequest, worst: float, prepay: float) -> None:
        self.index, self.model_name, self.request = index, model_name, request
        self.worst, self.prepay = worst, prepay
        self.ledger = _Ledger()


class Run:
    """The state of one orchestration being driven by one orchestrator."""

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
        self.doc = doc
        self.handlers = handlers
        self.on_delta = on_delta
        """Receives the generations' text as it streams (`run_stream`); generations do not stream without it."""
        self.failed: set[str] = set()
        self.min_context = 0
        self.inflight = 0.0
        self.prepaid = 0.0
        self._open: _Ledger | None = None
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
        self._ready: _Ready | None = None
        """The next generation's request and ledger, its reservation made with the commit of its selection."""
        self.lease_released = False
        """The final commit gave the lease up (`commit_step(release_lease=True)`)."""
        self.done = False
        self._pending: list[Event] = []
        """Events to store with the next commit (`orchestration_started` goes with the first routing decision)."""
        self._outcomes: list[RoutingOutcome] = []
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
        self._sent: tuple[str, str, list[Message]] | None = None
        """The last messages built for a generation, with their last user message and the system prompt they
        were built with (messages are immutable)."""

    # -- the loop -----------------------------------------------------------------------------
    async def drive(self) -> None:
        with self.telemetry.orchestration():
            await self._drive()

    async def _drive(self) -> None:
        try:
            await self._prepare()
            while not self.done:
                reason = self._stop_reason()
                if reason is not None:
                    raise _Stop(reason)
                await self._step()
        except _Stop as stop:
            await self._finish(stop.reason, stop.error, ledger=stop.ledger)
        except asyncio.CancelledError:
            if (self.done and not self._pending) or self.unknown is not None:  # ended, or must write nothing more
                raise
            if self.doc.id in self.o.suspending:
                await asyncio.shield(self._suspend())
            else:
                await self._finish("cancelled", "the orchestration was cancelled")
            raise
        except OrchestrateXError as exc:
            await self._finish("error", f"{type(exc).__name__}: {exc.message}")
        except Exception as exc:
            logger.exception("orchestration %s failed unexpectedly", self.doc.id)
            await self._finish("error", f"{type(exc).__name__}: {exc}")
            raise

    async def _step(self) -> None:
        """Advance the last iteration by one phase (or start the next one)."""
        it = self.doc.iterations[-1] if self.doc.iterations else None
        if it is None or it.phase in ("evaluated", "failed"):
            it = await self._select()
        if it.phase == "selected":
            await self._generate(it)
        if it.phase == "generated":
            if self.planner.needed(it.index):
                await self._evaluate(it)
            else:  # no decision depends on its verdict: returned unjudged
                it.phase = "evaluated"

    async def _prepare(self) -> None:
        doc, store = self.doc, self.o.store
        if doc.status == "pending":
            doc.domain = doc.domain or detect_domain(doc.prompt)
            doc.status = "running"
            self._pending.append(
                OrchestrationStarted(
                    **self._ids(),
                    prompt=doc.prompt,
                    domain=doc.domain,
                    max_iterations=doc.settings.max_iterations,
                    evaluation_threshold=doc.settings.evaluation_threshold,
                    simulated=self.o.simulated,
                )
            )
        else:  # resumed after a crash: what the dead process held reserved is released
            released = await store.release_reservations(doc.session_id, doc.id)
            if released > 0:
                doc.interrupted_calls += 1
            for it in doc.iterations:  # errors read "<model>: <exception>: <detail>"
                self.failed.update(e.split(": ", 1)[0] for e in it.errors if not e.startswith("evaluation: "))
        session, self._session = self._session, None
        if session is None or self.resumed:
            session = await store.get_session(doc.session_id)
        self.session_limit = session.settings.cost_limit
        self.session_base = session.total_cost - doc.total_cost
        self.judges = session.settings.judges or self.o.judges
        self.judging = session.settings.judging or self.o.judging

    def _stop_reason(self) -> StopReason | None:
        doc = self.doc
        if not doc.iterations or doc.iterations[-1].phase in ("selected", "generated"):
            return None
        scores = [it.evaluation.score for it in doc.iterations if it.evaluation is not None]
        if scores and max(scores) >= doc.settings.evaluation_threshold:
            return "threshold"
        if len(doc.iterations) >= doc.settings.max_iterations:
            return "max_iterations"
        patience = doc.settings.patience
        if len(scores) > patience and max(scores[-patience:]) <= max(scores[:-patience]):
            return "no_improvement"
        return None

    # -- steps ----------------------------------------------------------------------------------
    async def _select(self) -> Iteration:
        doc = self.doc
        prompt, messages = build_messages(doc, self.o.system_prompt)
        self._sent = (prompt, self.o.system_prompt, messages)
        task = self._task(prompt, messages)
        candidates = self._candidates(task)
        decision = await self.o.router.select(task, candidates)
        if decision.model_name not in {m.name for m in candidates}:
            raise _Stop("error", f"the router chose {decision.model_name!r}, which is not among the candidates")
        it = Iteration(
            index=len(doc.iterations) + 1, model_name=decision.model_name, reasoning=decision.reasoning, prompt=prompt
        )
        doc.iterations.append(it)
        self.telemetry.routed(it, decision.scores)
        ready = self._prepare_generation(it)
        if ready is None:
            await self._commit([self._selected_event(it, decision.scores)])
            return it

        def held() -> None:  # the store reserved the generation's worst case (and its judges') with the commit
            ready.ledger.reserved_in_store += ready.worst
            ready.ledger.reserved_local += ready.worst
            self.inflight += ready.worst + ready.prepay
            self.prepaid += ready.prepay
            self._open = ready.ledger
            self._ready = ready

        await self._commit(
            [self._selected_event(it, decision.scores)], reserve=ready.worst + ready.prepay, on_reserved=held
        )
        return it

    def _prepare_generation(self, it: Iteration) -> _Ready | None:
        """The generation of `it` as `_generate` would make it, when its reservation in the store can ride on
        the commit of its selection (a session budget, nothing prepaid left, the call fitting what is left)."""
        if self.session_limit is None or self.prepaid:
            return None
        model = self.o.catalog.get(it.model_name)
        if not self.o.circuit.allows(model.name):
            return None
        try:
            request, prepay, input_bound = self._generation_request(model, it)
            worst = model.worst_case_cost(input_bound, request.max_output_tokens)
        except OrchestrateXError:  # _generate meets it again and handles it
            return None
        remaining = self._remaining()
        if remaining is not None and worst > remaining + _EPS:
            return None
        with_judges = bool(prepay) and (remaining is None or worst + prepay <= remaining + _EPS)
        return _Ready(it.index, model.name, request, worst, prepay if with_judges else 0.0)

    async def _generate(self, it: Iteration) -> None:
        model = self.o.catalog.get(it.model_name)
        ready, self._ready = self._ready, None
        if ready is not None and (ready.index, ready.model_name) == (it.index, model.name):
            ledger = self._open = ready.ledger
        else:
            ready = None
            ledger = self._open = _Ledger()
        try:
            if ready is not None:
                gen = await self._call(
                    model,
                    ready.request,
                    ledger,
                    "generate",
                    reserved=ready.worst,
                    iteration=it.index,
                )
            else:
                request, prepay, _ = self._generation_request(model, it)
                gen = await self._call(
                    model, request, ledger, "generate", prepay=prepay if self.session_limit else 0.0, iteration=it.index
                )
        except (ProviderError, BudgetExceeded) as exc:
            await self._fallback(it, model, exc, ledger)
            return
        _assign(
            it,
            response=gen.text,
            usage=gen.usage,
            cost=gen.cost,
            catalog_cost=gen.catalog_cost,
            reported_cost=gen.reported_cost,
            latency_ms=gen.latency_ms,
            finish_reason=gen.finish_reason,
            phase="generated",
        )
        self._answer = (it.index, gen)
        event = ResponseGenerated(
            **self._ids(),
            model_name=model.name,
            response_preview=gen.text[:_PREVIEW],
            tokens_used=gen.usage.total_tokens,
            iteration=it.index,
            input_tokens=gen.usage.input_tokens,
            output_tokens=gen.usage.output_tokens,
            cost=gen.cost,
            latency_ms=gen.latency_ms,
        )
        await self._commit([event], ledger)

    def _generation_request(self, model: ModelProfile, it: Iteration) -> tuple[GenerationRequest, float, int]:
        """The request with its output cap (what the budget can pay for, judging kept aside), what to keep
        for judging the answer, and the request's input bound."""
        request = GenerationRequest(
            model=model,
            messages=self._messages(it.prompt),
            max_output_tokens=max(min(self.doc.settings.max_output_tokens, model.max_output_tokens), 1),
            temperature=None,
            stop=None,
            json_output=False,
            purpose="generate",
            domain=self.doc.domain or "general",
        )
        self.planner.decision()
        input_bound = self.o.provider_for(model).count_input_tokens(request)
        fit = self._fit(model, input_bound, request.max_output_tokens, it.index)
        if fit is None:
            raise BudgetExceeded(f"{model.name} no longer fits the budget or its answer could not be judged")
        request.max_output_tokens, judge_reserve = fit
        return request, judge_reserve, input_bound

    def _fit(self, model: ModelProfile, input_bound: int, limit: int, index: int) -> tuple[int, float] | None:
        """(output cap, judging reserve) for `model` answering a request of `input_bound` input tokens and up to
        `limit` output tokens as iteration `index`, or None when no judge could read its answer or the budget
        cannot pay for a useful cap plus the judging."""
        cap, need = self.o.output_lengths.cap(model, "generate", limit)
        judge_reserve = 0.0
        if self.planner.needed(index):
            reserve = self.planner.reserve_for(model.name, cap)
            if reserve is None:
                return None
            judge_reserve = reserve
        remaining = self._remaining()
        budget = None if remaining is None else remaining - judge_reserve
        sent = affordable_cap(model, input_bound, cap, need, budget)
        return None if sent is None else (sent, judge_reserve)

    async def _fallback(self, it: Iteration, model: ModelProfile, exc: Exception, ledger: _Ledger) -> None:
        """The iteration's model failed: record it and let the router pick another model."""
        detail = exc.message if isinstance(exc, OrchestrateXError) else str(exc)
        it.errors.append(f"{model.name}: {type(exc).__name__}: {detail}")
        self._release_prepaid(ledger)
        if isinstance(exc, BudgetExceeded):
            await self._refresh_session()
        else:
            self.failed.add(model.name)
        if isinstance(exc, ContextLengthExceeded):
            self.min_context = max(self.min_context, model.context_window + 1)
        if len(it.errors) > 2 * len(self.o.catalog):  # a budget race that keeps flipping between models
            raise _Stop("budget" if isinstance(exc, BudgetExceeded) else "error", detail, ledger)
        task = self._task(it.prompt, None)
        try:
            candidates = self._candidates(task, exclude={model.name})
        except _Stop as stop:
            if isinstance(exc, BudgetExceeded) and stop.reason == "error":  # nothing else to try: the budget stops it
                raise _Stop("budget", detail, ledger) from None
            stop.ledger = ledger
            raise
        decision = await self.o.router.select(task, candidates)
        if decision.model_name not in {m.name for m in candidates}:
            raise _Stop("error", f"the router chose {decision.model_name!r}, which is not among the candidates", ledger)
        it.model_name = decision.model_name
        it.reasoning = f"fallback after {model.name} failed ({type(exc).__name__}): {decision.reasoning}"
        self.telemetry.routed(it, decision.scores, fallback_from=model.name)
        await self._commit([self._selected_event(it, decision.scores)], ledger)

    async def _evaluate(self, it: Iteration) -> None:
        doc = self.doc
        ledger = self._open = _Ledger()
        judge_max = self.o.judge_max_output_tokens

        async def call(judge: ModelProfile, request: GenerationRequest) -> Generation:
            cap = self.planner.judge_cap(judge)
            if request.max_output_tokens > cap:
                request = request.model_copy(update={"max_output_tokens": cap})
            return await self._call(judge, request, ledger, "judge")

        etask = EvaluationTask(
            prompt=doc.prompt,
            domain=doc.domain or "general",
            generating_model=it.model_name,
            generator=self.o.catalog.get(it.model_name),
            judges=self.planner.pool(it.model_name),
            call=call,
            context=doc.context,
            iteration=it.index,
            max_output_tokens=judge_max,
            history=tuple(doc.messages[:-1]),  # `conversation(doc)[:-1]`, without building its last message
        )
        remaining = self._remaining()
        # what was reserved for the judges with the answer stays theirs, even after an overage of the answer
        budget = None if remaining is None else max(remaining, 0.0) + self.prepaid
        eligible = self.planner.eligible(etask, it.response or "", budget)
        if etask.judges and not eligible:  # say why, rather than "no judge available"
            answer_text = it.response or ""
            by_budget = bool(self.planner.eligible(etask, answer_text, None))
            left = max(budget or 0.0, 0.0)
            why = (
                f"no judge's worst case fits the ${left:.6f} left"
                if by_budget
                else "no judge's context window holds the prompt and this answer"
            )
            it.errors.append(f"evaluation: {'BudgetExceeded' if by_budget else 'EvaluationError'}: {why}")
            it.phase = "failed"
            raise _Stop("budget" if by_budget else "error", why, ledger)
        if len(eligible) != len(etask.judges):  # (`eligible` keeps the judges' order)
            etask = replace(etask, judges=eligible)
        answer, self._answer = self._answer, None
        if answer is None or answer[0] != it.index or answer[1].model_name != it.model_name:
            answer = (it.index, self._generation(it))
        try:
            with self.telemetry.judgment(it) as judgment:
                evaluation = await self.o.evaluator.evaluate(etask, answer[1])
                judgment.done(evaluation)
        except (BudgetExceeded, EvaluationError) as exc:
            it.errors.append(f"evaluation: {type(exc).__name__}: {exc.message}")
            it.phase = "failed"
            ledger.calls.append(self._answer_record(it, None))  # paid for: counted in analytics as well
            raise _Stop("budget" if isinstance(exc, BudgetExceeded) else "error", exc.message, ledger) from exc
        it.evaluation = evaluation
        it.phase = "evaluated"
        self._release_prepaid(ledger)
        scores = {v.judge_model: v.score for v in evaluation.verdicts}
        for record in ledger.calls:
            record.score = scores.get(record.model_name)
        ledger.calls.append(self._answer_record(it, evaluation.score))
        event = EvaluationCompleted(
            **self._ids(),
            evaluator_model=",".join(evaluation.judge_models),
            score=evaluation.score,
            feedback=evaluation.feedback,
            iteration=it.index,
            cost=evaluation.cost,
        )
        # the router learns first: what it keeps in the store is written with the step's commit
        outcomes = await self._observe(
            RoutingFeedback(
                domain=doc.domain or "general",
                model_name=it.model_name,
                score=evaluation.score,
                cost=it.cost,
                latency_ms=it.latency_ms,
                output_tokens=it.usage.output_tokens,
                prompt=doc.prompt,
                iteration=it.index,
                attempts=self._attempts(before=it.index),
                threshold=doc.settings.evaluation_threshold,
                evaluation_cost=evaluation.cost,
            )
        )
        reason = self._stop_reason()
        if reason is None:
            await self._commit([event], ledger, outcomes=outcomes)
        else:  # the evaluation ends the run: one commit for both
            await self._finish(reason, None, events=[event], ledger=ledger, outcomes=outcomes)

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

    async def _observe(self, feedback: RoutingFeedback) -> list[RoutingOutcome]:
        """Let the router learn; returns what it would write to the store's statistics, for the step's commit.
        They are best effort: a fault there does not fail the run."""
        with collect() as outcomes:
            try:
                await self.o.router.observe(feedback)
            except OrchestrateXError as exc:
                logger.warning("the router could not record %s's outcome: %s", feedback.model_name, exc.message)
        return outcomes

    async def _finish(
        self,
        reason: StopReason,
        error: str | None,
        *,
        events: Sequence[Event] = (),
        ledger: _Ledger | None = None,
        outcomes: Sequence[RoutingOutcome] = (),
    ) -> None:
        if self.done and not self._pending:  # its final commit is in the store: the run has ended already
            return
        if self.unknown is not None:
            raise self.unknown
        self.done = True
        doc = self.doc
        ledger = ledger or self._open
        last = doc.iterations[-1] if doc.iterations else None
        if last is not None and last.phase == "generated":  # its evaluation never ended: record the answer
            ledger = ledger or _Ledger()
            ledger.calls.append(self._answer_record(last, None))
        if ledger is not None:
            self._settle(ledger)  # the final event reports a total that includes this step
        best = doc.best_iteration
        _assign(doc, stop_reason=reason, error=error)
        if best is not None:
            _assign(doc, final_response=best.response, final_score=best.score, final_model=best.model_name)
        event: Event
        if reason != "cancelled" and best is not None and best.response is not None:
            doc.status = "completed"
            event = OrchestrationCompleted(
                **self._ids(),
                final_response=best.response,
                iterations=len(doc.iterations),
                final_score=best.score,
                total_cost=doc.total_cost,
                stop_reason=reason,
                model_name=best.model_name,
            )
        else:
            doc.status = "cancelled" if reason == "cancelled" else "failed"
            event = OrchestrationFailed(
                **self._ids(),
                reason=reason,
                error=error or reason,
                iterations=len(doc.iterations),
                total_cost=doc.total_cost,
            )
        # a final commit that did not get through (the store failed, or the run was cancelled while it
        # was written) is replaced by this one: an orchestration has exactly one final event
        self._pending = [e for e in self._pending if not isinstance(e, OrchestrationCompleted | OrchestrationFailed)]
        final = [*events, event]
        if self.prepaid:
            ledger = ledger or _Ledger()
            self._release_prepaid(ledger)
        if reason == "cancelled":  # the task is being cancelled: the final commit must still happen
            await asyncio.shield(self._commit(final, ledger, outcomes=outcomes, release_lease=True))
        else:
            await self._commit(final, ledger, outcomes=outcomes, release_lease=True)

    async def _suspend(self) -> None:
        """Stop without ending: settle the step in progress (what it spent is counted, its reservations
        released) and leave the orchestration `running`, for any process's `resume_pending()`."""
        ledger = self._open
        if self.prepaid:
            ledger = ledger or _Ledger()
            self._release_prepaid(ledger)
        if ledger is not None or self._pending:
            await self._commit([], ledger)

    # -- calls and budget -------------------------------------------------------------------------
    async def _call(
        self,
        model: ModelProfile,
        request: GenerationRequest,
        ledger: _Ledger,
        role: _Role,
        *,
        prepay: float = 0.0,
        reserved: float = 0.0,
        iteration: int = 0,
    ) -> Generation:
        """Make one call; `reserved`, when given, is its worst case, held already (reserved with the previous
        commit, priced on this very request)."""
        circuit = self.o.circuit
        if not circuit.allows(model.name):
            raise CircuitOpen(f"{model.name} is cooling down after repeated failures", model=model.name)
        provider = self.o.provider_for(model)
        worst = reserved or model.worst_case_cost(provider.count_input_tokens(request), request.max_output_tokens)
        if not reserved:
            await self._reserve(worst, ledger, prepay=prepay)
        circuit.before_call(model.name)

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, ContextLengthExceeded):
                circuit.record_failure(model.name)

        def attempt() -> Awaitable[Generation]:
            if role == "generate" and self.on_delta is not None:  # each attempt streams from the start
                return provider.generate_stream(request, self._text_sink(model.name, iteration))
            return provider.generate(request)

        try:
            with self.telemetry.call(model, request, role) as call:
                gen = await call_with_retries(attempt, self.o.retry, on_failure=failed)
                price_generation(model, gen)
                call.done(gen, gen.cost)
        except ProviderError as exc:
            ledger.calls.append(self._record(model.name, role, 0.0, Usage(), 0.0, None, error=type(exc).__name__))
            raise
        circuit.record_success(model.name)
        self.o.output_lengths.observe(
            model.name, role, gen.usage.output_tokens, finish_reason=gen.finish_reason, cap=request.max_output_tokens
        )
        if not gen.model_name:
            gen.model_name = model.name
        ledger.spent.append(gen.cost)
        if gen.cost > worst + _EPS:
            self._overage(model, gen.cost, worst, ledger)
        if role == "judge":
            ledger.calls.append(self._record(model.name, role, gen.cost, gen.usage, gen.latency_ms, None, gen=gen))
        return gen

    def _text_sink(self, model_name: str, iteration: int) -> TextSink:
        deliver, oid = self.on_delta, self.doc.id
        index = 0

        async def on_text(text: str) -> None:
            nonlocal index
            if deliver is not None and text:
                deliver(AnswerDelta(oid, iteration, model_name, text, index))
                index += 1

        return on_text

    def _overage(self, model: ModelProfile, cost: float, worst: float, ledger: _Ledger) -> None:
        """The provider reported more usage than the call's reserved worst case.

        The policy (docs/guarantees.md): the whole reported cost is counted — `total_cost` is what the
        provider bills — and the excess is recorded as `overage_cost`; the model is used no more in
        this run, and as the overage is counted against the limit, no further call is made unless its
        own worst case still fits what is left.
        """
        over = add_costs(cost, -worst)
        ledger.overage.append(over)
        self.failed.add(model.name)
        if self.doc.iterations:  # the iteration whose answer or judging it was
            self.doc.iterations[-1].errors.append(
                f"{model.name}: CostOverrun: reported usage cost ${cost:.6f}, ${over:.6f} above the"
                f" ${worst:.6f} reserved for the call"
            )
        logger.warning(
            "%s cost $%.6f, $%.6f above its reserved worst case: excluded from the run", model.name, cost, over
        )

    def _remaining(self) -> float | None:
        doc = self.doc
        limits = []
        if doc.settings.cost_limit is not None:
            limits.append(doc.settings.cost_limit - doc.total_cost - self.inflight)
        if self.session_limit is not None:
            limits.append(self.session_limit - self.session_base - doc.total_cost - self.inflight)
        return min(limits) if limits else None

    async def _reserve(self, amount: float, ledger: _Ledger, *, prepay: float = 0.0) -> None:
        """Reserve `amount` for one call (plus `prepay` for the judges to come, when it fits)."""
        if self.prepaid:  # reserved in the store with the generation, for the judges: used first
            taken = min(self.prepaid, amount)
            self.prepaid = self.prepaid - taken if self.prepaid - taken > _EPS else 0.0
            ledger.reserved_in_store += taken
            ledger.reserved_local += taken
            amount -= taken
            if amount <= _EPS:
                return
        remaining = self._remaining()
        if remaining is not None and amount > remaining + _EPS:
            raise BudgetExceeded(
                f"a call may cost up to ${amount:.6f} but ${max(remaining, 0):.6f} is left",
                remaining=remaining,
                needed=amount,
            )
        if self.session_limit is not None:
            with_judges = bool(prepay) and remaining is not None and amount + prepay <= remaining + _EPS
            if not (with_judges and await self._reserve_in_store(amount, ledger, prepay=prepay)):
                ok, held = await reserve_waiting(
                    lambda: self._reserve_in_store(amount, ledger),
                    self.o.store,
                    self.doc.session_id,
                    amount,
                    limit=self.session_limit,
                    own=self.inflight,
                    timeout=self.o.reservation_wait_s,
                )
                if not ok:
                    waited = (
                        f"; other runs of the session held ${held:.6f} for {self.o.reservation_wait_s:g}s"
                        if held
                        else ""
                    )
                    raise BudgetExceeded(
                        f"the session's budget cannot cover a call of up to ${amount:.6f}{waited}", needed=amount
                    )
        else:
            ledger.reserved_local += amount
            self.inflight += amount

    async def _reserve_in_store(self, amount: float, ledger: _Ledger, *, prepay: float = 0.0) -> bool:
        """Reserve `amount` (+ `prepay` for the judges) in the store; the ledger records what the store
        did even when the run is cancelled while the store writes it, so the reservation is released."""
        store, sid, oid = self.o.store, self.doc.session_id, self.doc.id

        def held(ok: bool) -> None:
            if ok:
                ledger.reserved_in_store += amount
                ledger.reserved_local += amount
                self.inflight += amount + prepay
                self.prepaid += prepay

        return await outcome(
            with_store_retries(
                lambda: store.reserve_budget(sid, oid, amount + prepay), self.o.store_retry, f"reserving for {oid}"
            ),
            held,
        )

    def _settle(self, ledger: _Ledger) -> float:
        """Add what the step spent to the orchestration's total (once); return it."""
        if ledger.settled is None:
            ledger.settled = add_costs(*ledger.spent) if ledger.spent else 0.0
            if ledger.settled:
                self.doc.total_cost = add_costs(self.doc.total_cost, ledger.settled)
            if ledger.overage:
                self.doc.overage_cost = add_costs(self.doc.overage_cost, *ledger.overage)
        return ledger.settled

    def _release_prepaid(self, ledger: _Ledger) -> None:
        """Hand what is left of the judges' prepaid reservation to `ledger`, released by its commit."""
        if self.prepaid:
            ledger.reserved_in_store += self.prepaid
            ledger.reserved_local += self.prepaid
            self.prepaid = 0.0

    async def _refresh_session(self) -> None:
        session = await self.o.store.get_session(self.doc.session_id)
        self.session_base = session.total_cost - self.doc.total_cost

    # -- candidates -------------------------------------------------------------------------------
    def _messages(self, last_user: str) -> list[Message]:
        """`request_messages` for this run's conversation ending with `last_user` (the last ones built, reused:
        not to be changed in place)."""
        sent, system = self._sent, self.o.system_prompt
        if sent is None or sent[0] != last_user or sent[1] != system:
            sent = self._sent = (last_user, system, request_messages(self.doc, system, last_user))
        return sent[2]

    def _task(self, prompt: str, messages: list[Message] | None) -> Task:
        doc = self.doc
        msgs = messages or self._messages(prompt)
        bound = estimate_message_tokens(msgs)
        scores = [it.evaluation.score for it in doc.iterations if it.evaluation is not None]
        return Task(
            prompt=prompt,
            domain=doc.domain or "general",
            original_prompt=doc.prompt,
            context=doc.context,
            iteration=len(doc.iterations) + (0 if doc.iterations and doc.iterations[-1].phase == "selected" else 1),
            input_tokens=bound,
            max_output_tokens=doc.settings.max_output_tokens,
            remaining_budget=self._remaining(),
            previous_models=tuple(it.model_name for it in doc.iterations),
            best_score=max(scores) if scores else None,
            threshold=doc.settings.evaluation_threshold,
            attempts=self._attempts(),
            max_iterations=doc.settings.max_iterations,
        )

    def _attempts(self, before: int | None = None) -> tuple[Attempt, ...]:
        """The judged (or answered) iterations so far, as the router sees them; only those before `before`."""
        return tuple(
            Attempt(
                it.model_name,
                it.evaluation.score if it.evaluation else None,
                it.cost,
                it.evaluation.feedback if it.evaluation else None,
            )
            for it in self.doc.iterations
            if it.phase in ("generated", "evaluated") and (before is None or it.index < before)
        )

    def _candidates(self, task: Task, exclude: set[str] | None = None) -> list[ModelProfile]:
        """Models the router may choose: usable, preferred, fitting the window, the budget and the circuit."""
        self.planner.decision()
        usable = self.o.usable_models(self.doc.settings.preferred_models)
        usable = [
            m
            for m in usable
            if m.name not in self.failed
            and (not exclude or m.name not in exclude)
            and m.context_window >= self.min_context
            and task.input_tokens // 4 + min(task.max_output_tokens, m.max_output_tokens) <= m.context_window
            and self.o.circuit.allows(m.name)
        ]
        if not usable:
            raise _Stop("error", "no model is available: every candidate failed, is cooling down or is too small")
        # (the last message built is `task.prompt`'s)
        msgs = [system_message(self.o.system_prompt), self._messages(task.prompt)[-1]]
        fitting, unjudgeable = [], 0
        bounds: dict[int, int | None] = {}  # per provider, when its count is the same for all its models
        for m in usable:
            limit = max(min(task.max_output_tokens, m.max_output_tokens), 1)
            provider = self.o.provider_for(m)
            if id(provider) not in bounds:
                bounds[id(provider)] = provider._message_bound(msgs)
            bound = bounds[id(provider)]
            if bound is None:
                bound = provider.count_input_tokens(GenerationRequest(model=m, messages=msgs, max_output_tokens=limit))
            if self._fit(m, bound, limit, task.iteration) is not None:
                fitting.append(m)
            elif self.planner.needed(task.iteration) and self.planner.reserve_for(m.name, 1) is None:
                unjudgeable += 1
        if fitting:
            return fitting
        if unjudgeable == len(usable):
            if not any(self.planner.pool(m.name) for m in usable):
                raise _Stop("error", "no judge is available: a judge must be another usable model that is not failing")
            raise _Stop(
                "error",
                "no judge can read this prompt and its answer: every judge's context window is too small "
                "(add a judge with a larger window, or judge less text)",
            )
        remaining = task.remaining_budget or 0.0
        raise _Stop("budget", f"no model's worst-case cost (with judging) fits the ${max(remaining, 0):.6f} left")

    # -- persistence ------------------------------------------------------------------------------
    def _ids(self) -> dict[str, str]:
        doc = self.doc
        return {"orchestration_id": doc.id, "thread_id": doc.thread_id, "session_id": doc.session_id}

    def _selected_event(self, it: Iteration, scores: dict[str, float]) -> ModelSelected:
        return ModelSelected(
            **self._ids(), model_name=it.model_name, reasoning=it.reasoning, iteration=it.index, scores=scores
        )

    def _answer_record(self, it: Iteration, score: float | None) -> CallRecord:
        """The call record of an iteration's answer, committed when its evaluation ends (or its run does)."""
        return self._record(it.model_name, "generate", it.cost, it.usage, it.latency_ms, score, gen=it)

    def _record(
        self,
        model_name: str,
        role: _Role,
        cost: float,
        usage: Usage,
        latency_ms: float,
        score: float | None,
        *,
        error: str | None = None,
        gen: Generation | Iteration | None = None,
    ) -> CallRecord:
        doc = self.doc
        return CallRecord(
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

    async def _commit(
        self,
        events: list[Event],
        ledger: _Ledger | None = None,
        *,
        reserve: float = 0.0,
        on_reserved: Callable[[], None] | None = None,
        outcomes: Sequence[RoutingOutcome] = (),
        release_lease: bool = False,
    ) -> None:
        """Commit the step: the orchestration, `events` (after any left pending) and `ledger`, all or nothing;
        with it (`Store.commit_step`), reserve `reserve` for the next call (`on_reserved()` runs once the
        store holds it), add the router's `outcomes` to its statistics and, for the final commit, give up
        the lease. Outcomes a failed commit did not write go with the next one.

        The run's own bookkeeping changes only once the store has the commit: a commit that fails
        (after bounded retries of `StoreUnavailable`) leaves its events pending and its ledger open,
        so the run's final commit carries them; a cancellation while it is written waits for the
        outcome, so the step is neither lost nor settled twice.
        """
        events = [*self._pending, *events]
        outcomes = [*self._outcomes, *outcomes]
        doc = self.doc
        spent = self._settle(ledger) if ledger is not None else 0.0  # added to doc.total_cost once only
        calls = list(ledger.calls) if ledger is not None else []
        released = ledger.reserved_in_store if ledger is not None else 0.0

        stored = False

        def landed(granted: bool) -> None:
            nonlocal stored
            stored = True
            self.unstarted = False
            self._pending = []
            self._outcomes = []
            if ledger is not None:
                self.inflight -= ledger.reserved_local
                if ledger is self._open:
                    self._open = None
            self.emitted.extend(events)
            if granted and reserve and on_reserved is not None:
                on_reserved()
            if release_lease:
                self.lease_released = True
                self.o.lease_given_up(doc.id)

        self._pending = events
        self._outcomes = outcomes
        if ledger is not None:
            self._open = ledger  # until the store has it, the final commit still owes this step

        try:
            await outcome(self._write(events, calls, spent, released, reserve, outcomes, release_lease), landed)
        finally:
            if stored and self.handlers:  # handlers see every stored event, even if the run is cancelled meanwhile
                for event in events:
                    await dispatch(self.handlers, event)

    async def _write(
        self,
        events: list[Event],
        calls: list[CallRecord],
        spent: float,
        released: float,
        reserve: float,
        outcomes: Sequence[RoutingOutcome],
        release_lease: bool,
    ) -> bool:
        """`_commit`'s write (`Store.commit_step`, or `Store.start` for the run's first), retried while the store
        is unavailable; whether `reserve` was reserved."""
        doc, store, owner = self.doc, self.o.store, self.o.owner

        def step() -> Awaitable[bool]:
            if self.unstarted:
                return self._start(store, events, reserve, release_lease)
            return store.commit_step(
                doc,
                events,
                calls=calls,
                spent=spent,
                released=released,
                owner=owner,
                reserve=reserve,
                outcomes=outcomes,
                release_lease=release_lease,
            )

        try:
            return await with_store_retries(step, self.o.store_retry, f"committing orchestration {doc.id}")
        except StoreUnavailable:  # nothing was written: the run's final commit carries the step
            raise
        except Exception as exc:
            self.unknown = exc
            raise

    async def _start(self, store: Store, events: list[Event], reserve: float, release_lease: bool) -> bool:
        """The run's first commit: store the orchestration, its new thread, its lease, `events` and the reservation
        of `reserve` in one round trip (`Store.start`); whether `reserve` was reserved. Before it the run has made
        no call: nothing is spent, released or recorded. A run that ends before it (no model could be chosen, it
        was cancelled while routing) is stored ended, and its lease given up at once."""
        doc = self.doc
        started = await store.start(
            doc, thread=self._new_thread, owner=self.o.owner, ttl_s=self.o.lease_ttl_s, events=events, reserve=reserve
        )
        self.session_base = started.session.total_cost - doc.total_cost
        if started.session.status in ("completed", "cancelled"):  # ended since the caller read it: stop at once
            self.o._watcher.check_soon(doc.id)
        if release_lease:
            try:
                await store.release(doc.id, self.o.owner)
            except Exception as exc:  # the lease expires after its ttl
                logger.warning("releasing the lease of %s failed: %s", doc.id, exc)
        return started.reserved
