"""A Ctrl-C that Python swallowed is given again, so that it stops the command.

A `KeyboardInterrupt` raised inside a callback Python calls itself — a weak reference's, as importlib runs after every
module it loads, or a `__del__` — cannot propagate: Python prints `Exception ignored in: …` and goes on. A Ctrl-C
pressed while the command loaded its modules (most of a second) landed there now and then, and the run it
meant to stop went on to its end, paying for every call. The hook sends SIGINT to the main thread again, from another
thread, so that it is raised where the main thread is next: almost always outside such a callback, and if not, it is
given again.
"""

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["kept_ctrl_c"]

_AFTER_S = 0.05
"""How long the Ctrl-C waits before it is given again: the main thread has left the hook by then."""


def _again(main_thread: int) -> None:
    time.sleep(_AFTER_S)
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(main_thread, signal.SIGINT)  # (interrupts a system call the main thread waits in)
    else:  # (Windows: Python runs the handler in the main thread all the same)
        signal.raise_signal(signal.SIGINT)


def _hook(previous: Callable[[Any], object]) -> Callable[[Any], None]:
    def hook(unraisable: Any) -> None:
        if (
            type(unraisable.exc_value) is KeyboardInterrupt
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            main_thread = threading.main_thread().ident
            if main_thread is not None:
                while True:
                    try:
                        threading.Thread(
                            target=_again, args=(main_thread,), name="orchestratex-ctrl-c", daemon=True
                        ).start()
                        return
                    except KeyboardInterrupt:  # (the one given again, landing here on a machine too busy to leave)
                        continue
        previous(unraisable)

    return hook


@contextmanager
def kept_ctrl_c() -> Iterator[None]:
    """Within: a Ctrl-C swallowed by a callback is given again (see the module's text)."""
    previous = sys.unraisablehook
    hook = sys.unraisablehook = _hook(previous)
    try:
        yield
    finally:
        if sys.unraisablehook is hook:  # (one set since, by the code the command ran, stays)
            sys.unraisablehook = previous
