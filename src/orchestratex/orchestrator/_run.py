"""Driving one orchestration through the loop of DESIGN §4, persisting every step before the next."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Collection, Sequence
from dataclasses import replace

from .._dollars import dollars
from .._seal import made, seal
from ..catalog import ModelCatalog, ModelProfile
from ..evaluation import EvaluationTask
from ..evaluation._base import RunJudgeCall, checked_evaluation
from ..evaluation._base import _builtin_evaluate as builtin_evaluate
from ..events import (
    EvaluationCompleted,
    Event,
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationStarted,
    ResponseGenerated,
)
from ..exceptions import (
    BudgetExceeded,
    ConfigurationError,
    ContextLengthExceeded,
    EvaluationError,
    OrchestrateXError,
    ProviderError,
    ProviderNotConfigured,
    RateLimited,
    UnknownModelError,
    UserError,
)
from ..providers import Generation, GenerationRequest
from ..providers._base import TestSetupError, counted_input_tokens, estimate_message_tokens, least_output_tokens
from ..records import Evaluation, Iteration, JudgeVerdict, Session, StopReason
from ..routing import RoutingFeedback, detect_domain
from ..routing._base import checked_decision
from ..stores import RoutingOutcome
from ..usage import Usage, add_costs
from ._checks import inactive_session
from ._commits import Committing
from ._durable import with_store_retries
from ._failures import (
    SET_ASIDE,
    failure_kind,
    judge_failure_recorded,
    judges_failure_kind,
    keeps_judging,
    keeps_judging_recorded,
    recorded_kind,
)
from ._ledger import EPS, Ledger, Ready, Stop, assign
from ._observe import collect
from ._portal import INTERRUPTED
from ._prompts import build_messages
from ._spending import KEPT
from ._watch import CANCEL_REQUESTED, ending_here

__all__ = ["RETRY_AFTER_NOTE", "Run"]

RETRY_AFTER_NOTE = " (the provider asked to retry after "
"""How a rate-limited call's recorded failure ends when its provider said how long to wait (`Retry-After`), the
seconds then `s)`: the stored text kept no wait, so `/v1` told its client to retry in 1 s when the provider said 7."""

logger = logging.getLogger("orchestratex.orchestrator")

_PREVIEW = 200
HANDBACK_S = 10.0
"""How long a suspended run's hand-back retries a store that is unavailable (the busy timeout of one SQLite write):
a server's stop (`shutdown_grace_s` plus the hand-back) must end before its orchestrator kills it (Kubernetes: 30 s)."""
_NO_USAGE = made(Usage)
"""The usage of an iteration not answered yet (frozen: one for all, replaced by its answer's)."""


