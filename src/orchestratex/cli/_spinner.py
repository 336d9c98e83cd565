"""What a run is waiting for, as a spinner on a terminal: on stdout's under the live view, or on stderr's when stdout
is a file, a pipe or `--json`'s document (so a long run says it is alive without a character of it in stdout).

It is erased when it stops (transient); on anything but a terminal it shows nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console, ConsoleOptions
from rich.live import Live
from rich.spinner import Spinner as Dots

from ..events import Event
from ..orchestrator._retry import RETRY_IN
from ._output import Output, isatty

__all__ = ["Spinner"]

_ENDS = ("orchestration_completed", "orchestration_failed")


def _waiting_for(event: Event) -> str | None:
    """What the run waits for after `event`, or None when `event` changes nothing to say."""
    if event.type == "orchestration_started":
        return "routing…"
    if event.type == "model_selected":
        return f"{event.model_name} is answering…"
    if event.type == "response_generated":
        return "judges are scoring…"
    if event.type == "evaluation_completed":
        return "deciding…"
    return None


class Spinner:
    """A spinner on `output`'s terminal saying what the run waits for; an event handler (`spinner(event)`).

    Args:
        output: the terminal to show it on (nothing is shown when it is not one).
        owns_stdout: whether `output` is stdout, whose writes the spinner then keeps above itself; a spinner on
            stderr leaves stdout alone (its writes go where stdout goes, never onto the terminal).
    """

    def __init__(self, output: Output, *, owns_stdout: bool = True) -> None:
        self.output = output
        self.owns_stdout = owns_stdout
        self._dots: Dots | None = None
        self._live: Live | None = None
        self._retry: tuple[str, float] | None = None
        self._retries = _RetryNotices(self)
        self._tstp = False
        self._ends: list[int] = []
        """The stop signals (SIGTERM, SIGHUP) whose handler is the spinner's while it spins (see `_on_end_signals`)."""

    def wait(self, what: str) -> None:
        if not self.output.rich or self.output.closed:
            return
        self._retry = None
        if self._dots is not None:
            self._dots.update(text=what)
            return
        self._dots = Dots("dots", text=what, style="status.spinner")
        self._start()
        self._retries.listen()
        self._on_stop_signal(install=True)
        self._on_end_signals(install=True)

    def unless_waiting(self, what: str) -> None:
        """`wait(what)`, unless the spinner already says what the run waits for (its first event came)."""
        if self._dots is None:
            self.wait(what)

    def _start(self) -> None:
        self._live = _Live(
            self,
            console=self.output.console,
            transient=True,
            refresh_per_second=12.5,
            redirect_stdout=self.owns_stdout,
            # stderr's lines (`-v`'s log) drawn above the spinner when they go to its terminal; not when stderr goes
            # elsewhere (`run … -v 2> run.log`): they were drawn on the terminal, and missing from the file
            redirect_stderr=not self.owns_stdout or isatty(sys.stderr),
        )
        with _terminal_gone_ok():
            self._live.start()

    def _on_stop_signal(self, *, install: bool) -> None:
        """Ctrl-Z (SIGTSTP) stopped the process with the spinner's line on screen and the cursor hidden (the spinner
        hides it while it spins): the shell's prompt came back without a cursor. While it spins, the spinner is erased
        (and the cursor shown) before the process stops, and comes back once it continues (`fg`)."""
        stop = getattr(signal, "SIGTSTP", None)
        if stop is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # (not inside a run's event loop)
            return
        if not install:
            if self._tstp:
                loop.remove_signal_handler(stop)
                self._tstp = False
            return
        if self._tstp or signal.getsignal(stop) is not signal.SIG_DFL:  # (ignored, or someone else's)
            return
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not on this platform/thread
            loop.add_signal_handler(stop, self._stopped)
            self._tstp = True

    def _on_end_signals(self, *, install: bool) -> None:
        """`kill` (SIGTERM) or a closed terminal (SIGHUP) ended a command that has no handler of its own for them
        (`runs list` reading a long history) with the spinner's line on screen and the cursor hidden: the shell's
        prompt came back without a cursor. While it spins, the spinner is erased (and the cursor shown) first, then the
        process ends by the signal, as without the spinner. A handler of the command's own (`run`'s) is left alone."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # (not inside an event loop)
            return
        if not install:
            handlers: dict[int, Any] = getattr(loop, "_signal_handlers", {})
            while self._ends:
                ours = self._ends.pop()
                handle = handlers.get(ours)
                if handle is not None and getattr(handle, "_callback", None) != self._ended:
                    continue  # (another's since: not ours to remove)
                with contextlib.suppress(RuntimeError, ValueError):  # (its loop closed since)
                    loop.remove_signal_handler(ours)
            return
        for name in ("SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is None or sig in self._ends or signal.getsignal(sig) is not signal.SIG_DFL:
                continue
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not on this platform/thread
                loop.add_signal_handler(sig, self._ended, sig)
                self._ends.append(sig)

    def _ended(self, sig: int) -> None:
        self.close()  # (the spinner erased, the cursor shown; the signals' handlers given back: their default action)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)  # ended here by the signal, as without the spinner

    def _stopped(self) -> None:
        if self._live is not None:
            with _terminal_gone_ok():
                self._live.stop()
            self._live = None
        self._on_stop_signal(install=False)
        os.kill(os.getpid(), signal.SIGTSTP)  # stopped here, as without the spinner; resumed by SIGCONT (`fg`)
        if self._dots is not None:
            self._start()
            self._on_stop_signal(install=True)

    def retrying(self, what: str, seconds: float) -> None:
        """A call failed and is retried in `seconds` (a 429's `Retry-After`, say): a countdown, not "is answering…"
        for as long as the wait lasts."""
        if self._dots is not None:
            self._retry = (what, time.monotonic() + seconds)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Dots]:
        if self._dots is None:
            return
        if self._retry is not None:
            what, until = self._retry
            left = until - time.monotonic()
            self._dots.update(text=f"{what}; retrying in {math.ceil(left)} s…" if left > 0 else f"{what}; retrying…")
        yield self._dots

    def close(self) -> None:
        self._retries.stop()
        self._on_stop_signal(install=False)
        self._on_end_signals(install=False)
        if self._live is not None:
            with _terminal_gone_ok():
                self._live.stop()
        self._live = self._dots = self._retry = None

    def __call__(self, event: Event) -> None:
        if event.type in _ENDS:
            self.close()
        elif (what := _waiting_for(event)) is not None:
            self.wait(what)


def _terminal_gone_ok() -> contextlib.suppress:
    """Drawing or erasing the spinner on a terminal that went away (a closed SSH session or terminal window: every
    write fails with EIO) is no error: there is nothing left to draw on. It failed the live view's handler with a
    logged traceback, and the run's end with exit code 1 instead of SIGHUP's 129."""
    return contextlib.suppress(OSError)


class _Live(Live):
    """rich's `Live`, whose redraws (12.5 a second, from its own thread) on a terminal that went away are no error
    either: the thread died with an "Exception in thread" traceback on stderr."""

    def refresh(self) -> None:
        with _terminal_gone_ok():
            super().refresh()


class _RetryNotices(logging.Handler):
    """Tells the spinner of the orchestrator's retries (its log records with a `retry_in_s` field) while it spins:
    the model's spinner said "is answering…" through every wait for a retry, tens of seconds for a 429's
    `Retry-After`. The orchestrator's logger passes INFO records meanwhile; what `-v` shows is unchanged (its handler
    has its own level)."""

    def __init__(self, spinner: Spinner) -> None:
        super().__init__(logging.INFO)
        self.spinner = spinner
        self._logger = logging.getLogger("orchestratex.orchestrator")
        self._level: int | None = None

    def listen(self) -> None:
        if self._level is None:
            self._level = self._logger.level
            self._logger.addHandler(self)
            if self._logger.getEffectiveLevel() > logging.INFO:
                self._logger.setLevel(logging.INFO)

    def stop(self) -> None:
        if self._level is not None:
            self._logger.removeHandler(self)
            self._logger.setLevel(self._level)
            self._level = None

    def emit(self, record: logging.LogRecord) -> None:
        seconds = getattr(record, RETRY_IN, None)
        if isinstance(seconds, (int, float)):
            error = getattr(record, "error_type", "an error")
            self.spinner.retrying(f"{getattr(record, 'model', 'the model')} failed ({error})", float(seconds))
