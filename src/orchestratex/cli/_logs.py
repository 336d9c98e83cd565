"""`--verbose`: the library's log lines (loggers under `orchestratex`) on stderr while a command runs.

Without it only errors are shown (a failure the command could not report otherwise), and the progress of work
that makes the command wait without a word of its own (a SQLite file migrated to the current schema: minutes for a
large one); warnings such as a store write being retried are not: the command's own output says how the run ended.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from ..telemetry._logs import format_fields

__all__ = ["hide_logs", "show_logs"]

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


class _Formatter(logging.Formatter):
    """`12:00:01 INFO orchestratex.orchestrator: message key=value …`: the record's extra fields appended as the
    library's lines write them (logfmt: a value with a space, a quote, `=` or a line boundary — U+2028 included — is
    JSON-quoted, so one record stays one line; None is left out), except
    for the library's event lines (records with an `event` field, see `orchestratex.telemetry`), whose message
    already carries every field as `key=value`."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if "event" in record.__dict__:
            return line
        extra = format_fields(
            {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        )
        return f"{line} {extra}" if extra else line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is now: under the live view's spinner, rich redirects it above the
    spinner line instead of letting log lines break it."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def show_logs(verbosity: int) -> tuple[logging.Handler, int]:
    """Send `orchestratex.*` records to stderr: ERROR and above (and progress, `PROGRESS`) without `-v`, INFO for
    `-v`, DEBUG for `-vv`.
    Returns what `hide_logs` undoes."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = _StderrHandler()
    handler.setLevel(level)
    if verbosity <= 0:
        handler.addFilter(_errors_and_progress)
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("orchestratex")
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    return handler, previous


def _errors_and_progress(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR or "_progress" in record.__dict__  # (see `PROGRESS`)


def hide_logs(shown: tuple[logging.Handler, int] | None) -> None:
    if shown is None:
        return
    handler, previous = shown
    logger = logging.getLogger("orchestratex")
    logger.removeHandler(handler)
    logger.setLevel(previous)
