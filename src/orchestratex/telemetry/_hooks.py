"""`run_telemetry`: the hooks an orchestration run calls, fanning out to log lines, spans and observers.

When nothing listens (no `orchestratex.*` logger at INFO, no tracer provider, no observer) a run gets
`NOOP`, whose hooks are one shared null context: tracing costs nothing unless it is configured.
"""

from __future__ import annotations

import logging
import sys
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ._logs import CALLS, EVALUATION, ORCHESTRATOR, ROUTING, emit
from ._observers import RunObserver, observers_of
from ._scopes import CallScope, JudgmentScope, OrchestrationScope
from ._settings import telemetry_settings

if TYPE_CHECKING:
    from types import ModuleType

    from ..catalog import ModelProfile
    from ..providers import GenerationRequest
    from ..records import Iteration, Orchestration

__all__ = ["NOOP", "RunTelemetry", "check_tracer_provider", "run_telemetry"]

_INFO = logging.INFO


_SPANS: list[ModuleType] = []
"""`_spans`, once imported."""
_ENV_PROVIDER: list[bool] = []
"""Whether the environment names a tracer provider (`OTEL_PYTHON_TRACER_PROVIDER`), read once, as the telemetry
settings are."""


def _spans_module() -> ModuleType | None:
    """`_spans` when a tracer provider is configured, else None (without importing OpenTelemetry when the
    application never did: then no provider can have been set, unless the environment names one)."""
    if not _SPANS:
        if "opentelemetry.trace" not in sys.modules:
            if not _ENV_PROVIDER:
                import os

                _ENV_PROVIDER.append("OTEL_PYTHON_TRACER_PROVIDER" in os.environ)
            if not _ENV_PROVIDER[0]:
                return None
        try:
            from . import _spans
        except ImportError:  # pragma: no cover - opentelemetry-api half installed
            return None
        _SPANS.append(_spans)
    spans = _SPANS[0]
    return spans if spans.active() else None


TRACER_PROVIDER_ENV = "OTEL_PYTHON_TRACER_PROVIDER"


def check_tracer_provider() -> None:
    """`ConfigurationError` when `OTEL_PYTHON_TRACER_PROVIDER` names a tracer provider OpenTelemetry cannot load (a
    name no installed package provides, mistyped): the first run looked for it and failed inside the orchestration,
    with OpenTelemetry's logged traceback and "RuntimeError: coroutine raised StopIteration", the orchestration left
    `pending` for a server to resume and fail on again. Checked when an `Orchestrator` is made, as the other
    variables are; nothing to check when tracing is off or OpenTelemetry is not installed (no run looks for it)."""
    import os

    name = os.environ.get(TRACER_PROVIDER_ENV)
    if not name or not telemetry_settings().tracing:
        return
    try:
        from opentelemetry import trace
    except ImportError:
        return
    otel_log = logging.getLogger("opentelemetry.util._providers")  # (it logs the failure with a traceback, then raises)
    was_disabled, otel_log.disabled = otel_log.disabled, True
    try:
        trace.get_tracer_provider()
    except Exception as exc:
        from importlib.metadata import entry_points

        from ..exceptions import ConfigurationError

        known = sorted(ep.name for ep in entry_points(group="opentelemetry_tracer_provider"))
        why = "no installed package provides one of that name" if isinstance(exc, StopIteration) else repr(exc)
        raise ConfigurationError(
            f"{TRACER_PROVIDER_ENV}: OpenTelemetry cannot load the tracer provider {name!r} ({why}); name one of "
            f"{', '.join(known) or 'none installed'}, or unset it"
        ) from None
    finally:
        otel_log.disabled = was_disabled


def run_telemetry(orchestrator: object, doc: Orchestration) -> RunTelemetry | _Noop:
    """The hooks for one run of `doc`: `NOOP` when no log line, span or observer would see them."""
    settings = telemetry_settings()
    spans = _spans_module() if settings.tracing else None
    observers = observers_of(orchestrator)
    logs = any(log.isEnabledFor(_INFO) for log in (ORCHESTRATOR, ROUTING, CALLS, EVALUATION))
    if spans is None and not observers and not logs:
        return NOOP
    return RunTelemetry(doc, spans, observers, logs, settings.include_content)


class _NullScope:
    __slots__ = ()

    def done(self, *args: Any) -> None:
        return None

    def billed(self, *args: Any) -> None:
        return None


_NULL_SCOPE = _NullScope()


