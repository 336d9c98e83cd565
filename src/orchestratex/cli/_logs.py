"""`--verbose`: the library's log lines (loggers under `orchestratex`) on stderr while a command runs."""

from __future__ import annotations

import logging
import sys

__all__ = ["hide_logs", "show_logs"]

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


class _Formatter(logging.Formatter):
    """`12:00:01 INFO orchestratex.orchestrator: message key=value …`: the record's extra fields appended."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(
            f"{k}={v!r}" if isinstance(v, str) and " " in v else f"{k}={v}"
            for k, v in record.__dict__.items()
            if k not in _STANDARD and not k.startswith("_")
        )
        return f"{line} {extra}" if extra else line


def show_logs(verbosity: int) -> tuple[logging.Handler, int] | None:
    """Send `orchestratex.*` records to stderr: INFO for `-v`, DEBUG for `-vv`. Returns what `hide_logs` undoes."""
    if verbosity <= 0:
        return None
    level = logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("orchestratex")
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    return handler, previous


def hide_logs(shown: tuple[logging.Handler, int] | None) -> None:
    if shown is None:
        return
    handler, previous = shown
    logger = logging.getLogger("orchestratex")
    logger.removeHandler(handler)
    logger.setLevel(previous)
