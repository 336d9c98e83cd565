"""`JsonFormatter`: one JSON object per log line, for Loki, Elasticsearch, Datadog and other log pipelines.

A line is `{"time": …, "level": …, "logger": …, "message": …}` plus the record's own fields: the library's
event lines (`orchestratex.telemetry`) give their `event` and every field their logfmt message carries, with
their JSON types (numbers stay numbers); uvicorn's access lines give `client_addr`, `method`, `path`,
`http_version` and `status`. An event line's `message` is its event name alone, as its fields are all there. A line
written inside an OpenTelemetry span (a run traced) has its `trace_id` and `span_id`.
Lines are ASCII (any other character is a `\\uXXXX` escape): one line whatever the text, and written as it is to a
stream of any encoding.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from typing import Any

__all__ = ["JsonFormatter"]

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # (uvicorn's: its message with terminal colour codes)
}
"""The attributes every `LogRecord` has (and uvicorn's colours): anything else was given as `extra=`."""
_ACCESS = ("client_addr", "method", "path", "http_version", "status")
"""The arguments of a uvicorn access line (`'%s - "%s %s HTTP/%s" %d'`), in order."""


def _plain(value: object) -> Any:
    """`value` as JSON has it: a non-finite float or any other object as its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _trace_ids() -> dict[str, str]:
    """`trace_id` and `span_id` of the span current where the line is written (as OpenTelemetry writes them: 32 and 16
    hex digits), so that a log pipeline links the line to its trace; nothing outside a span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def _message(record: logging.LogRecord) -> str:
    """The record's message; when its arguments do not fit its format (a library's `log.info("%s %s", x)`), its
    format and arguments as they are: `logging` would otherwise print a "--- Logging error ---" traceback of many
    lines of text among the JSON ones, and drop the line."""
    try:
        return record.getMessage()
    except Exception:
        return f"{record.msg} (arguments that do not fit it: {record.args!r})"


class JsonFormatter(logging.Formatter):
    """Formats each record as one line of JSON (`time` in UTC, ISO 8601 to the millisecond).

    ```python
    import logging

    from orchestratex.telemetry import JsonFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.getLogger("orchestratex").addHandler(handler)
    ```
    """

    def format(self, record: logging.LogRecord) -> str:
        event = record.__dict__.get("event")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": event if isinstance(event, str) else _message(record),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == len(_ACCESS):
            line.update(zip(_ACCESS, map(_plain, record.args), strict=True))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and value is not None and key not in line:
                line[key] = _plain(value)
        if "opentelemetry.trace" in sys.modules and "trace_id" not in line:
            line.update(_trace_ids())
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line)  # (ASCII: every other character, line boundaries included, escaped)
