"""A run's calls and its budget: reserving each call's worst case, counting what it cost."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from functools import partial

from .._dollars import dollars
from .._seal import share
from ..catalog import ModelProfile
from ..evaluation._base import _builtin_evaluate as builtin_evaluate
from ..evaluation._parse import parse_verdict
from ..exceptions import (
    AuthenticationError,
    BudgetExceeded,
    CircuitOpen,
    ConfigurationError,
    ContentFiltered,
    ContextLengthExceeded,
    EmptyAnswer,
    EvaluationError,
    ModelNotFound,
    ProviderError,
    UnknownModelError,
    UnknownPriceError,
)
from ..providers import Generation, GenerationRequest, Provider, TextSink
from ..providers._base import checked_generation, counted_input_tokens
from ..telemetry._hooks import NOOP
from ..usage import MAX_AMOUNT, Usage, add_costs
from ._budget import price_generation, reserve_waiting, whole_usage
from ._chat import blank, mended
from ._circuit import CircuitBreaker
from ._durable import outcome, with_store_retries
from ._failures import answers_after_judging, keeps_judging
from ._ledger import EPS, NO_TOKENS, Ledger, Role, assign
from ._retry import retry_after
from ._run_state import RunState, call_record
from ._stream import AnswerDelta

__all__ = ["KEPT", "Spending"]

logger = logging.getLogger("orchestratex.orchestrator")

KEPT = ", which its next calls reserve (kept in the run)"
"""How an overage that was a surcharge over the catalog price ends its iteration's error: the model stayed in the run
(a resumed run keeps it too: `Run._failed_before`)."""


class Spending(RunState):
    """Calls made within the budget: reserved at their worst case, settled at what they cost."""

    __slots__ = ()

    async def _call(
        self,
        model: ModelProfile,
        request: GenerationRequest,
        ledger: Ledger,
        role: Role,
        *,
        prepay: float = 0.0,
        reserved: float = 0.0,
        iteration: int = 0,
    ) -> Generation:
        """Make one call; `reserved`, when given, is its worst case, held already (reserved with the previous
        commit, priced on this very request)."""
        circuit = self.circuit
        if not circuit.allows(model.name):
            raise CircuitOpen(f"{model.name} is cooling down after repeated failures", model=model.name)
        provider = self.o.provider_for(model)
        if role == "judge":  # (built by the evaluator; a generation's is `made` sealed, its messages the run's own)
            share(request, *request.messages)
        worst = reserved or await self._reserve_call(model, provider, request, ledger, role, prepay, iteration)
        circuit.before_call(model.name)
        streams = role == "generate" and self.on_delta is not None  # (each attempt streams from the start)
        with self.telemetry.call(model, request, role) as call:
            try:
                try:  # the first attempt here, not in a wrapper: no frame (nor partial) more while the model answers
                    if streams:
                        gen = await self._streamed(provider, request, model.name, iteration)
                    else:
                        gen = await provider.generate(request)
                except ProviderError as exc:
                    _count_failure(circuit, model.name, exc)
                    if not exc.retryable or self.o.retry.max_attempts == 1:
                        raise
                    # (partials, not closures: a closure would make cells of this frame's variables, objects the
                    # cyclic garbage collector tracks for as long as the call is in flight)
                    attempt: Callable[[], Awaitable[Generation]] = (
                        partial(self._streamed, provider, request, model.name, iteration)
                        if streams
                        else partial(provider.generate, request)
                    )
                    gen = await retry_after(
                        attempt,
                        self.o.retry,
                        partial(_count_failure, circuit, model.name),
                        exc,
                        partial(circuit.allows, model.name),
                        self._ids(),  # (named in the line said before each retry)
                    )
                gen = checked_generation(provider, gen)
                if not gen.text.isascii() and (text := mended(gen.text)) is not gen.text:
                    assign(gen, text=text)  # (a lone surrogate: no store nor JSON encoder could take the answer)
                price_generation(model, gen, worst)
                # paid for, but nothing to judge: a failed attempt, raised once it is counted (the call's telemetry
                # says so: an error, not an answer)
                empty = _empty_answer(model, gen, request) if role == "generate" and blank(gen.text) else None
                call.done(gen, gen.cost, empty if role == "generate" else self._unreadable(gen))
            except ProviderError as exc:
                circuit.end_trial(model.name)  # (a failure was recorded already, unless it says nothing of the model)
                usage, cost = self._count_failed(model, exc, ledger, role, worst)
                if cost or usage.total_tokens:  # (billed: in the call's metrics, log line and span, as in the run's)
                    call.billed(usage, cost)
                raise
            except asyncio.CancelledError:  # abandoned in flight (the provider may bill it): see `RunState.abandoned`
                self.abandoned += 1
                circuit.end_trial(model.name)
                raise
            except Exception:
                circuit.end_trial(model.name)
                raise
        self._count_answer(model, request, gen, ledger, role, worst, empty)
        return gen

    async def _reserve_call(
        self,
        model: ModelProfile,
        provider: Provider,
        request: GenerationRequest,
        ledger: Ledger,
        role: Role,
        prepay: float,
        iteration: int,
    ) -> float:
        """Reserve the call's worst case (and `prepay` for judging its answer); return it. A generation the session's
        budget refused asks for a shorter answer that fits (`_shorter`)."""
        input_bound = counted_input_tokens(provider, request)
        worst = self.o._surcharges.worst(model.name, model.worst_case_cost(input_bound, request.max_output_tokens))
        try:
            await self._reserve(worst, ledger, prepay=prepay)
        except BudgetExceeded:
            if role != "generate" or (shorter := await self._shorter(model, request, input_bound, iteration)) is None:
                raise
            worst, prepay = shorter
            await self._reserve(worst, ledger, prepay=prepay)  # (within what is left of the iteration's wait)
        self._still_callable(model.name)  # (the reservation may have waited for the budget other runs held)
        return worst

    async def _shorter(
        self, model: ModelProfile, request: GenerationRequest, input_bound: int, iteration: int
    ) -> tuple[float, float] | None:
        """After the session's budget refused a generation (the session's other runs held what it needed until its
        wait ran out, or spent it meanwhile): lower `request`'s output cap to the longest answer that fits, with its
        judging, what the session has free now, as a budget spent by others shortens it before the call (down to what
        the model's answers need); its worst case and judging reserve. None when no such cap fits: the refusal
        stands."""
        if self.session_limit is None or self.prepaid:
            return None
        session = await self.o.store.get_session(self.doc.session_id)
        self.session_base = session.total_cost - self.doc.total_cost  # (as `_refresh_session`)
        free = self.session_limit - session.total_cost - max(session.reserved_cost, self.inflight)
        remaining = self._remaining()
        if remaining is not None:
            free = min(free, remaining)
        limit = max(min(self.doc.settings.max_output_tokens, model.max_output_tokens), 1)
        fit = self._fit_within(model, input_bound, limit, iteration, max(free, 0.0))
        if fit is None or fit[0] >= request.max_output_tokens:
            return None
        cap, judging = fit
        logger.info(
            "%s's answer is capped at %d output tokens, not %d, to fit the $%.6f session %s has free (its other runs"
            " hold or spent the rest)",
            model.name,
            cap,
            request.max_output_tokens,
            free,
            self.doc.session_id,
            extra=self._ids(),
        )
        assign(request, max_output_tokens=cap)
        return self.o._surcharges.worst(model.name, model.worst_case_cost(input_bound, cap)), judging

    def _fit_within(
        self, model: ModelProfile, input_bound: int, limit: int, index: int, budget: float
    ) -> tuple[int, float] | None:
        """(output cap, judging reserve) of `model`'s answer as iteration `index` within `budget` (`Candidates`)."""
        raise NotImplementedError

    def _still_callable(self, name: str) -> None:
        """Raise a `ConfigurationError` if `name` was disabled in the catalog since `_call` began, while its
        reservation waited (a disabled model gets no further call), or `CircuitOpen` if its circuit no longer lets
        the call through: opened meanwhile, or half-open with its one trial call made by another run that waited
        too (two runs of a session passed the check, waited for the budget, and both called a recovering model).
        What was reserved is released with the step, as for a call that failed."""
        if self._disabled(name):
            raise ConfigurationError(f"{name} was disabled in the catalog while its call waited: not called")
        if not self.circuit.allows(name):
            state = (
                "open" if self.circuit.state(name) == "open" else "half-open, its one trial call made by another run"
            )
            raise CircuitOpen(
                f"{name} is cooling down after repeated failures (its circuit {state} while this call waited for the"
                " session's budget): not called",
                model=name,
            )

    def _disabled(self, name: str) -> bool:
        """Whether the catalog now says `name` is disabled (a disabled model gets no further call)."""
        try:
            return self.o.catalog.get(name).status == "disabled"
        except UnknownModelError:  # (removed: it still gives the answer it was picked for)
            return False

    def _count_failed(
        self, model: ModelProfile, exc: ProviderError, ledger: Ledger, role: Role, worst: float
    ) -> tuple[Usage, float]:
        """Count a failed call: its record, and its cost when the provider billed it (a refusal, or an answer withheld
        by a content filter, after the model read the prompt: counted as an answer's, so the limit holds); returns
        what it was billed (usage and cost, none when it was not)."""
        usage, cost, catalog_cost = _billed(model, exc)
        if cost and isinstance(exc, ContentFiltered):  # (for a judge's verdict: see `LLMJudgeEvaluator`)
            exc.usage, exc.cost = usage, cost
        if usage.total_tokens:
            ledger.usage = usage if ledger.usage is None else ledger.usage + usage
        if cost:
            ledger.spent += (cost,)
            if role == "generate":
                self._failed_answer(cost)
            if cost > worst + EPS:
                self._overage(model, cost, worst, ledger, catalog_cost)
            elif cost > catalog_cost or model.name in self.o._surcharges.ratios:
                self.o._surcharges.billed(model.name, cost, catalog_cost)  # (above the catalog price: reserved next)
        if role == "judge":
            self._unused(ledger, worst, cost)
        ledger.calls += (call_record(self.doc, model.name, role, cost, usage, 0.0, None, error=type(exc).__name__),)
        if role == "judge" and not keeps_judging(exc):  # (its key refused, a timeout past the retries, …)
            self.not_judging |= {model.name}  # unusable as a judge for the rest of the run
            if not answers_after_judging(exc):  # (a judge prompt too long, a judge setting refused: it may answer)
                self.failed |= {model.name}  # nor to answer: not the next iteration's pick, to wait out again
        if isinstance(exc, AuthenticationError):
            self._key_refused(model, exc)
        return usage, cost

    def _key_refused(self, model: ModelProfile, exc: AuthenticationError) -> None:
        """`model`'s provider rejected its API key (a 401, or Gemini's 400 `API_KEY_INVALID`): the provider's other
        models, sent the same key, are asked no more in this run, neither to answer nor to judge (a wrong
        OPENAI_API_KEY had each of the catalog's ten OpenAI models asked in turn, each answering the same 401). Unless
        the refusal speaks of a model (a gateway's virtual key for some models only: LiteLLM's 401 "key not allowed to
        access model … Tried to access gpt-4"): that key may be good for the others. Other providers' models stay
        candidates. The adapter says which it is (`exc.key_rejected`, from the vendor's code); an adapter that does
        not (a third party's, a 401 of an OpenAI-compatible server without OpenAI's code) leaves it to the status and
        the message: a 403 is a refusal of this call alone."""
        rejected = exc.key_rejected
        if rejected is None:
            rejected = exc.status_code != 403 and not _ABOUT_A_MODEL.search(str(exc))
        if not rejected:
            return
        others = {m.name for m in self.o.catalog if m.provider == model.provider} - self.failed - {model.name}
        if others:
            self.failed |= others
            self.not_judging |= others
            self.unasked |= others

    def _failed_answer(self, cost: float) -> None:
        """The iteration's model was billed `cost` for an answer it does not keep (a refusal, an empty text): on the
        iteration's `failed_cost`, so that its iterations add up to the run's `total_cost`."""
        if cost and self.doc.iterations:
            it = self.doc.iterations[-1]
            assign(it, failed_cost=add_costs(it.failed_cost, cost))

    def _unused(self, ledger: Ledger, worst: float, cost: float) -> None:
        """A judge's call ended costing `cost` of the `worst` reserved for it: the rest is free for the step's other
        judges at once, not at the step's commit. (The spare panel asked when the whole panel failed was refused
        for the reservations of the failed judges' calls, unbilled: the paid answer was dropped with "no judge
        produced a verdict", the session's budget unspent.) Held in the store, it is held for the run's judges
        (`prepaid`, drawn first); otherwise the run's own count of what is in flight drops."""
        free = worst - cost
        if free <= EPS:
            return
        ledger.reserved_local = max(ledger.reserved_local - free, 0.0)
        if self.session_limit is not None:
            ledger.reserved_in_store = max(ledger.reserved_in_store - free, 0.0)
            self.prepaid += free
        else:
            self.inflight = max(self.inflight - free, 0.0)

    def _unreadable(self, gen: Generation) -> EvaluationError | None:
        """Why the built-in judge cannot read the verdict `gen` (no score, a score out of range, a blank answer), which
        the call's telemetry then reports as its error (`outcome="error"` in the server's metrics), as an empty
        answer's: it reported such a call `ok`, though it gave no verdict (the judge is set aside for the rest of the
        run). Not asked when nothing sees the telemetry, nor for an evaluator of one's own, which reads its judges'
        answers its own way."""
        if self.telemetry is NOOP or type(self.evaluator).evaluate is not builtin_evaluate():
            return None
        try:
            parse_verdict(gen.text)
        except EvaluationError as exc:
            return exc
        return None

    def _count_answer(
        self,
        model: ModelProfile,
        request: GenerationRequest,
        gen: Generation,
        ledger: Ledger,
        role: Role,
        worst: float,
        empty: EmptyAnswer | None,
    ) -> None:
        """Count an answered call: its cost, what it teaches the caps and the circuit, its record (a judge's; an
        answer's is recorded with its iteration); an empty answer (`empty`) is then raised as the model's failure."""
        circuit = self.circuit
        if empty is None:
            circuit.record_success(model.name)
        elif gen.finish_reason == "length":  # its output cap ran out first: the cap's failure, not the model's
            circuit.end_trial(model.name)  # (a few tight caps in a row kept every run from a healthy model)
        else:
            circuit.record_failure(model.name)
        self.o.output_lengths.observe(
            model.name,
            role,
            gen.usage.output_tokens,
            finish_reason=gen.finish_reason,
            cap=request.max_output_tokens,
            most=model.max_output_tokens,
        )
        if not gen.model_name:
            gen.model_name = model.name
        share(gen, gen.usage)  # (kept while the run is in flight: see `_seal`)
        ledger.spent += (gen.cost,)
        ledger.usage = gen.usage if ledger.usage is None else ledger.usage + gen.usage
        billed = gen.reported_cost is not None  # (the vendor's bill: perhaps above the catalog price of the usage)
        if gen.cost > worst + EPS:
            self._overage(model, gen.cost, worst, ledger, gen.catalog_cost if billed else None)
        elif billed or model.name in self.o._surcharges.ratios:
            # above the catalog price: its next calls reserve the surcharge; at it, a surcharge may be forgotten
            self.o._surcharges.billed(model.name, gen.cost, gen.catalog_cost)
        if empty is not None:
            self._failed_answer(gen.cost)
            ledger.calls += (
                call_record(
                    self.doc,
                    model.name,
                    role,
                    gen.cost,
                    gen.usage,
                    gen.latency_ms,
                    None,
                    gen=gen,
                    error=type(empty).__name__,
                ),
            )
            raise empty
        if role == "judge":
            self._unused(ledger, worst, gen.cost)
            ledger.calls += (
                call_record(self.doc, model.name, role, gen.cost, gen.usage, gen.latency_ms, None, gen=gen),
            )

    def _streamed(
        self, provider: Provider, request: GenerationRequest, model_name: str, iteration: int
    ) -> Awaitable[Generation]:
        return provider.generate_stream(request, self._text_sink(model_name, iteration))

    def _text_sink(self, model_name: str, iteration: int) -> TextSink:
        deliver, oid = self.on_delta, self.doc.id
        index = 0

        async def on_text(text: str) -> None:
            nonlocal index
            if deliver is not None and text:
                deliver(AnswerDelta(oid, iteration, model_name, text, index))
                index += 1

        return on_text

    def _overage(
        self, model: ModelProfile, cost: float, worst: float, ledger: Ledger, catalog_cost: float | None = None
    ) -> None:
        """The provider billed more than the call's reserved worst case (`catalog_cost`: the catalog price of the
        usage, when the bill is the vendor's own, perhaps above it).

        The policy (docs/guarantees.md): the whole reported cost is counted — `total_cost` is what the
        provider bills — and the excess is recorded as `overage_cost`; the model is used no more in
        this run, and as the overage is counted against the limit, no further call is made unless its
        own worst case still fits what is left. A bill whose excess is a surcharge over the catalog price (the usage
        fit the reservation, at the prices it was reserved at) teaches the model's reservations that surcharge, and
        the model stays: its next calls reserve what this one was billed.
        """
        over = add_costs(cost, -worst)
        ledger.overage += (over,)
        surcharges = self.o._surcharges
        kept = ""
        if catalog_cost is not None:
            fitted = catalog_cost * surcharges.ratios.get(model.name, 1.0) <= worst + EPS  # (as reserved)
            surcharges.learn(model.name, cost, catalog_cost)
            if fitted and cost <= catalog_cost * surcharges.ratios.get(model.name, 1.0) + EPS:  # (not capped)
                kept = f"{cost / catalog_cost:.3g} times the catalog price of its usage{KEPT}"
        if not kept:
            self.failed |= {model.name}
            self.not_judging |= {model.name}
        if self.doc.iterations:  # the iteration whose answer or judging it was
            self.doc.iterations[-1].errors.append(
                f"{model.name}: CostOverrun: reported usage cost {dollars(cost)}, {dollars(over)} above the"
                f" {dollars(worst)} reserved for the call" + (f": billed {kept}" if kept else "")
            )
            self.doc.iterations[-1].failures += ("CostOverrun",)
        logger.warning(
            "%s cost $%.6f, $%.6f above its reserved worst case: %s",
            model.name,
            cost,
            over,
            f"billed {kept}" if kept else "excluded from the run",
            extra=self._ids(),
        )

    def _remaining(self) -> float | None:
        doc = self.doc
        held = self.inflight + self.asking
        limits = []
        if doc.settings.cost_limit is not None:
            limits.append(doc.settings.cost_limit - doc.total_cost - held)
        if self.session_limit is not None:
            limits.append(self.session_limit - self.session_base - doc.total_cost - held)
        return min(limits) if limits else None

    async def _reserve(self, amount: float, ledger: Ledger, *, prepay: float = 0.0) -> None:
        """Reserve `amount` for one call, plus `prepay` for judging its answer: an answer is not paid for unless
        its judging is held too (the session's other runs could otherwise spend it while the model answers)."""
        taken = 0.0
        if self.prepaid:  # reserved in the store with the generation, for the judges: used first
            taken = min(self.prepaid, amount)
            self.prepaid = self.prepaid - taken if self.prepaid - taken > EPS else 0.0
            ledger.reserved_in_store += taken
            ledger.reserved_local += taken
            amount -= taken
            if amount <= EPS:
                return
        try:
            await self._reserve_rest(amount, ledger, prepay=prepay)
        except BudgetExceeded:
            if taken:  # the call is not made: what was held for the judges stays theirs (a cheaper judge may fit it)
                self.prepaid += taken
                ledger.reserved_in_store -= taken
                ledger.reserved_local -= taken
            raise

    async def _reserve_rest(self, amount: float, ledger: Ledger, *, prepay: float) -> None:
        remaining = self._remaining()
        judging = f" and {dollars(prepay)} for judging its answer" if prepay else ""
        if remaining is not None and amount + prepay > remaining + EPS:
            raise BudgetExceeded(
                f"a call may cost up to {dollars(amount)}{judging} but {dollars(max(remaining, 0))} is left",
                remaining=remaining,
                needed=amount + prepay,
            )
        if self.session_limit is not None:
            began = time.monotonic()
            # (counted while the store writes it: the panel's other judges checked the run's own cost_limit without
            # it, all were called, and the run spent more than its limit)
            self.asking += amount + prepay
            try:
                ok, held = await reserve_waiting(
                    lambda: self._reserve_in_store(amount, ledger, prepay=prepay),
                    self.o.store,
                    self.doc.session_id,
                    amount + prepay,
                    limit=self.session_limit,
                    own=self.inflight,
                    timeout=self.wait_left,
                )
            finally:
                self.asking = asking if (asking := self.asking - amount - prepay) > EPS else 0.0
            spent = time.monotonic() - began
            self.wait_left = max(self.wait_left - spent, 0.0)
            if not ok:
                waited = (  # (the time this call waited: a fallback after the iteration's wait has run out waits none)
                    f"; other runs of the session held {dollars(held)}"
                    + (
                        f" for the {spent:.2g}s it waited"
                        if spent >= 0.01
                        else ", and this iteration's wait had run out"
                    )
                    if held
                    else ""
                )
                raise BudgetExceeded(
                    f"the session's budget cannot cover a call of up to {dollars(amount)}{judging}{waited}",
                    needed=amount + prepay,
                )
        else:
            ledger.reserved_local += amount
            self.inflight += amount

    async def _reserve_in_store(self, amount: float, ledger: Ledger, *, prepay: float = 0.0) -> bool:
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
                lambda: store.reserve_budget(sid, oid, amount + prepay),
                self.o.store_retry,
                f"reserving for {oid}",
                ids=self._ids,
            ),
            held,
        )

    def _settle(self, ledger: Ledger) -> float:
        """Add what the step spent to the orchestration's total (once); return it."""
        if ledger.settled is None:
            ledger.settled = add_costs(*ledger.spent) if ledger.spent else 0.0
            doc = self.doc
            if ledger.settled:
                assign(doc, total_cost=add_costs(doc.total_cost, ledger.settled))
            if ledger.overage:
                assign(doc, overage_cost=add_costs(doc.overage_cost, *ledger.overage))
            if ledger.usage is not None and (usage := doc.usage) is not None:  # (None: stored before it was counted)
                assign(doc, usage=ledger.usage if usage is NO_TOKENS else usage + ledger.usage)
        return ledger.settled

    def _release_prepaid(self, ledger: Ledger) -> None:
        """Hand what is left of the judges' prepaid reservation to `ledger`, released by its commit."""
        if self.prepaid:
            ledger.reserved_in_store += self.prepaid
            ledger.reserved_local += self.prepaid
            self.prepaid = 0.0

    async def _refresh_session(self) -> None:
        session = await self.o.store.get_session(self.doc.session_id)
        self.session_base = session.total_cost - self.doc.total_cost


