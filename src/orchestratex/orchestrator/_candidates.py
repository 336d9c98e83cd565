"""A run's routing inputs: the task the router sees and the models it may choose."""

from __future__ import annotations

import math

from .._dollars import dollars
from ..catalog import ModelProfile
from ..exceptions import UnknownPriceError
from ..providers import GenerationRequest, Message
from ..providers._base import counted_input_tokens, estimate_message_tokens, least_output_tokens
from ..routing import Attempt, Task
from ..usage import add_costs
from ._budget import affordable_cap
from ._ledger import Stop
from ._prompts import request_messages
from ._spending import Spending
from ._window import too_long

__all__ = ["Candidates"]

_HELD = "the session's budget cannot cover a call"
"""How a refusal for the budget that the session's other runs hold begins (`Spending._reserve_rest`)."""


class Candidates(Spending):
    """The router's task and candidates, each fitting the window, the budget and the judging it needs."""

    __slots__ = ()

    def _messages(self, last_user: str) -> list[Message]:
        """`request_messages` for this run's conversation ending with `last_user` (the last ones built, reused:
        not to be changed in place)."""
        return self._conversation(last_user)[2]

    def _conversation(self, last_user: str) -> tuple[str, str, list[Message], int]:
        """`_messages(last_user)` with what is kept of them (`_sent`): the last user message, the system prompt and
        their byte bound (`estimate_message_tokens`), counted once for the task, the candidates and the request."""
        sent, system = self._sent, self.o.system_prompt
        if sent is None or sent[0] != last_user or sent[1] != system:
            messages = request_messages(self.doc, system, last_user)
            sent = self._sent = (last_user, system, messages, estimate_message_tokens(messages))
        return sent

    def _task(self, prompt: str, messages: list[Message] | None) -> Task:
        doc = self.doc
        sent = self._sent
        if messages is not None and sent is not None and sent[2] is messages:  # (the messages just built)
            bound = sent[3]
        elif messages:
            bound = estimate_message_tokens(messages)
        else:
            bound = self._conversation(prompt)[3]
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
        allowed = self.o._routable(self.doc.settings.preferred_models)
        refused = self._refused_for_budget()
        if refused:
            exclude = set(refused) | (exclude or set())
        usable = [
            m
            for m in allowed
            if m.name not in self.failed
            and (not exclude or m.name not in exclude)
            and m.context_window >= self.min_context
            and task.input_tokens // 4 + min(task.max_output_tokens, m.max_output_tokens) <= m.context_window
            and self.circuit.allows(m.name)
        ]
        if not usable:
            raise self._none_usable(task, allowed, refused)
        _, _, msgs, counted = self._conversation(task.prompt)  # (the conversation's earlier turns count: they are sent)
        fitting: list[ModelProfile] = []
        unjudgeable: list[tuple[ModelProfile, int, int]] = []  # (model, input bound, output limit)
        bounds: dict[int, int | None] = {}  # per provider, when its count is the same for all its models
        for m in usable:
            limit = max(min(task.max_output_tokens, m.max_output_tokens), 1)
            provider = self.o.provider_for(m)
            if id(provider) not in bounds:  # (a byte bound is the one counted already)
                bounds[id(provider)] = counted if provider._counts_bytes() else provider._message_bound(msgs)
            bound = bounds[id(provider)]
            if bound is None:
                bound = counted_input_tokens(
                    provider, GenerationRequest(model=m, messages=msgs, max_output_tokens=limit)
                )
            if self._fit(m, bound, limit, task.iteration) is not None:
                fitting.append(m)
            elif self.planner.needed(task.iteration) and self.planner.reserve_for(m.name, self._cap(m, limit)) is None:
                # (no judge is left for it, or no judge's window holds the prompt and an answer of its length)
                unjudgeable.append((m, bound, limit))
        if fitting:
            return fitting
        if unjudgeable and self._may_go_unjudged():  # an answer returned unjudged rather than none
            remaining = self._remaining()
            fitting = [m for m, bound, limit in unjudgeable if self._unjudged_fit(m, bound, limit, remaining)]
            if fitting:
                return fitting
            unjudgeable = []  # (they could be answered unjudged: the budget refused them)
        raise self._none_fitting(task, usable, len(unjudgeable), refused)

    def _may_go_unjudged(self) -> bool:
        """Whether a model no judge could judge may answer, its answer to be returned unjudged: with
        `judging="when_possible"`, until an answer is judged (a judged answer is preferred to an unjudged one: a later
        one would be paid for and never returned). Asked only when no model that could be judged fits."""
        return self.judging == "when_possible" and all(it.evaluation is None for it in self.doc.iterations)

    def _unjudged_fit(
        self, model: ModelProfile, input_bound: int, limit: int, remaining: float | None
    ) -> tuple[int, float] | None:
        """(output cap, 0.0) for `model`'s answer to be returned unjudged (`_may_go_unjudged`) when no judge could
        judge it (`JudgePlanner.reserve_for` None): within `remaining`, with nothing kept for judging it. None when a
        judge could (it is a candidate as any other: `_fit`) or the budget cannot pay for a useful cap."""
        cap, need = self.o.output_lengths.cap(model, "generate", limit)
        least = least_output_tokens(self.o.provider_for(model), model)
        if need < least:
            cap, need = max(cap, least), least
        if self.planner.reserve_for(model.name, cap) is not None:
            return None
        sent = affordable_cap(model, input_bound, cap, need, self.o._surcharges.budget(model.name, remaining))
        return None if sent is None else (sent, 0.0)

    def _none_fitting(self, task: Task, usable: list[ModelProfile], unjudgeable: int, refused: dict[str, str]) -> Stop:
        """Why none of the `usable` models fits: no judge can read their answers (`unjudgeable` of them), or the
        budget (the last refusal of this iteration for what the session's other runs hold, when the models that fit
        were refused so)."""
        if unjudgeable == len(usable):
            if not any(self.planner.pool(m.name) for m in usable):
                return Stop(
                    "error",
                    self._out_of_models(
                        "no judge is available: a judge must be another usable model that is not failing",
                        "no model is left to judge another's answer",
                    ),
                )
            if len(self.doc.messages) > 1:  # the conversation before the prompt is what the judges cannot hold
                return Stop(
                    "error",
                    f"no judge can read this conversation ({len(self.doc.messages)} messages) and its answer: every "
                    "judge's context window is too small (start a new thread, send fewer earlier turns, or add a "
                    "judge with a larger window)",
                )
            return Stop(
                "error",
                "no judge can read this prompt and its answer: every judge's context window is too small "
                "(add a judge with a larger window, or judge less text)",
            )
        held = [why for why in refused.values() if why.startswith(_HELD)]
        if held:  # (the models that fit were refused: the session's other runs hold the rest, as the refusal says)
            return Stop("budget", held[-1])
        remaining = task.remaining_budget or 0.0
        why = f"no model's worst-case cost (with judging) fits the {dollars(max(remaining, 0))} left"
        least = self._least_needed(task, usable)
        if least is not None:  # (how much would do: a user raising the limit by a guess found the next refusal)
            cost, name, tokens = least
            judged = " and its judging" if self.planner.needed(task.iteration) else ""
            shown = math.ceil(cost * 1e6) / 1e6 if cost >= 1e-6 else cost  # (rounded up: that much does)
            why += f": the least a call needs is {dollars(shown)} ({name}'s answer of up to {tokens} tokens{judged})"
        return Stop("budget", why)

    def _least_needed(self, task: Task, usable: list[ModelProfile]) -> tuple[float, str, int] | None:
        """(cost, model, output cap) of the cheapest call of `usable` a budget could let through: the worst case of the
        shortest answer worth asking for (its least cap) and of its judging; None when no model's can be priced or
        judged. Only when none fits (a refusal's message), so its prompt is counted again."""
        msgs = self._messages(task.prompt)
        judged = self.planner.needed(task.iteration)
        best: tuple[float, str, int] | None = None
        for m in usable:
            limit = max(min(task.max_output_tokens, m.max_output_tokens), 1)
            provider = self.o.provider_for(m)
            bound = provider._message_bound(msgs)
            if bound is None:
                bound = counted_input_tokens(
                    provider, GenerationRequest(model=m, messages=msgs, max_output_tokens=limit)
                )
            need = max(self.o.output_lengths.cap(m, "generate", limit)[1], least_output_tokens(provider, m))
            reserve = self.planner.reserve_for(m.name, need) if judged else 0.0
            try:
                worst = self.o._surcharges.worst(m.name, m.worst_case_cost(bound, need))
            except UnknownPriceError:
                continue
            if reserve is None:
                continue
            cost = add_costs(worst, reserve)
            if best is None or cost < best[0]:
                best = (cost, m.name, need)
        return best

    def _none_usable(self, task: Task, allowed: list[ModelProfile], refused: dict[str, str]) -> Stop:
        """Why no model is usable: the budget, when it refused the models left in this iteration (a `budget` stop
        with its last refusal), else what `_out_of_models` says (an `error` stop)."""
        if any(m.name in refused and m.name not in self.failed for m in allowed):
            return Stop("budget", list(refused.values())[-1])
        return Stop(
            "error",
            self._out_of_models(
                too_long(allowed, task.input_tokens, task.max_output_tokens)
                or "no model is available: every candidate failed, is cooling down or is too small",
                "no other model is usable (cooling down, or too small)"
                if any(m.name not in self.failed for m in allowed)
                else None,
            ),
        )

    def _refused_for_budget(self) -> dict[str, str]:
        """The models whose call the budget refused in the iteration being chosen again (a fallback): not candidates
        for it any more. The session's other runs hold what such a call needs, and the wait for them is shared by the
        iteration's fallbacks: once it has run out, asking the same model again within the same step is refused
        again at once (a run went back and forth between two models up to twice the catalog's size, each time with a
        `model_selected` event and a commit). The next iteration may choose them again. Each with why it was
        refused, in the order of the refusals."""
        last = self.doc.iterations[-1] if self.doc.iterations else None
        if last is None or last.phase != "selected" or not last.errors:
            return {}
        refused: dict[str, str] = {}
        for error in last.errors:  # "<model>: <exception>: <detail>"
            model, _, rest = error.partition(": ")
            if rest.startswith("BudgetExceeded: "):
                refused.pop(model, None)
                refused[model] = rest.removeprefix("BudgetExceeded: ")
        return refused

    def _out_of_models(self, reason: str, consequence: str | None) -> str:
        """Why a run has no model left: `reason`, or, when models failed in it (every call a 404 from a wrong base
        URL, say), the failures first, as their cause (every model, or so many and `consequence`), with the last
        one as its iteration recorded it."""
        if not self.failed:
            return reason
        failed = len(self.failed) - len(self.unasked)
        count = f"{failed} models" if failed > 1 else "1 model"
        said = f"{count} failed in this run and {consequence}" if consequence else f"every model failed ({count})"
        if self.unasked:  # (in `failed`, never asked: their provider refused its key to another)
            said = f"{count} failed in this run" + (f" and {consequence}" if consequence else "")
            said += "; the other models of a provider that rejected the API key were not asked"
        last = next((e for it in reversed(self.doc.iterations) for e in reversed(it.errors)), None)
        return said + (f"; the last failure: {last}" if last else "")

    def _fit(self, model: ModelProfile, input_bound: int, limit: int, index: int) -> tuple[int, float] | None:
        """(output cap, judging reserve) for `model` answering a request of `input_bound` input tokens and up to
        `limit` output tokens as iteration `index`, or None when no judge could read its answer or the budget
        cannot pay for a useful cap plus the judging. Remembered for the routing decision (`JudgePlanner.decision`
        forgets it when what it depends on changes)."""
        remaining = self._remaining()
        key = (model.name, input_bound, limit, index, remaining)
        fits = self.planner.fits
        if fits is None:
            fits = self.planner.fits = {}
        elif key in fits:
            return fits[key]
        fits[key] = fit = self._fit_anew(model, input_bound, limit, index, remaining)
        return fit

    def _fit_within(
        self, model: ModelProfile, input_bound: int, limit: int, index: int, budget: float
    ) -> tuple[int, float] | None:
        """`_fit` within `budget` rather than what is left of the run's budget (`Spending._shorter`)."""
        self.planner.decision()
        try:
            fit = self._fit_anew(model, input_bound, limit, index, budget)
            if fit is None and self.planner.needed(index) and self._may_go_unjudged():
                fit = self._unjudged_fit(model, input_bound, limit, budget)
            return fit
        finally:
            self.planner.decided()

    def _cap(self, model: ModelProfile, limit: int) -> int:
        """The output cap `model`'s answer is planned with (its learned cap within `limit`)."""
        return self.o.output_lengths.cap(model, "generate", limit)[0]

    def _fit_anew(
        self, model: ModelProfile, input_bound: int, limit: int, index: int, remaining: float | None
    ) -> tuple[int, float] | None:
        cap, need = self.o.output_lengths.cap(model, "generate", limit)
        least = least_output_tokens(
            self.o.provider_for(model), model
        )  # (the API refuses a smaller cap: it is sent that)
        if need < least:
            cap, need = max(cap, least), least
        if not self.planner.needed(index):
            sent = affordable_cap(model, input_bound, cap, need, self.o._surcharges.budget(model.name, remaining))
            return None if sent is None else (sent, 0.0)
        fit = self._fit_at(model, input_bound, cap, need, remaining)
        if fit is not None or remaining is None or cap <= need or self.planner.reserve_for(model.name, cap) is None:
            return fit
        # the judging of an answer as long as `cap` leaves too little for the answer, but a shorter answer costs less
        # to judge too (a $0.006 budget refused every model for "What is 2+2?", whose answer and judging cost
        # $0.0003: it kept aside the judging of a 2,048-token answer): the longest cap, down to `need`, that fits
        lo, hi = need, cap - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            at = self._fit_at(model, input_bound, mid, need, remaining)
            if at is None:
                hi = mid - 1
            else:
                fit, lo = at, mid + 1
        return fit

    def _fit_at(
        self, model: ModelProfile, input_bound: int, cap: int, need: int, remaining: float | None
    ) -> tuple[int, float] | None:
        """(output cap, judging reserve) for an answer of up to `cap` tokens judged, or None."""
        reserve = self.planner.reserve_for(model.name, cap)
        if reserve is None:
            return None
        budget = None if remaining is None else self.o._surcharges.budget(model.name, remaining - reserve)
        sent = affordable_cap(model, input_bound, cap, need, budget)
        return None if sent is None else (sent, reserve)