class Run(Committing):
    """The state of one orchestration being driven by one orchestrator: the loop of DESIGN §4."""

    __slots__ = ()

    # -- the loop -----------------------------------------------------------------------------
    # (one coroutine for the whole loop, not one per level: a run in flight holds every frame of its await chain)
    async def drive(self) -> None:
        try:
            with self.telemetry.orchestration():
                try:
                    await self._prepare()
                    while not self.done:
                        if self.stop_asked:
                            raise Stop("cancelled", self.stop_why or self.o.cancel_reason)
                        step = self._next_step()
                        if step is not None:
                            await step
                except Stop as stop:
                    await self._finish(stop.reason, stop.error, ledger=stop.ledger)
                except asyncio.CancelledError as exc:
                    if (self.done and not self._pending) or self.unknown is not None:  # ended, or writes nothing more
                        raise
                    if self.doc.id in self.o.suspending:
                        await asyncio.shield(self._suspend())
                    else:
                        said = INTERRUPTED if INTERRUPTED in exc.args else None  # (Ctrl-C in run_sync)
                        await self._finish("cancelled", self.stop_why or said or self.o.cancel_reason)
                    raise
                except OrchestrateXError as exc:
                    await self._finish("error", f"{type(exc).__name__}: {exc.message}")
                    if isinstance(
                        exc, TestSetupError
                    ):  # a test that forgot its test double (or misused it) fails loudly
                        raise
                except BaseException as exc:  # a bug of one's own evaluator or router; an event handler's sys.exit()
                    await self._ended_by(exc)
                    raise
        finally:
            self.planner.detach()

    async def _ended_by(self, exc: BaseException) -> None:
        """End the run on an exception no step expects: another `Exception` (a bug of one's own evaluator or router)
        is logged and ends it `error`; a `KeyboardInterrupt` or `SystemExit` (an event handler's `sys.exit()`) ends it
        `cancelled`, saying so (it was left `running`, its lease and reservations held, for a later resume to pay
        for); a `GeneratorExit` (the coroutine closed) awaits nothing."""
        if isinstance(exc, Exception):
            logger.exception("orchestration %s failed unexpectedly", self.doc.id, extra=self._ids())
            await self._finish("error", f"{type(exc).__name__}: {exc}")
        elif isinstance(exc, KeyboardInterrupt | SystemExit) and self.unknown is None:
            why = f"stopped by {type(exc).__name__}" + (f": {exc}" if str(exc) else "")
            with contextlib.suppress(Exception):
                await self._finish("cancelled", f"{why}, raised as the orchestration ran (by an event handler, say)")

    def _next_step(self) -> Awaitable[object] | None:
        """What advances the last iteration by one phase, or starts the next one (None: nothing to wait for). Stops
        the run (`Stop`) once it should end."""
        reason = self._stop_reason()
        if reason is not None:
            raise Stop(reason)
        it = self.doc.iterations[-1] if self.doc.iterations else None
        if it is None or it.phase in ("evaluated", "failed"):
            return self._select()
        if it.phase == "selected":
            return self._generate(it)
        if self.planner.needed(it.index):  # generated
            return self._evaluate(it)
        it.phase = "evaluated"  # no decision depends on its verdict: returned unjudged
        ledger = self._open = self._open or Ledger()  # its call, paid for, counted in analytics with the run's end
        ledger.calls += (self._answer_record(it, None),)
        return None

    async def _prepare(self) -> None:
        doc, store = self.doc, self.o.store
        released: float | None = None  # (what a resumed run's dead process held reserved)
        if doc.status == "pending":
            assign(doc, domain=doc.domain or detect_domain(doc.prompt), status="running")
            started = made(
                OrchestrationStarted,
                **self._ids(),
                prompt=doc.prompt,
                domain=doc.domain,
                max_iterations=doc.settings.max_iterations,
                evaluation_threshold=doc.settings.evaluation_threshold,
                simulated=self.o.simulated,
            )
            self._pending = (*self._pending, started)
        else:  # resumed after a crash: what the dead process held reserved is released
            released = await with_store_retries(
                lambda: store.release_reservations(doc.session_id, doc.id),
                self.o.store_retry,
                f"releasing what orchestration {doc.id} held",
                ids=self._ids,
            )
            surcharges = self.o._surcharges  # (what its calls were billed above the catalog price is reserved again)
            for it in doc.iterations:  # errors read "<model>: <exception>: <detail>"
                self._failed_before(it.errors)
                if it.reported_cost is not None:
                    surcharges.learn(it.model_name, it.cost, it.catalog_cost)
                if it.evaluation is not None:  # (a judge's failure is on its verdict)
                    self._judges_failed_before(it.evaluation.verdicts)
                    for verdict in it.evaluation.verdicts:
                        if verdict.reported_cost is not None:
                            surcharges.learn(verdict.judge_model, verdict.cost, verdict.catalog_cost)
        session, stop = await self._session_now()
        self.session_limit = session.settings.cost_limit
        # (a `Session` object its caller read before earlier runs spent said the session had spent less: the first
        # decision picked a model it could no longer afford, recorded as selected and then refused by the store)
        self.session_base = self.o._spent.of(session) - doc.total_cost
        self.judges = session.settings.judges or self.o.judges
        self.judging = session.settings.judging or self.o.judging
        if released is not None:
            doc.interrupted_calls += self._interrupted(released)
        if session.status in ("completed", "cancelled"):  # ended since the run was stored (`prepare`, then `drive`,
            # `start` or `resume_pending`): it ends before its first call, as `run` given the session is refused (the
            # cancel watcher's first question came after instant models had answered, and the run paid to its end)
            self.stop_asked = True
            if released is None:  # never started: its caller gets `Conflict`, as `run`'s does
                self.refused = True
                self.stop_why = inactive_session(session)
            else:
                self.stop_why = (
                    f"its session {session.id} is {session.status}: orchestrations run only in an active session"
                )
        elif stop:
            self.stop_asked, self.stop_why = True, CANCEL_REQUESTED

    async def _session_now(self) -> tuple[Session, bool]:
        """The run's session (the one it was given, or as stored), and whether the store says the run should stop. A
        resumed run asks with its session read, before any call: the cancel watcher's first question came after the
        first call of a run cancelled while no process drove it, left in `abandoned_calls`, which the provider may
        bill. (Read as the run's writes are, retried: one blip failed a resumed run for good.)"""
        session, self._session = self._session, None
        if session is not None and not self.resumed:
            return session, False
        sid = self.doc.session_id
        read = with_store_retries(
            lambda: self.o.store.get_session(sid), self.o.store_retry, f"reading session {sid}", ids=self._ids
        )
        if not self.resumed or self.doc.id in self.o._stop_asked:  # (its caller asked the store just now)
            return await read, False
        return await asyncio.gather(read, self._stop_requested())

    async def _stop_requested(self) -> bool:
        """Whether the store says the run should stop (`Store.cancel_requests`); False when it cannot say (a store
        hiccup: the cancel watcher asks again at its next check)."""
        try:
            return self.doc.id in await self.o.store.cancel_requests([self.doc.id])
        except Exception:
            return False

    def _failed_before(self, errors: Sequence[str]) -> None:
        """What a resumed run's recorded failures (`<model>: <exception>: <detail>`) say, as `_fallback` and
        `_overage` said it: a model failed (not for the budget, nor billed a surcharge it was kept for) is no candidate;
        unless only its answer failed, no judge either."""
        for error in errors:
            model, _, rest = error.partition(": ")
            if model == "evaluation" or rest.startswith("BudgetExceeded: ") or error.endswith(KEPT):
                continue
            self.failed |= {model}
            if not keeps_judging_recorded(error):
                self.not_judging |= {model}

    def _judges_failed_before(self, verdicts: Sequence[JudgeVerdict]) -> None:
        """What a resumed run's failed verdicts say, as `_count_failed` said it: a judge whose call failed so is no
        judge, nor (unless a judge prompt was too long for it) a candidate."""
        for verdict in verdicts:
            if verdict.score is None and verdict.error:
                judging, routing = judge_failure_recorded(verdict.error)
                if judging:
                    self.not_judging |= {verdict.judge_model}
                if routing:
                    self.failed |= {verdict.judge_model}

    def _interrupted(self, released: float) -> int:
        """The calls a resumed run makes again that were in flight when its last driver stopped (`released`: what
        that driver left reserved). A suspended run said what it abandoned. Calls reserve in the store under a
        session limit: none was in flight at a crash if nothing was reserved. Without one, the step the last commit
        left open says which calls may have been."""
        doc = self.doc
        abandoned, doc.abandoned_calls = doc.abandoned_calls, None
        if abandoned is not None:  # suspended, then maybe a crash of a run resuming it, which had reserved
            return abandoned + (self._calls_in_flight() if released > 0 else 0)
        if released > 0 or self.session_limit is None:
            return max(self._calls_in_flight(), 1 if released > 0 else 0)
        return 0

    def _calls_in_flight(self) -> int:
        """The calls a resumed run's dead process may have had in flight: those of the step its last commit left
        open (the answer of a selected model, or the judges of an answer), which the resumed run makes again."""
        last = self.doc.iterations[-1] if self.doc.iterations else None
        if last is None:
            return 0
        if last.phase == "selected":
            return 1
        if last.phase == "generated" and self.planner.needed(last.index):
            return self.evaluator.panel_size_for(self.planner.pool(last.model_name))
        return 0

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
        self.wait_left = self.o.reservation_wait_s  # (a new iteration may wait again)
        prompt, messages = build_messages(doc, self.o.system_prompt)
        self._sent = (prompt, self.o.system_prompt, messages, estimate_message_tokens(messages))
        task = self._task(prompt, messages)
        candidates = self._candidates(task)
        decision = checked_decision(self.router, await self.router.select(task, candidates))
        self.picked = next((m for m in candidates if m.name == decision.model_name), None)
        if self.picked is None:
            raise Stop("error", _not_a_candidate(decision.model_name, candidates, self.o.catalog, self.failed))
        it = made(
            Iteration,
            index=len(doc.iterations) + 1,
            model_name=decision.model_name,
            reasoning=decision.reasoning,
            prompt=prompt,
            usage=_NO_USAGE,
        )
        doc.iterations.append(it)
        self.telemetry.routed(it, decision.scores)
        ready = self._prepare_generation(it)
        if ready is None:
            await self._commit([self._selected_event(it, decision.scores)])
            return it
        await self._commit([self._selected_event(it, decision.scores)], reserve=ready.worst + ready.prepay, ready=ready)
        return it

    def _model(self, name: str) -> ModelProfile:
        """The catalog's profile of `name` (it may have changed since it was picked), or the one it had when it was
        picked if it has left the catalog since."""
        try:
            return self.o.catalog.get(name)
        except UnknownModelError:
            if self.picked is None or self.picked.name != name:
                raise
            return self.picked

    def _known(self, name: str) -> ModelProfile | None:
        """`_model(name)`, or None for a model that left the catalog before this run was resumed (its answer, paid
        for, is judged all the same)."""
        try:
            return self._model(name)
        except UnknownModelError:
            return None

    def _prepare_generation(self, it: Iteration) -> Ready | None:
        """The generation of `it` as `_generate` would make it, when its reservation in the store can ride on
        the commit of its selection (a session budget, nothing prepaid left, the call fitting what is left)."""
        if self.session_limit is None or self.prepaid:
            return None
        model = self._model(it.model_name)
        if not self.circuit.allows(model.name):
            return None
        try:
            request, prepay, input_bound = self._generation_request(model, it)
            worst = self.o._surcharges.worst(model.name, model.worst_case_cost(input_bound, request.max_output_tokens))
        except OrchestrateXError:  # _generate meets it again and handles it
            return None
        remaining = self._remaining()
        if remaining is not None and worst + prepay > remaining + EPS:
            return None
        return Ready(it.index, model.name, request, worst, prepay)

    async def _generate(self, it: Iteration) -> None:
        ready, self._ready = self._ready, None
        if ready is not None and (ready.index, ready.model_name) == (it.index, it.model_name):
            # reserved with the selection at the prices of its request's profile: made and billed at those, even
            # when the catalog's prices changed since (a handler of `model_selected`, a watched file)
            model = ready.request.model
            ledger = self._open = ready.ledger
        else:
            ready = None
            ledger = self._open = Ledger()
            try:
                model = self._model(it.model_name)
            except UnknownModelError as exc:  # picked before the run was resumed, and left the catalog since
                await self._fallback(it, it.model_name, exc, ledger)
                return
        if self._disabled(it.model_name):  # since it was picked (a handler of `model_selected`, a watched file)
            disabled = ConfigurationError(
                f"{it.model_name} was disabled in the catalog after it was picked: not called"
            )
            await self._fallback(it, it.model_name, disabled, ledger)
            return
        if model.provider not in self.o.providers:
            # its provider was taken out of `orchestrator.providers` since it was picked, or the run was resumed by a
            # process without it (a server restarted without that key): another model answers, as for a model the
            # catalog disabled or no longer lists (the run ended `error`, "ProviderNotConfigured", with calls left)
            try:
                self.o.provider_for(model)
            except ProviderNotConfigured as exc:
                await self._fallback(it, it.model_name, exc, ledger)
                return
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
            await self._fallback(it, model.name, exc, ledger, window=model.context_window)
            return
        except ConfigurationError as exc:  # (disabled while its call waited for the session's budget: `_call`)
            if not self._disabled(model.name):
                raise
            await self._fallback(it, model.name, exc, ledger)
            return
        assign(
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
        self._sent = None  # (answered: its messages are not sent again, the next attempt builds its own)
        event = made(
            ResponseGenerated,
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
        _, _, messages, counted = self._conversation(it.prompt)
        request = made(
            GenerationRequest,
            model=model,
            messages=list(messages),  # (its own list, as validation would copy it)
            max_output_tokens=max(min(self.doc.settings.max_output_tokens, model.max_output_tokens), 1),
            temperature=None,
            stop=None,
            json_output=False,
            purpose="generate",
            domain=self.doc.domain or "general",
        )
        self.planner.decision()
        provider = self.o.provider_for(model)  # (a byte bound of these messages is the one counted already)
        input_bound = counted if provider._counts_bytes() else counted_input_tokens(provider, request)
        fit = self._fit(model, input_bound, request.max_output_tokens, it.index)
        if fit is None and self._may_go_unjudged():  # (a candidate no judge could judge: `_candidates`)
            fit = self._unjudged_fit(model, input_bound, request.max_output_tokens, self._remaining())
        self.planner.decided()
        if fit is None:
            raise BudgetExceeded(f"{model.name} no longer fits the budget or its answer could not be judged")
        cap, judge_reserve = fit
        assign(request, max_output_tokens=cap)
        return request, judge_reserve, input_bound

    async def _fallback(
        self, it: Iteration, name: str, exc: Exception, ledger: Ledger, *, window: int | None = None
    ) -> None:
        """The iteration's model `name` (context window `window`) failed: record it and let the router pick another
        model."""
        detail = exc.message if isinstance(exc, OrchestrateXError) else str(exc)
        if isinstance(exc, RateLimited) and exc.retry_after is not None:  # (`/v1` waits as the provider asked)
            detail += f"{RETRY_AFTER_NOTE}{exc.retry_after:g} s)"
        it.errors.append(f"{name}: {type(exc).__name__}: {detail}")
        it.failures += (failure_kind(exc),)
        self._release_prepaid(ledger)
        # the failed call is over: what it held and did not spend (its worst case and its answer's judging) is free
        # for the fallback's decision, as it is released with the fallback's commit, before the next call reserves
        # (a $0.0065 budget whose first model failed with a 500 stopped `budget`, "no model's worst-case cost (with
        # judging) fits the $0.001247 left", with nothing spent)
        free = ledger.reserved_local - (add_costs(*ledger.spent) if ledger.spent else 0.0)
        if free > EPS:
            ledger.reserved_local -= free
            self.inflight = max(self.inflight - free, 0.0)
        if isinstance(exc, BudgetExceeded):
            await self._refresh_session()
        else:
            self.failed |= {name}
            if not keeps_judging(exc):
                self.not_judging |= {name}
        if isinstance(exc, ContextLengthExceeded) and window is not None:
            self.min_context = max(self.min_context, window + 1)
        if len(it.errors) > 2 * len(self.o.catalog):  # a budget race that keeps flipping between models
            raise Stop("budget" if isinstance(exc, BudgetExceeded) else "error", detail, ledger)
        task = self._task(it.prompt, None)
        try:
            candidates = self._candidates(task, exclude={name})
        except Stop as stop:
            if isinstance(exc, BudgetExceeded) and stop.reason == "error":  # nothing else to try: the budget stops it
                raise Stop("budget", detail, ledger) from None
            stop.ledger = ledger
            raise
        decision = checked_decision(self.router, await self.router.select(task, candidates))
        self.picked = next((m for m in candidates if m.name == decision.model_name), None)
        if self.picked is None:
            raise Stop("error", _not_a_candidate(decision.model_name, candidates, self.o.catalog, self.failed), ledger)
        it.model_name = decision.model_name
        it.reasoning = f"fallback after {name} failed ({type(exc).__name__}): {decision.reasoning}"
        self.telemetry.routed(it, decision.scores, fallback_from=name)
        await self._commit([self._selected_event(it, decision.scores)], ledger)
        if self.stop_asked:  # (by a handler of that event: before the fallback's call)
            raise Stop("cancelled", self.stop_why or self.o.cancel_reason)

    async def _evaluate(self, it: Iteration) -> None:
        doc = self.doc
        ledger = self._open = Ledger()
        judge_max = self.o.judge_max_output_tokens
        call = _JudgeCall(self, ledger, it.model_name)
        etask = EvaluationTask(
            prompt=doc.prompt,
            domain=doc.domain or "general",
            generating_model=it.model_name,
            generator=self._known(it.model_name),
            judges=self.planner.pool(it.model_name),
            call=call,
            context=doc.context,
            iteration=it.index,
            max_output_tokens=judge_max,
            history=tuple(doc.messages[:-1]),  # `conversation(doc)[:-1]`, without building its last message
            may_judge=call.may_judge,
        )
        remaining = self._remaining()
        # what was reserved for the judges with the answer stays theirs, even after an overage of the answer
        budget = None if remaining is None else max(remaining, 0.0) + self.prepaid
        eligible = self.planner.eligible(etask, it.response or "", budget)
        if etask.judges and not eligible and self.evaluator.panel_size_for(etask.judges) > 0:  # say why
            answer_text = it.response or ""
            by_budget = bool(self.planner.eligible(etask, answer_text, None))
            left = max(budget or 0.0, 0.0)
            why = (
                f"no judge's worst case fits the {dollars(left)} left"
                if by_budget
                else "no judge's context window holds the prompt and this answer"
            )
            it.errors.append(f"evaluation: {'BudgetExceeded' if by_budget else 'EvaluationError'}: {why}")
            it.failures += ("BudgetExceeded" if by_budget else "EvaluationError",)
            self._no_verdict(it, ledger)  # paid for, though no judge can take it
            raise Stop("budget" if by_budget else "error", why, ledger)
        if len(eligible) != len(etask.judges):  # (`eligible` keeps the judges' order)
            etask = replace(etask, judges=eligible)
        del eligible  # (not held while the judges answer)
        answer, self._answer = self._answer, None
        if answer is None or answer[0] != it.index or answer[1].model_name != it.model_name:
            answer = (it.index, self._generation(it))
        try:
            try:
                with self.telemetry.judgment(it) as judgment:
                    evaluation = checked_evaluation(self.evaluator, await self.evaluator.evaluate(etask, answer[1]))
                    judgment.done(evaluation)
            except BudgetExceeded:
                # the judges chosen cost more than was held for them with the answer, and the session's other runs
                # hold the rest: the judges that fit what is held (the cheapest panel, reserved with the answer) judge
                held = self.planner.eligible(etask, it.response or "", self.prepaid) if self.prepaid else []
                if not held:
                    raise
                with self.telemetry.judgment(it) as judgment:
                    evaluation = checked_evaluation(
                        self.evaluator, await self.evaluator.evaluate(replace(etask, judges=held), answer[1])
                    )
                    judgment.done(evaluation)
        except asyncio.CancelledError:  # (cancelled or suspended while judges answered: their verdicts are not kept)
            self._verdicts_lost(it, ledger)
            raise
        except (BudgetExceeded, EvaluationError) as exc:
            self._verdicts_lost(it, ledger)
            detail = exc.message
            if not etask.judges:
                detail = self._no_judge_left(it.model_name, detail)
            it.errors.append(f"evaluation: {type(exc).__name__}: {detail}")
            judged = [recorded_kind(c.error) for c in ledger.calls if c.role == "judge"]  # (None: no verdict read)
            it.failures += (failure_kind(exc) if isinstance(exc, BudgetExceeded) else judges_failure_kind(judged),)
            self._no_verdict(it, ledger)
            raise Stop("budget" if isinstance(exc, BudgetExceeded) else "error", detail, ledger) from exc
        except Exception as exc:  # the evaluator's own error: the run ends failed (`drive`), the step settled
            self._verdicts_lost(it, ledger)
            it.errors.append(f"evaluation: {type(exc).__name__}: {exc}")
            it.failures += (failure_kind(exc),)
            it.phase = "failed"
            ledger.calls += (self._answer_record(it, None),)
            raise
        if type(self.evaluator).evaluate is not builtin_evaluate():
            # one's own: its cost is what its `task.call`s were counted at (one leaving it out, as docs/evaluation.md's
            # example of no call does, said $0 in the event, the iteration and the judging cost the routers learn)
            evaluation.cost = add_costs(*ledger.spent)
        assign(it, evaluation=evaluation, phase="evaluated")
        seal((it,))  # (its usage and evaluation are new since its selection)
        self._release_prepaid(ledger)
        _score_calls(ledger, evaluation)
        ledger.calls += (self._answer_record(it, evaluation.score),)
        event = made(
            EvaluationCompleted,
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

    def _no_judge_left(self, author: str, detail: str) -> str:
        """Why `author`'s answer got no verdict when no judge was left to offer the evaluator (which said `detail`):
        what ruled out each judge since it was picked; or, when it may be returned unjudged (`_may_go_unjudged`: it may
        have had no judge when it was picked), why no model is left to judge it, as a refusal of it would have said."""
        why = self.planner.why_none(author)
        if self._may_go_unjudged():
            return self._out_of_models(
                f"no model is left to judge {author}'s answer" + (f": {why}" if why else ""),
                "no model is left to judge another's answer",
            )
        return f"{detail} (since {author} was picked, the judges it had are {why})" if why else detail

    @staticmethod
    def _verdicts_lost(it: Iteration, ledger: Ledger) -> None:
        """The judges of `it`'s answer gave no evaluation to keep: what they were billed (the step's spending, `ledger`)
        goes on the iteration's `failed_cost`."""
        if ledger.spent:
            assign(it, failed_cost=add_costs(it.failed_cost, *ledger.spent))

    def _no_verdict(self, it: Iteration, ledger: Ledger) -> None:
        """No judge gave a verdict on `it`'s answer, paid for (counted in analytics as well): the answer is dropped
        (phase `failed`), or with `judging="when_possible"` kept, to be returned unjudged as the run ends."""
        it.phase = "evaluated" if self.judging == "when_possible" else "failed"
        ledger.calls += (self._answer_record(it, None),)

    async def _observe(self, feedback: RoutingFeedback) -> list[RoutingOutcome]:
        """Let the router learn; returns what it would write to the store's statistics, for the step's commit.
        They are best effort: a fault there does not fail the run (a router of one's own whose `observe` raised
        anything else, a learning service it posts to being unreachable, ended the run with the evaluation it had
        just made stored without its `evaluation_completed` event, and raised from `run`)."""
        with collect() as outcomes:
            try:
                await self.router.observe(feedback)
            except OrchestrateXError as exc:
                logger.warning("the router could not record %s's outcome: %s", feedback.model_name, exc.message)
            except Exception as exc:
                logger.warning(
                    "the router %s could not record %s's outcome (%s: %s); the run goes on",
                    type(self.router).__name__,
                    feedback.model_name,
                    type(exc).__name__,
                    exc,
                    exc_info=exc,
                )
        return outcomes

    async def _finish(
        self,
        reason: StopReason,
        error: str | None,
        *,
        events: Sequence[Event] = (),
        ledger: Ledger | None = None,
        outcomes: Sequence[RoutingOutcome] = (),
    ) -> None:
        if self.done and not self._pending:  # its final commit is in the store: the run has ended already
            return
        if self.unknown is not None:
            raise self.unknown
        if self.done and reason == "error" and self.doc.stop_reason is not None:
            # its final commit did not get through (the store unreachable past its retries): written again as the run
            # ended, not as the store's error (a run that met its threshold was stored `error`, "StoreUnavailable")
            reason, error = self.doc.stop_reason, self.doc.error
        self.done = True
        ending_here(self.doc.id)  # (`cancel` or `suspend` from a handler of its last event must not wait for it)
        doc = self.doc
        ledger = ledger or self._open
        last = doc.iterations[-1] if doc.iterations else None
        if last is not None and last.phase == "generated":  # its evaluation never ended: record the answer
            ledger = ledger or Ledger()
            ledger.calls += (self._answer_record(last, None),)
        if ledger is not None:
            self._settle(ledger)  # the final event reports a total that includes this step
        best = doc.best_iteration
        if best is not None:
            assign(doc, final_response=best.response, final_score=best.score, final_model=best.model_name)
        event: Event
        if reason != "cancelled" and best is not None and best.response is not None:
            assign(doc, status="completed", stop_reason=reason, error=error)
            event = made(
                OrchestrationCompleted,
                **self._ids(),
                final_response=best.response,
                iterations=len(doc.iterations),
                final_score=best.score,
                total_cost=doc.total_cost,
                stop_reason=reason,
                model_name=best.model_name,
            )
        else:
            assign(doc, status="cancelled" if reason == "cancelled" else "failed", stop_reason=reason, error=error)
            if reason == "cancelled" and self.abandoned:  # (the provider may bill what it produced: said, not counted)
                doc.abandoned_calls = self.abandoned
            event = made(
                OrchestrationFailed,
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
            ledger = ledger or Ledger()
            self._release_prepaid(ledger)
        if reason == "cancelled":  # the task is being cancelled: the final commit must still happen
            await asyncio.shield(self._commit(final, ledger, outcomes=outcomes, release_lease=True))
        else:
            await self._commit(final, ledger, outcomes=outcomes, release_lease=True)

    async def _suspend(self) -> None:
        """Stop without ending: settle the step in progress (what it spent is counted, its reservations
        released, the calls it abandons recorded) and leave the orchestration `running`, for any process's
        `resume_pending()`. A store that stays unavailable (busy: another process holds SQLite's write lock) is
        retried for `HANDBACK_S` at most, so that a server's stop ends in time: the run is then left as its last
        commit stored it, its lease to expire (not released: that would wait for the store as long again)."""
        ledger = self._open
        if self.prepaid:
            ledger = ledger or Ledger()
            self._release_prepaid(ledger)
        # (for the run resuming it: see `_interrupted`) the calls in flight, and the judges of an answer that had
        # answered before the rest of the panel: their verdicts are not kept, the resumed run asks them again
        last = self.doc.iterations[-1] if self.doc.iterations else None
        judging = ledger is not None and last is not None and last.phase == "generated"
        answered = sum(c.role == "judge" for c in ledger.calls) if judging and ledger is not None else 0
        self.doc.abandoned_calls = self.abandoned + answered
        await self._commit([], ledger, deadline=time.monotonic() + HANDBACK_S)


def _score_calls(ledger: Ledger, evaluation: Evaluation) -> None:
    """Give each judge's call record of the step its verdict's score."""
    scores = {v.judge_model: v.score for v in evaluation.verdicts}
    for record in ledger.calls:
        assign(record, score=scores.get(record.model_name))


class _JudgeCall(RunJudgeCall):
    """`EvaluationTask.call` for a run's judges: a judge's request capped at its learned cap, made through
    `Run._call` into the step's ledger. (One slotted object rather than a closure, whose cells and the cells of
    the frame defining it the run would hold while the judges answer.) `LLMJudgeEvaluator` reads `judge_cap` to
    build its requests at that cap rather than have them copied here, and tells `unreadable` of a verdict it could
    not read."""

    __slots__ = ("author", "ledger", "run")

    def __init__(self, run: Run, ledger: Ledger, author: str) -> None:
        self.run, self.ledger, self.author = run, ledger, author

    def __call__(self, judge: ModelProfile, request: GenerationRequest) -> Awaitable[Generation]:
        # (returns `_call`'s coroutine rather than awaiting it in one more frame, held while the judge answers)
        run = self.run
        if judge.name == self.author:
            raise EvaluationError(
                f"{judge.name} wrote the answer being judged: a model never judges its own answer "
                "(ask one of EvaluationTask.judges)"
            )
        if run.planner.twin(judge, self.author):
            raise EvaluationError(
                f"{judge.name} is {self.author}, which wrote the answer being judged, behind another endpoint: a model "
                "never judges its own answer (ask one of EvaluationTask.judges)"
            )
        if all(m.name != judge.name for m in run.planner.judge_set()):
            raise EvaluationError(
                f"{judge.name} may not judge in this run (disabled, not in the judge set, or not in the catalog): "
                "ask one of EvaluationTask.judges"
            )
        if request.purpose != "judge" and "purpose" not in request.model_fields_set:
            # an evaluator's own request, built at the default purpose: it went out as a generation though counted as
            # a judge's call (a test double answered it with an answer; the adapters' judge settings were not applied).
            # One that says `purpose="generate"` (a reference answer to compare with) is sent as it says.
            request = request.model_copy(update={"purpose": "judge"})
        cap = run.planner.judge_cap(judge)
        if request.max_output_tokens > cap:
            request = run.planner.with_cap(judge, request, cap)
        elif request.max_output_tokens < (least := least_output_tokens(run.o.provider_for(judge), judge)):
            # (an evaluator's cap below what the judge's API takes, OpenAI's Responses API 16: refused unsent)
            request = request.model_copy(update={"max_output_tokens": least})
        return run._call(judge, request, self.ledger, "judge")

    def judge_cap(self, judge: ModelProfile) -> int:
        """The output cap `__call__` gives `judge`'s request (its learned cap)."""
        return self.run.planner.judge_cap(judge)

    def may_judge(self, judge: ModelProfile) -> bool:
        """Whether `judge`, offered with the task, may still judge: not ruled out since (its provider rejected the API
        key to another judge of the panel, its circuit opened): the run's `EvaluationTask.may_judge`."""
        run = self.run
        return judge.name not in run.not_judging and run.circuit.allows(judge.name)

    def unreadable(self, judge: ModelProfile, generation: Generation) -> str | None:
        """`judge` answered with a verdict that could not be read (no score, a score out of range): it judges no more
        in the run (it may still answer), as a judge whose call failed; returns what its verdict's error adds. Not
        when its output cap cut the verdict short below the most a verdict may write (its learned cap may grow):
        None."""
        run = self.run
        if generation.finish_reason == "length" and generation.usage.output_tokens < run.planner.judge_limit(judge):
            return None
        run.not_judging |= {judge.name}
        return SET_ASIDE


def _not_a_candidate(
    name: str, candidates: Sequence[ModelProfile], catalog: ModelCatalog, failed: Collection[str] = ()
) -> str:
    """Why a router's choice was refused: the candidates it had, the full name when it chose one by an alias, and
    that the model failed earlier in the run when it did (a router choosing a fixed model, asked again to fall back
    after that model's call failed, was told only that it was no candidate)."""
    message = f"the router chose {name!r}, which is not among the candidates"
    try:
        full = catalog.get(name).name
    except UserError:
        full = name
    if full != name and any(m.name == full for m in candidates):
        return f"{message}: it is an alias, and a router returns the candidate's name, {full!r}"
    shown = ", ".join(m.name for m in candidates[:8]) + (", …" if len(candidates) > 8 else "")
    if full in failed:
        return (
            f"{message}: its call failed earlier in this run, so it is no candidate for the rest of the run;"
            f" a router chooses among the candidates it is given ({shown})"
        )
    return f"{message} ({shown})"