_ABOUT_A_MODEL = re.compile(r"\bmodels?\b", re.IGNORECASE)
"""A key refusal that speaks of a model (LiteLLM's "key not allowed to access model"; OpenAI's restricted key,
"Missing scopes: model.request"): the key may be good for the provider's other models."""


def _billed(model: ModelProfile, exc: ProviderError) -> tuple[Usage, float, float]:
    """The usage, cost and catalog cost of a failed call the provider billed: a `ContentFiltered` that came with usage
    (an answer refused or withheld after the model read the prompt, and perhaps wrote), at its `reported_cost` when it
    has a usable one, else at the catalog's prices, every token
    priced as an answer's are (`whole_usage`: cached tokens reported apart from the input were billed alone, the
    other input tokens at $0). Usage that cannot be priced (a negative count, more than any one call may cost) is
    counted at nothing, as for an answer."""
    usage = exc.usage if isinstance(exc, ContentFiltered) else None
    if (
        usage is None
        or min(usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.reasoning_tokens) < 0
    ):
        return Usage(), 0.0, 0.0
    usage = whole_usage(model, usage)
    try:
        catalog_cost = cost = model.cost(usage)
    except UnknownPriceError:
        return usage, 0.0, 0.0
    reported = exc.reported_cost if isinstance(exc, ContentFiltered) else None  # (billed, when not the catalog price)
    if reported is not None and 0 <= reported <= MAX_AMOUNT:  # (NaN fails both)
        cost = add_costs(float(reported))
    return (usage, cost, catalog_cost) if cost <= MAX_AMOUNT and catalog_cost <= MAX_AMOUNT else (Usage(), 0.0, 0.0)


