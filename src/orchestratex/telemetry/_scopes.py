"""The context managers of `RunTelemetry`: one orchestration, one model call, one judgment."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ..exceptions import StoreError
from ._logs import CALLS, EVALUATION, ORCHESTRATOR, emit
from ._observers import CallOutcome, Outcome, notify

if TYPE_CHECKING:
    from types import TracebackType

    from ..catalog import ModelProfile
    from ..providers import Generation, GenerationRequest
    from ..records import Evaluation, Iteration, Orchestration
    from ..usage import Usage
    from ._hooks import RunTelemetry

__all__ = ["CallScope", "JudgmentScope", "OrchestrationScope"]

_INFO = logging.INFO
_AGENT = "orchestratex"


class OrchestrationScope:
    __slots__ = ("started", "t", "token")

    def __init__(self, t: RunTelemetry) -> None:
        self.t = t
        self.token: object = None
        self.started = 0.0

    def __enter__(self) -> OrchestrationScope:
        t, doc = self.t, self.t.doc
        self.started = time.perf_counter()
        resumed = doc.status != "pending"
        if t.spans is not None:
            t.root = t.spans.start(
                f"invoke_agent {_AGENT}",
                {
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": _AGENT,
                    "gen_ai.conversation.id": doc.thread_id,
                    "orchestratex.orchestration.id": doc.id,
                    "orchestratex.session.id": doc.session_id,
                    "orchestratex.thread.id": doc.thread_id,
                    "orchestratex.user.id": doc.user_id,
                    "orchestratex.max_iterations": doc.settings.max_iterations,
                    "orchestratex.evaluation_threshold": doc.settings.evaluation_threshold,
                    "orchestratex.resumed": resumed,
                    "gen_ai.input.messages": (
                        t.spans.messages([(m.role, m.content) for m in doc.messages] or [("user", doc.prompt)])
                        if t.include_content
                        else None
                    ),
                },
            )
            self.token = t.spans.attach(t.root)
        for observer in t.observers:
            notify(observer.orchestration_started, doc)
        if t.logs and ORCHESTRATOR.isEnabledFor(_INFO):
            fields: dict[str, object] = {**t.ids(), "user_id": doc.user_id, "resumed": resumed}
            if t.include_content:
                fields["prompt"] = doc.prompt
            emit(ORCHESTRATOR, _INFO, "orchestration_started", fields)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        t, doc = self.t, self.t.doc
        duration = time.perf_counter() - self.started
        unrecorded = isinstance(exc, StoreError) and doc.status != "running"
        if unrecorded:
            # Its end never reached the store (the final commit failed: unreachable, its lease taken): the store has
            # it running, to be resumed from there, and it ends then. Said as it stands, like a run handed back: its
            # observers (the server's metrics) counted it ended `failed`, a failure that never happened, then again.
            doc = doc.model_copy(update={"status": "running", "stop_reason": None, "error": None})
        ended = doc.status in ("completed", "failed", "cancelled")
        # (a run stopped by a failure before it could end, its step's write refused: its lease taken over by another
        # process while this one was paused, say. Said as a hand-back, INFO and no error, the call it paid for was
        # in this process's log and metrics, nowhere in the run's cost, and nothing said why)
        stopped = not ended and not unrecorded and isinstance(exc, Exception)
        if t.spans is not None and t.root is not None:
            t.end_iteration()
            root = t.root
            t.spans.set_attributes(
                root,
                {
                    "orchestratex.domain": doc.domain,
                    "orchestratex.status": doc.status,
                    "orchestratex.stop_reason": doc.stop_reason,
                    "orchestratex.iterations": len(doc.iterations),
                    "orchestratex.cost_usd": doc.total_cost,
                    "orchestratex.score": doc.final_score,
                    "orchestratex.final_model": doc.final_model,
                    "gen_ai.output.messages": (
                        t.spans.output_messages(doc.final_response, _finish_reason(doc))
                        if t.include_content and doc.final_response
                        else None
                    ),
                },
            )
            if isinstance(exc, Exception):  # not a cancellation or a shutdown: the run's status tells those
                t.spans.fail(root, exc, type(exc).__qualname__, f"{type(exc).__name__}: {exc}")
            elif doc.stop_reason == "error" or doc.status == "failed":
                # (a run that ended `failed` without an answer — no model fit the budget, every attempt failed — is
                # a failure whatever its stop reason: `orchestration_budget`, `orchestration_max_iterations`, …)
                reason = doc.stop_reason or "error"
                t.spans.fail(root, None, f"orchestration_{reason}", doc.error or reason)
        for observer in t.observers:
            notify(observer.orchestration_ended, doc, duration)
        if t.logs and ORCHESTRATOR.isEnabledFor(_INFO):
            fields: dict[str, object] = {
                **t.ids(),
                "status": doc.status,
                "stop_reason": doc.stop_reason if ended else "suspended",
                "iterations": len(doc.iterations),
                "score": doc.final_score,
                "model": doc.final_model,
                "cost_usd": doc.total_cost,
                "duration_ms": round(duration * 1000, 1),
                "error": f"{type(exc).__name__}: {exc}" if unrecorded or stopped else doc.error,
            }
            # (a run that ended `failed` gave no answer, whatever its stop reason: `budget` when no model fit)
            failed = doc.stop_reason == "error" or doc.status == "failed" or unrecorded or stopped
            level = logging.WARNING if failed else _INFO
            emit(ORCHESTRATOR, level, "stop" if ended else "suspended", fields)
        if t.spans is not None and t.root is not None:  # (after its line: written in the span, it carries its ids)
            t.spans.detach(self.token)
            t.root.end()


def _finish_reason(doc: Orchestration) -> str | None:
    """Why the model that wrote the final answer stopped writing it."""
    best = doc.best_iteration
    return best.finish_reason if best is not None else None


class CallScope:
    __slots__ = ("cost", "error", "gen", "model", "request", "role", "span", "started", "t", "token", "usage")

    def __init__(self, t: RunTelemetry, model: ModelProfile, request: GenerationRequest, role: str) -> None:
        self.t, self.model, self.request, self.role = t, model, request, role
        self.span: Any = None
        self.token: object = None
        self.gen: Generation | None = None
        self.cost = 0.0
        self.usage: Usage | None = None
        self.started = 0.0
        self.error: BaseException | None = None

    def done(self, gen: Generation, cost: float, error: BaseException | None = None) -> None:
        """The call answered `gen`, costing `cost`; `error` when that answer is still the model's failure (an empty
        one: paid for, nothing to judge), which the scope then reports as the call's error."""
        self.gen = gen
        self.cost = cost
        self.error = error

    def billed(self, usage: Usage, cost: float) -> None:
        """The call failed, but the provider billed it `usage`, costing `cost` (a refusal by its content filter after
        the model read the prompt): the run counts that cost, and so do the call's metrics, log line and span."""
        self.usage = usage
        self.cost = cost

    def __enter__(self) -> CallScope:
        t, model, request = self.t, self.model, self.request
        self.started = time.perf_counter()
        spans = t.spans
        if spans is not None:
            parent = t.judging if self.role == "judge" and t.judging is not None else t.current_iteration()
            self.span = spans.start(
                f"chat {model.version}",
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": spans.provider_name(model.provider),
                    "gen_ai.request.model": model.version,
                    "gen_ai.request.max_tokens": request.max_output_tokens,
                    "gen_ai.request.temperature": request.temperature,
                    "gen_ai.output.type": "json" if request.json_output else "text",
                    "orchestratex.model": model.name,
                    "orchestratex.role": self.role,
                    "orchestratex.iteration": t.doc.iterations[-1].index if t.doc.iterations else None,
                    "gen_ai.input.messages": (
                        spans.messages([(m.role, m.content) for m in request.messages]) if t.include_content else None
                    ),
                },
                parent=parent or t.root,
                kind=spans.CLIENT,
            )
            self.token = spans.attach(self.span)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        t, model, gen = self.t, self.model, self.gen
        duration = time.perf_counter() - self.started
        if exc is None:
            exc = self.error
        outcome: Outcome = "ok" if exc is None else "error" if isinstance(exc, Exception) else "cancelled"
        error_type = None if exc is None else type(exc).__name__
        usage = gen.usage if gen is not None else self.usage
        if self.span is not None:
            spans = t.spans
            assert spans is not None
            span = self.span
            if gen is not None and usage is not None:
                spans.set_attributes(
                    span,
                    {
                        "gen_ai.response.model": gen.response_model or model.version,
                        "gen_ai.usage.input_tokens": usage.input_tokens,
                        "gen_ai.usage.output_tokens": usage.output_tokens,
                        "gen_ai.response.finish_reasons": [gen.finish_reason] if gen.finish_reason else None,
                        "orchestratex.cost_usd": self.cost,
                        "orchestratex.latency_ms": gen.latency_ms,
                        "gen_ai.output.messages": (
                            spans.output_messages(gen.text, gen.finish_reason) if t.include_content else None
                        ),
                    },
                )
            elif usage is not None:  # (a failed call the provider billed: `billed`)
                spans.set_attributes(
                    span,
                    {
                        "gen_ai.usage.input_tokens": usage.input_tokens,
                        "gen_ai.usage.output_tokens": usage.output_tokens,
                        "orchestratex.cost_usd": self.cost,
                    },
                )
            if outcome == "error":
                spans.fail(span, exc, error_type or "error", f"{error_type}: {exc}")
            elif outcome == "cancelled":
                span.set_attribute("orchestratex.outcome", "cancelled")
        if t.observers:
            call = CallOutcome(
                model=model.name,
                provider=model.provider,
                role=self.role,
                outcome=outcome,
                duration_s=duration,
                cost=self.cost,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
                error_type=error_type,
            )
            for observer in t.observers:
                notify(observer.model_called, call)
        if t.logs and CALLS.isEnabledFor(_INFO):
            fields: dict[str, object] = {
                **t.ids(),
                "iteration": t.doc.iterations[-1].index if t.doc.iterations else None,
                "model": model.name,
                "provider": model.provider,
                "role": self.role,
                "outcome": outcome,
                "input_tokens": usage.input_tokens if usage else None,
                "output_tokens": usage.output_tokens if usage else None,
                "cost_usd": self.cost if usage is not None else None,
                "latency_ms": round(duration * 1000, 1),
                "finish_reason": gen.finish_reason if gen is not None else None,
                "error_type": error_type,
                "error": str(getattr(exc, "message", exc)) if outcome == "error" else None,
            }
            if t.include_content and gen is not None:
                fields["answer"] = gen.text
            # (a call cut short by a cancellation — the run cancelled, or handed back on a graceful stop — did not fail:
            # a WARNING per call in flight at every deployment would teach operators to ignore warnings)
            emit(CALLS, logging.WARNING if outcome == "error" else _INFO, "model_call", fields)
        if self.span is not None:  # (after its line: written in the call's span, the line carries its ids)
            assert t.spans is not None
            t.spans.detach(self.token)
            self.span.end()


