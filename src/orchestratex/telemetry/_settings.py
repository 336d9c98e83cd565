"""Process-wide telemetry settings: whether to trace, and whether prompts and answers may be recorded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

__all__ = ["TelemetrySettings", "configure_telemetry", "telemetry_settings"]

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    """What OrchestrateX records about orchestrations (see the "Operate" docs page)."""

    tracing: bool = True
    """Emit OpenTelemetry spans when the application has configured a tracer provider (an SDK).
    Without `opentelemetry-api`, or with no provider set, nothing is traced whatever this says."""
    include_content: bool = False
    """Record prompts, answers and judges' feedback in log lines and span attributes. Off by default:
    they may hold personal or secret data."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelemetrySettings:
        """`ORCHESTRATEX_TRACING` (default on) and `ORCHESTRATEX_LOG_CONTENT` or
        `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (default off)."""
        env = os.environ if env is None else env
        tracing = env.get("ORCHESTRATEX_TRACING", "true").strip().lower() in _TRUE
        content = any(
            env.get(name, "").strip().lower() in _TRUE
            for name in ("ORCHESTRATEX_LOG_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
        )
        return cls(tracing=tracing, include_content=content)


_current: TelemetrySettings | None = None


def telemetry_settings() -> TelemetrySettings:
    """The settings in force: those given to `configure_telemetry`, else read from the environment once."""
    global _current
    if _current is None:
        _current = TelemetrySettings.from_env()
    return _current


def configure_telemetry(*, tracing: bool | None = None, include_content: bool | None = None) -> TelemetrySettings:
    """Change what is recorded for the orchestrations that start from now on; returns the new settings.

    ```python
    from orchestratex.telemetry import configure_telemetry

    configure_telemetry(include_content=True)  # log lines and spans carry prompts and answers
    configure_telemetry(include_content=False)
    ```
    """
    global _current
    current = telemetry_settings()
    changes = {k: v for k, v in {"tracing": tracing, "include_content": include_content}.items() if v is not None}
    _current = replace(current, **changes)
    return _current
