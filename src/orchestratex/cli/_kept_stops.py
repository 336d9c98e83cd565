"""A stop that Python swallowed — Ctrl-C, or `serve`'s SIGTERM or SIGHUP before it serves — is given again.

A `KeyboardInterrupt` raised inside a callback Python calls itself — a weak reference's, as importlib runs after every
module it loads, or a `__del__` — cannot propagate: Python prints `Exception ignored in: …` and goes on. A Ctrl-C
pressed while the command loaded its modules (most of a second) landed there now and then, and the run it
meant to stop went on to its end, paying for every call; a SIGTERM as `serve` loaded the server's (`StoppedStarting`)
was lost alike, and the server served. The hook sends the signal to the main thread again, from another thread, so
that it is raised where the main thread is next: almost always outside such a callback, and if not, it is given again.
"""

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["kept_stops"]

_AFTER_S = 0.05
"""How long the stop waits before it is given again: the main thread has left the hook by then."""


def _again(main_thread: int, sig: int) -> None:
    handler = signal.getsignal(sig)
    time.sleep(_AFTER_S)
    if signal.getsignal(sig) is not handler:  # (the command has given the signal back since: it is no longer a stop)
        return
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(main_thread, sig)  # (interrupts a system call the main thread waits in)
    else:  # (Windows: Python runs the handler in the main thread all the same)
        signal.raise_signal(sig)


def _swallowed(exc: BaseException | None) -> int | None:
    """The signal whose stop `exc` is, when its handler would raise it again; else None."""
    if type(exc) is KeyboardInterrupt:
        return signal.SIGINT if signal.getsignal(signal.SIGINT) is signal.default_int_handler else None
    to_give_again = getattr(exc, "to_give_again", None)  # (`StoppedStarting`, by a handler of `serve`'s own)
    if isinstance(exc, KeyboardInterrupt) and callable(to_give_again):
        sig = to_give_again()
        return sig if isinstance(sig, int) else None
    return None


def _hook(previous: Callable[[Any], object]) -> Callable[[Any], None]:
    def hook(unraisable: Any) -> None:
        sig = _swallowed(unraisable.exc_value)
        main_thread = threading.main_thread().ident
        if sig is not None and main_thread is not None:
            while True:
                try:
                    threading.Thread(
                        target=_again, args=(main_thread, sig), name="orchestratex-stop-again", daemon=True
                    ).start()
                    return
                except KeyboardInterrupt:  # (the one given again, landing here on a machine too busy to leave)
                    continue
        previous(unraisable)

    return hook


@contextmanager
def kept_stops() -> Iterator[None]:
    """Within: a stop swallowed by a callback is given again (see the module's text)."""
    previous = sys.unraisablehook
    hook = sys.unraisablehook = _hook(previous)
    try:
        yield
    finally:
        if sys.unraisablehook is hook:  # (one set since, by the code the command ran, stays)
            sys.unraisablehook = previous
