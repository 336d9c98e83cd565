"""`orchestratex serve` stopped by SIGTERM or SIGHUP before it serves: one line saying so, not a silent end.

uvicorn handles those signals once it runs; before that — the store opened (a database server that does not answer
yet, a migration of minutes), the app made — they ended the process at once and not a
word in its log, as if it had crashed. Ctrl-C there already said "interrupted". A signal the process was started
ignoring (`nohup`) stays ignored.

Python runs a signal's handler between two bytecodes of the main thread, so a signal that lands just before a blocking
system call begins (reading a catalog from a pipe, connecting to a database), or on another thread (the SQLite
store's), left the main thread waiting there and the process running, its stop lost. A thread watching the signals
hands such a signal to the main thread again, which interrupts the call, until its handler has run.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
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

    def to_give_again(self) -> int | None:
        """The signal to give again when Python swallowed this stop (raised inside a callback: see `_kept_stops`),
        its handler made ready to raise it again; None when the signal is no longer this module's to raise."""
        sig: int = getattr(signal, self.name)
        if signal.getsignal(sig) is not _raise:
            return None
        watch = _WATCH
        if watch is not None:
            watch.raised = False  # (else the stop given again is taken for this one, being raised)
        return sig

    def end_by_the_signal(self) -> None:
        """End the process by the signal, its default action, as it would have been without this handler."""
        sig = getattr(signal, self.name)
        signal.signal(sig, signal.SIG_DFL)
        signal.raise_signal(sig)


_AGAIN_S = 0.1
"""How long a stop signal may wait for its handler before it is handed to the main thread again."""


class _Watch:
    """Hands a stop signal to the main thread again while its handler has not run (see the module's text): the
    signals' wake-up descriptor tells this thread each signal as it arrives."""

    def __init__(self, signals: set[int]) -> None:
        self.raised = False
        self._signals = signals
        self._lock = threading.Lock()
        self._stopped = False
        self._main = threading.get_ident()  # (made in the main thread: signals are taken there only)
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)  # (as `set_wakeup_fd` requires)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        threading.Thread(target=self._watch, name="orchestratex-stop-signals", daemon=True).start()

    def _watch(self) -> None:
        with self._reader:
            while True:
                try:
                    told = self._reader.recv(64)
                except OSError:
                    return
                if not told:  # (closed: the signals are given back)
                    return
                if self._signals.intersection(told):
                    self._again(next(sig for sig in told if sig in self._signals))

    def _again(self, sig: int) -> None:
        time.sleep(_AGAIN_S)
        with self._lock:
            if self._stopped or self.raised or signal.getsignal(sig) is not _raise:
                return
            signal.pthread_kill(self._main, sig)  # (its wake-up byte brings this thread back if it is lost again)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        current = signal.set_wakeup_fd(-1)
        # (someone else's descriptor since — an event loop's signal handlers — stays theirs)
        signal.set_wakeup_fd(self._previous_fd if current == self._writer.fileno() else current)
        self._writer.close()  # (the thread reads the end and leaves)


_WATCH: _Watch | None = None


def _raise(signum: int, frame: FrameType | None) -> None:
    watch = _WATCH
    if watch is not None:
        if watch.raised:  # (the same stop handed again as the first was being raised)
            return
        watch.raised = True
    raise StoppedStarting(signal.Signals(signum).name)


@contextlib.contextmanager
def stopping_starts() -> Iterator[Callable[[], None]]:
    """Within: SIGTERM and SIGHUP raise `StoppedStarting`. Yields the function that gives the signals back to their
    previous handlers (call it before uvicorn takes them); leaving does too."""
    global _WATCH
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
    watch = _Watch(set(previous)) if previous and _WATCH is None and hasattr(signal, "pthread_kill") else None
    if watch is not None:
        _WATCH = watch

    def give_back() -> None:
        global _WATCH
        nonlocal watch
        if watch is not None:
            watch.stop()
            watch = _WATCH = None
        while previous:
            sig, handler = previous.popitem()
            signal.signal(sig, handler)

    try:
        yield give_back
    finally:
        give_back()
