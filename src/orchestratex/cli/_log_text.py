"""`orchestratex serve`'s text log lines: `2026-12-05T17:37:42.111Z orchestratex.routing INFO routing …`, the time
in UTC as the JSON lines give it, then the logger and the level, as docs/operate.md shows the library's lines.

uvicorn's own format (`INFO:     routing …`) gave neither the time nor the logger: an operator could not tell when a
line was written (a log file, `kubectl logs` without `--timestamps`) nor which part of the library wrote it."""

from __future__ import annotations

import logging
import time

from uvicorn.logging import AccessFormatter

__all__ = ["TEXT_ACCESS_FORMAT", "TEXT_FORMAT", "TextAccessFormatter", "TextFormatter"]

TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
"""A line of the server's log (stderr)."""
TEXT_ACCESS_FORMAT = '%(asctime)s %(name)s %(levelname)s %(client_addr)s - "%(request_line)s" %(status_code)s'
"""A line of the access log (stdout): uvicorn's request line, after the same time, logger and level."""


def _utc(record: logging.LogRecord) -> str:
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(record.created))}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """Times in UTC, to the millisecond, written as the JSON lines write them (`…T17:37:42.111Z`)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record)


class TextAccessFormatter(AccessFormatter):
    """uvicorn's access formatter (it fills in `client_addr`, `request_line`, `status_code`), with `TextFormatter`'s
    times."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record)
