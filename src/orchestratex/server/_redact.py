"""Keep API keys out of the server's logs: uvicorn logs each request's path with its query string.

A browser's WebSocket can only carry its key as `?token=<key>`; uvicorn writes that path to the
`uvicorn.access` log (HTTP) and the `uvicorn.error` log (WebSocket handshakes). The filter here
replaces the value of every `token` query parameter with `***` before a record is written.
"""

from __future__ import annotations

import logging
import re

__all__ = ["TokenRedactingFilter", "install_token_redaction"]

_TOKEN = re.compile(r"([?&]token=)[^&\s\"']*")
LOGGERS = ("uvicorn.access", "uvicorn.error")
"""The loggers uvicorn writes request paths to."""


def redact(text: str) -> str:
    """`text` with the value of each `token=` query parameter replaced by `***`."""
    return _TOKEN.sub(r"\1***", text) if "token=" in text else text


class TokenRedactingFilter(logging.Filter):
    """Rewrites a record's message and string arguments so that no `?token=` value is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_token_redaction(loggers: tuple[str, ...] = LOGGERS) -> None:
    """Attach one `TokenRedactingFilter` to each named logger (idempotent)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())
