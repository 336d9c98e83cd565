"""`orchestratex serve` stopped by SIGTERM or SIGHUP before it serves: one line saying so, not a silent end.

uvicorn handles those signals once it runs; before that — the store opened (a database server that does not answer
yet, a migration of minutes), the app made — they ended the process at once and not a
word in its log, as if it had crashed. Ctrl-C there already said "interrupted". A signal the process was started
ignoring (`nohup`) stays ignored.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from ._interrupt import EXIT_CODES

__all__ = ["StoppedStarting", "stopping_starts"]

_NAMES = ("SIGTERM", "SIGHUP")


class StoppedStarting(KeyboardInterrupt):
    """A stop signal arrived before the server served (a `KeyboardInterrupt`, as Ctrl-C: no `except Exception` of
    the code it interrupts keeps it)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.exit_code = EXIT_CODES.get(name, 143)
        self.message = f"stopped by {name} while starting: the server did not start"

    def end_by_the_signal(self) -> None:
        """End the process by the signal, its default action, as it would have been without this handler."""
        sig = getattr(signal, self.name)
        signal.signal(sig, signal.SIG_DFL)
        signal.raise_signal(sig)


def _raise(signum: int, frame: FrameType | None) -> None:
    raise StoppedStarting(signal.Signals(signum).name)


@contextlib.contextmanager
def stopping_starts() -> Iterator[Callable[[], None]]:
    """Within: SIGTERM and SIGHUP raise `StoppedStarting`. Yields the function that gives the signals back to their
    previous handlers (call it before uvicorn takes them); leaving does too."""
    previous: dict[int, Any] = {}
    for name in _NAMES:
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        try:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue
            previous[sig] = signal.signal(sig, _raise)
        except ValueError:  # (not the main thread: signals are not ours to take)
            break

    def give_back() -> None:
        while previous:
            sig, handler = previous.popitem()
            signal.signal(sig, handler)

    try:
        yield give_back
    finally:
        give_back()