class _NullContext(AbstractContextManager[_NullScope]):
    """`nullcontext(_NULL_SCOPE)` whose `__enter__` and `__exit__` are static: a `with` block on it creates no
    bound method, which a run would hold, for the cyclic garbage collector to walk, while it waits inside."""

    __slots__ = ()

    @staticmethod
    def __enter__() -> _NullScope:
        return _NULL_SCOPE

    @staticmethod
    def __exit__(*exc: object) -> None:
        return None


_NULL_CM = _NullContext()


class _Noop:
    """Hooks that do nothing (no listener)."""

    __slots__ = ()

    def orchestration(self) -> AbstractContextManager[Any]:
        return _NULL_CM

    def routed(self, it: Iteration, scores: dict[str, float], fallback_from: str | None = None) -> None:
        return None

    def call(self, model: ModelProfile, request: GenerationRequest, role: str) -> AbstractContextManager[Any]:
        return _NULL_CM

    def judgment(self, it: Iteration) -> AbstractContextManager[Any]:
        return _NULL_CM


NOOP = _Noop()


def _alternatives(scores: dict[str, float], chosen: str, limit: int = 5) -> str | None:
    others = sorted(((s, m) for m, s in scores.items() if m != chosen), reverse=True)[:limit]
    return ",".join(f"{m}:{s:.3g}" for s, m in others) or None


class RunTelemetry:
    """Log lines, spans and observer calls for one run."""

    def __init__(
        self,
        doc: Orchestration,
        spans: ModuleType | None,
        observers: tuple[RunObserver, ...],
        logs: bool,
        include_content: bool,
    ) -> None:
        self.doc = doc
        self.spans = spans
        self.observers = observers
        self.logs = logs
        self.include_content = include_content
        self.root: Any = None
        self.iteration_span: Any = None
        self.iteration_index = 0
        self.judging: Any = None

    def ids(self) -> dict[str, object]:
        doc = self.doc
        return {"orchestration_id": doc.id, "session_id": doc.session_id, "thread_id": doc.thread_id}

    # -- the orchestration ---------------------------------------------------------------------------
    def orchestration(self) -> OrchestrationScope:
        return OrchestrationScope(self)

    def current_iteration(self) -> Any:
        """The span of the iteration in progress (started late for a resumed run's unfinished iteration)."""
        doc = self.doc
        if self.spans is None or not doc.iterations:
            return None
        it = doc.iterations[-1]
        if self.iteration_span is None or self.iteration_index != it.index:
            self.end_iteration()
            self.iteration_index = it.index
            self.iteration_span = self.spans.start(
                "orchestratex.iteration",
                {
                    "orchestratex.iteration": it.index,
                    "orchestratex.routing.model": it.model_name,
                    "orchestratex.routing.reason": it.reasoning,
                    "orchestratex.orchestration.id": doc.id,
                },
                parent=self.root,
            )
        return self.iteration_span

    def end_iteration(self) -> None:
        if self.iteration_span is not None:
            self.iteration_span.end()
            self.iteration_span = None

    # -- decisions -------------------------------------------------------------------------------------
    def routed(self, it: Iteration, scores: dict[str, float], fallback_from: str | None = None) -> None:
        alternatives = _alternatives(scores, it.model_name)
        span = self.current_iteration()
        if span is not None:
            self.spans.set_attributes(  # type: ignore[union-attr]
                span,
                {
                    "orchestratex.routing.model": it.model_name,
                    "orchestratex.routing.reason": it.reasoning,
                    "orchestratex.routing.alternatives": alternatives,
                    "orchestratex.routing.fallbacks": len(it.errors) or None,
                },
            )
            if fallback_from is not None:
                self.spans.add_event(  # type: ignore[union-attr]
                    span, "orchestratex.fallback", {"orchestratex.failed_model": fallback_from}
                )
        if self.logs and ROUTING.isEnabledFor(_INFO):
            fields: dict[str, object] = {
                **self.ids(),
                "iteration": it.index,
                "model": it.model_name,
                "score": scores.get(it.model_name),
                "fallback_from": fallback_from,
                "alternatives": alternatives,
                "reason": it.reasoning,
            }
            emit(ROUTING, _INFO, "routing", fields)

    def call(self, model: ModelProfile, request: GenerationRequest, role: str) -> CallScope:
        return CallScope(self, model, request, role)

    def judgment(self, it: Iteration) -> JudgmentScope:
        return JudgmentScope(self, it)
