"""What `/health/ready` writes to the server's log: one WARNING when the store stops answering (and when the way
it fails changes: unreachable, then too slow), one INFO when it answers again. A load balancer or Kubernetes probes
every few seconds: a WARNING per probe filled the log with the same line for as long as the store was down."""

from __future__ import annotations

from ._errors import logger

__all__ = ["ReadinessLog"]


class ReadinessLog:
    """The store's last known state, as the readiness probes found it: `None` while it answers."""

    def __init__(self) -> None:
        self._down: str | None = None

    def down(self, kind: str, message: str, *args: object, exc_info: BaseException | None = None) -> None:
        """The store failed a probe (`kind`: `"unreachable"`, `"timeout"`, `"failed"`, `"full"`): log
        `message % args` as a WARNING (with `exc_info`'s traceback) unless the last probe already failed so."""
        if self._down != kind:
            self._down = kind
            logger.warning(message, *args, exc_info=exc_info)

    def up(self) -> None:
        """The store answered a probe: log once that it is ready again after an outage."""
        if self._down is not None:
            self._down = None
            logger.info("ready again: the store answers")