class JudgmentScope:
    __slots__ = ("evaluation", "it", "span", "t")

    def __init__(self, t: RunTelemetry, it: Iteration) -> None:
        self.t, self.it = t, it
        self.span: Any = None
        self.evaluation: Evaluation | None = None

    def done(self, evaluation: Evaluation) -> None:
        self.evaluation = evaluation

    def __enter__(self) -> JudgmentScope:
        t = self.t
        if t.spans is not None:
            self.span = t.spans.start(
                "orchestratex.judgment",
                {"orchestratex.iteration": self.it.index, "orchestratex.judged_model": self.it.model_name},
                parent=t.current_iteration() or t.root,
            )
            t.judging = self.span
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        t, ev, it = self.t, self.evaluation, self.it
        if self.span is not None:
            spans = t.spans
            assert spans is not None
            span = self.span
            t.judging = None
            if ev is not None:
                spans.set_attributes(
                    span,
                    {
                        "orchestratex.score": ev.score,
                        "orchestratex.judges": list(ev.judge_models) or None,
                        "orchestratex.cost_usd": ev.cost,
                    },
                )
                for verdict in ev.verdicts:
                    spans.add_event(
                        span,
                        "gen_ai.evaluation.result",
                        {
                            "gen_ai.evaluation.name": "orchestratex.judge",
                            "gen_ai.evaluation.score.value": verdict.score,
                            "gen_ai.evaluation.explanation": verdict.feedback if t.include_content else None,
                            "orchestratex.judge.model": verdict.judge_model,
                            "error.type": verdict.error.partition(":")[0] if verdict.error else None,
                        },
                    )
                iteration_span = t.iteration_span
                if iteration_span is not None:
                    spans.set_attributes(iteration_span, {"orchestratex.score": ev.score})
            if isinstance(exc, Exception):
                spans.fail(span, exc, type(exc).__name__, f"{type(exc).__name__}: {exc}")
            elif exc is not None:  # (cut short, as its judges' calls: no error, and no verdict either)
                span.set_attribute("orchestratex.outcome", "cancelled")
            span.end()
            if ev is not None:
                t.end_iteration()
        if t.logs and EVALUATION.isEnabledFor(_INFO):
            # (a cancellation, as of a run cancelled or handed back on shutdown, is no error of the judges)
            outcome: Outcome = "ok" if exc is None else "error" if isinstance(exc, Exception) else "cancelled"
            fields: dict[str, object] = {
                **t.ids(),
                "iteration": it.index,
                "model": it.model_name,
                "score": ev.score if ev is not None else None,
                "judges": ",".join(
                    f"{v.judge_model}:{v.score:g}" if v.score is not None else f"{v.judge_model}:error"
                    for v in ev.verdicts
                )
                if ev is not None
                else None,
                "cost_usd": ev.cost if ev is not None else None,
                "outcome": outcome,
                "error": f"{type(exc).__name__}: {getattr(exc, 'message', exc)}" if outcome == "error" else None,
            }
            if t.include_content and ev is not None:
                fields["feedback"] = ev.feedback
            emit(EVALUATION, logging.WARNING if outcome == "error" else _INFO, "verdict", fields)
