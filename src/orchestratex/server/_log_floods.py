"""uvicorn's per-request warnings, said once per 10 s with how many there were.

uvicorn (its own protocols: an app served with `uvicorn --factory orchestratex.server:create_app`, or `orchestratex
serve` where httptools is missing) writes `Invalid HTTP request received.` to `uvicorn.error` for every request it
cannot parse, and `Unsupported upgrade request.` for every such request: anyone can send them without a key, as fast
as they like, and a scanner or a misconfigured client filled the log with the same WARNING. The first of each is
written; the others in the next 10 s are counted and said on the first line after them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["FLOODING", "RepeatedWarningFilter"]

FLOODING = ("Invalid HTTP request received.", "Unsupported upgrade request.")
"""The messages uvicorn logs once per request, whoever sends it."""


class RepeatedWarningFilter(logging.Filter):
    """Lets each message of `FLOODING` through at most once per `every_s` seconds; the next one through says how many
    were left out since (`Invalid HTTP request received. (and 41 more in the last 10.0 s)`)."""

    def __init__(self, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every_s = every_s
        self._clock = clock
        self._said: dict[str, tuple[float, int]] = {}
        """By message: when it was last written, and how many were left out since."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg not in FLOODING or record.args:
            return True
        message: str = record.msg
        now = self._clock()
        last, left_out = self._said.get(message, (float("-inf"), 0))
        if now - last < self.every_s:
            self._said[message] = (last, left_out + 1)
            return False
        self._said[message] = (now, 0)
        if left_out:
            record.msg = f"{message} (and {left_out} more in the last {now - last:.1f} s)"
        return True
