"""Process-wide telemetry settings: whether to trace, and whether prompts and answers may be recorded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..exceptions import ConfigurationError

__all__ = ["FLAG_VALUES", "TelemetrySettings", "configure_telemetry", "env_flag", "telemetry_settings"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
FLAG_VALUES = "true or false (or 1/0, yes/no, on/off)"
"""The values an on/off variable accepts (any case); empty or unset is the default."""


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """The on/off variable `name` of `env`; `ConfigurationError` naming it and its value when it is neither."""
    raw = env.get(name, "")
    value = raw.strip().lower()
    if not value:
        return default
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise ConfigurationError(f"{name}: Input should be {FLAG_VALUES}, not {raw!r}")


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
        `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (default off).

        An `ORCHESTRATEX_` variable set to anything but `FLAG_VALUES` raises `ConfigurationError`. The
        OpenTelemetry variable is shared with other instrumentations, which accept values of their own
        (`SPAN_ONLY`, …): any value but a true one leaves content out, without an error."""
        env = os.environ if env is None else env
        tracing = env_flag(env, "ORCHESTRATEX_TRACING", True)
        content = env_flag(env, "ORCHESTRATEX_LOG_CONTENT", False)
        otel = env.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").strip().lower() in _TRUE
        return cls(tracing=tracing, include_content=content or otel)


_current: TelemetrySettings | None = None


def telemetry_settings() -> TelemetrySettings:
    """The settings in force: those given to `configure_telemetry`, else read from the environment once
    (`Orchestrator()` reads them, so a mistyped variable is an error there, not at the first run)."""
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
    for name, value in changes.items():
        # (a string read from a setting of one's own, `include_content="false"`, is true: it logged every prompt)
        if not isinstance(value, bool):
            raise ConfigurationError(
                f"configure_telemetry: {name} should be True or False, not {value!r} ({type(value).__name__})"
            )
    _current = replace(current, **changes)
    return _current