def _count_failure(circuit: CircuitBreaker, model_name: str, exc: BaseException) -> None:
    """A failed attempt opens the model's circuit (after enough of them), unless the request was too long for it or
    its content was refused (`ContentFiltered`: the prompt's failure, not the model's; a few refused prompts in a row
    kept every run from a healthy model for the cool-down); a refused key (`AuthenticationError`) opens it at once:
    every run would otherwise try that model again, and each of the provider's other models (a key refused for one
    model may be good for others: a gateway's virtual key)."""
    if not isinstance(exc, ContextLengthExceeded | ContentFiltered):
        unserved = f"{type(exc).__name__}: {exc}" if isinstance(exc, ModelNotFound) else None
        circuit.record_failure(model_name, at_once=isinstance(exc, AuthenticationError), unserved=unserved)


def _empty_answer(model: ModelProfile, gen: Generation, request: GenerationRequest) -> EmptyAnswer:
    """An answer with no text (or only whitespace): the model failed this attempt, and the run falls back."""
    if gen.finish_reason == "length":
        why = (
            f"its {request.max_output_tokens}-token output cap ran out before any answer (spent on reasoning?);"
            " raise max_output_tokens or use another model"
        )
    else:
        why = f"an empty answer (finish_reason {gen.finish_reason!r}): nothing to judge"
    return EmptyAnswer(f"{model.name} answered nothing: {why}", model=model.name, provider=model.provider)
