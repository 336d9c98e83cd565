"""Telemetry of orchestrations: log lines, OpenTelemetry spans and observers (the server's metrics).

- **Logs**: one INFO line per model call (`orchestratex.providers`) and per decision — routing
  (`orchestratex.routing`), verdict (`orchestratex.evaluation`), stop (`orchestratex.orchestrator`) —
  with `key=value` fields in the message and the same fields as `LogRecord` attributes. Prompts,
  answers and feedback only with `configure_telemetry(include_content=True)`.
- **Traces**: with `opentelemetry-api` installed (`pip install 'orchestratex[otel]'`) and a tracer
  provider set by the application, a span per orchestration, per iteration, per model call and per
  judgment, named and attributed after the OpenTelemetry GenAI semantic conventions.
- **JSON lines**: `JsonFormatter` writes any record as one JSON object (`orchestratex serve --log-format json`).

Nothing here imports OpenTelemetry until a run is traced.
"""

from ._hooks import run_telemetry
from ._json import JsonFormatter
from ._observers import CallOutcome, RunObserver, add_observer, remove_observer
from ._settings import TelemetrySettings, configure_telemetry, telemetry_settings

__all__ = [
    "CallOutcome",
    "JsonFormatter",
    "RunObserver",
    "TelemetrySettings",
    "add_observer",
    "configure_telemetry",
    "remove_observer",
    "run_telemetry",
    "telemetry_settings",
]
