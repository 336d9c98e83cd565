"""One log line per model call and per decision, on the `orchestratex.*` loggers.

Every line carries its fields twice: as `key=value` pairs in the message (readable as is, and by
any logfmt parser) and as attributes of the `LogRecord` (`extra=`), for JSON formatters. The
`event` attribute names the kind of line: `orchestration_started`, `routing`, `model_call`,
`verdict`, `stop`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from decimal import Decimal

__all__ = ["CALLS", "EVALUATION", "ORCHESTRATOR", "PROGRESS", "ROUTING", "emit", "format_fields", "quote"]

PROGRESS = {"_progress": True}
"""The `extra` of a log record saying how long work its caller waits on is going (a SQLite file migrated to the
current schema): the CLI shows such records whatever its verbosity (a field starting with `_` is not printed)."""

ORCHESTRATOR = logging.getLogger("orchestratex.orchestrator")
"""Orchestration started, stopped (with its stop reason) or suspended."""
ROUTING = logging.getLogger("orchestratex.routing")
"""Each routing decision: the model, the router's reason, the alternatives and their scores."""
CALLS = logging.getLogger("orchestratex.providers")
"""Each model call (generation or judge): tokens, cost, latency, outcome."""
EVALUATION = logging.getLogger("orchestratex.evaluation")
"""Each verdict: the median score of the panel and each judge's score."""


_LINE_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"})
"""The line boundaries (`str.splitlines`) that `json.dumps(ensure_ascii=False)` leaves as they are (it escapes
those below U+0020 itself): a log line holding one would be split in two by log shippers and editors."""


def quote(text: str) -> str:
    """`text` as a JSON string on one line: non-ASCII kept readable, every line boundary escaped."""
    return json.dumps(text, ensure_ascii=False).translate(_LINE_BREAKS)


def _decimal(value: float) -> str:
    """`value` to 12 decimals, as the shortest decimal that reads back as it (`19441.1`, `0.0000004`, `0.3` for
    0.1 + 0.2): `f"{value:.12f}"` wrote the binary float's expansion past its 17 digits, so a run of 19.4411 s was
    `duration_ms=19441.099999999999`. Never in exponent notation (`1e-07`)."""
    if not math.isfinite(value):
        return str(value)
    text = format(Decimal(repr(round(value, 12))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _value(value: object) -> str:
    if isinstance(value, float):  # 12 decimals: costs are whole pico-dollars, and $0.0000004 is not $0
        return _decimal(value) if value else "0"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if not text or any(c in text for c in ' "=\n\t') or not text.isprintable():
        return quote(text)
    return text


def format_fields(fields: Mapping[str, object]) -> str:
    """`key=value` pairs (logfmt: values with spaces, quotes, `=` or unprintable characters are JSON-quoted, with
    every line boundary escaped, U+2028 included, so that a line stays one line); None values are left out."""
    return " ".join(f"{k}={_value(v)}" for k, v in fields.items() if v is not None)


def emit(logger: logging.Logger, level: int, event: str, fields: dict[str, object]) -> None:
    """Log `event key=value …` with the same fields as record attributes (callers check `isEnabledFor` first)."""
    logger.log(level, "%s %s", event, format_fields(fields), extra={"event": event, **fields}, stacklevel=3)
