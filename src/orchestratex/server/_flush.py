"""Export what OpenTelemetry's SDK still holds when the server stops."""

from __future__ import annotations

import logging
import sys

__all__ = ["flush_telemetry"]

logger = logging.getLogger("orchestratex.server")

_FLUSH_MS = 5000
"""How long each OpenTelemetry provider may take to export what it holds."""


def flush_telemetry() -> None:
    """Have the OpenTelemetry SDK's providers export what they still hold (batched spans, logs, metrics).

    uvicorn ends by raising again the SIGTERM (or SIGHUP) that stopped it, and the signal ends the process without
    its exit handlers, among them the SDK's, which export the last batch: the spans of a server's last seconds (its
    last requests, the runs it handed back) were lost at every stop of a container or a service. Nothing is imported
    when the application never imported OpenTelemetry."""
    if "opentelemetry.trace" not in sys.modules:
        return
    from opentelemetry import trace

    providers: list[object] = [trace.get_tracer_provider()]
    metrics = sys.modules.get("opentelemetry.metrics")
    if metrics is not None:
        providers.append(metrics.get_meter_provider())
    logs = sys.modules.get("opentelemetry._logs")
    if logs is not None:
        providers.append(logs.get_logger_provider())
    for provider in providers:
        flush = getattr(provider, "force_flush", None)  # (the SDK's providers; the API's no-op ones have none)
        if callable(flush):
            try:
                flush(_FLUSH_MS)
            except Exception as exc:  # an exporter's failure must not turn a clean stop into a traceback
                logger.warning("exporting the last telemetry failed: %s", exc)
