"""A command's progress through work that may take seconds (`runs list` reading thousands of orchestrations): a
spinner on stderr, when that is a terminal, shown only once the work has lasted `delay_s`, saying how far it is, and
erased before the command writes its output."""

from __future__ import annotations

import asyncio
import sys
import time

from ._output import Output
from ._spinner import Spinner

__all__ = ["Progress"]


class Progress:
    """`say(text)` as the work goes on; shown from `delay_s` after `start()` on; `close()` erases it."""

    def __init__(self, text: str, delay_s: float = 0.5) -> None:
        self._text = text
        self._delay_s = delay_s
        self._spinner = Spinner(Output(sys.stderr), owns_stdout=False)
        self._shown = False
        self._timer: asyncio.TimerHandle | None = None
        self._since = time.monotonic()

    def start(self) -> None:
        self._since = time.monotonic()
        self._timer = asyncio.get_running_loop().call_later(self._delay_s, self._show)

    def _show(self) -> None:
        self._shown = True
        self._spinner.wait(self._text)

    def say(self, text: str) -> None:
        """Say `text` from now on; shown at once when the work has lasted `delay_s` already (work that holds the
        event loop, laying out a long table, keeps the timer of `start` from firing)."""
        self._text = text
        if self._shown or (self._timer is not None and time.monotonic() - self._since >= self._delay_s):
            self._show()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._spinner.close()
        self._shown = False
