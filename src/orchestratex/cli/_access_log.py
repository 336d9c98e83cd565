"""`orchestratex serve`'s access log on stdout, whose reader may go away (`serve | head`, a `tee` or log shipper that
died): logging's handler then printed a "--- Logging error ---" traceback of the BrokenPipeError on stderr for every
request the server answered, burying the server's own lines. The first failed write is said once, as a warning of
the server's log, and the access lines are dropped from then on; the server goes on serving."""

from __future__ import annotations

import logging
import sys

from ._output import silence

__all__ = ["StdoutLogHandler"]

logger = logging.getLogger("orchestratex.server")


class StdoutLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A `StreamHandler` on stdout that stops writing, once, when stdout cannot be written."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        if self.failed:
            return
        self.failed = True
        silence(self.stream)  # (from now on the lines go nowhere, without an error)
        reason = error.strerror or str(error)
        logger.warning(
            "stdout cannot be written (%s): the access log is dropped from now on; the server goes on", reason
        )
