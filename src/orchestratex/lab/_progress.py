"""The progress display of the lab's long operations: on stderr, after a second, where someone is watching.

`progress=None` (the default): a line updated in place when stderr is a terminal or the code runs in
Jupyter, nothing when stderr is piped (CI, tests, a log file). `progress=True`: shown wherever stderr
goes (piped: a plain line every few seconds). `progress=False`: nothing. Either way nothing is shown
before the operation has run `DELAY` seconds, so quick calls stay quiet.
"""

from __future__ import annotations

import io
import math
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TextIO

from .._shell import ipython_shell
from ..exceptions import UserError

__all__ = ["DELAY", "PLAIN_EVERY", "Progress", "ProgressOption", "check_progress", "in_notebook"]

ProgressOption = bool | None
"""`None`: shown on a terminal or in Jupyter; `True`: shown wherever stderr goes; `False`: never."""

DELAY = 1.0
"""Seconds an operation runs before its progress is shown."""
REFRESH = 0.1
"""Seconds between redraws of a line updated in place."""
PLAIN_EVERY = 5.0
"""Seconds between plain lines, when stderr is neither a terminal nor Jupyter and `progress=True`."""

_BLOCKS = " ▏▎▍▌▋▊▉█"


def check_progress(value: object, *, callback: str | None = None) -> None:
    """Refuse a `progress=` that is none of the options (a callable only where `callback` describes one)."""
    if value is None or isinstance(value, bool) or (callback is not None and callable(value)):
        return
    also = f", or a callable {callback}" if callback else ""
    raise UserError(
        f"progress is None (shown on a terminal or in Jupyter), True (always) or False (never){also}; got {value!r}"
    )


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter kernel (IPython's ZMQ shell)."""
    return type(ipython_shell()).__name__ == "ZMQInteractiveShell"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _percent(fraction: float) -> str:
    """`fraction` as a whole percentage rounded down: 100% only when everything is done (rounded, 942 of 945 prompts
    read 100% while the operation still ran)."""
    return f"{math.floor(min(max(fraction, 0.0), 1.0) * 100 + 1e-9)}%"


class Progress:
    """Counts `done` out of `total` units of a long operation and shows it on `stream` (stderr) as told.

    `total=None`: a count of unknown end (units read as they come): the line shows the count, elapsed time and rate,
    no bar and no time left. Use it as a context manager; `update(done)` is cheap (one clock read) when nothing is
    drawn.
    """

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        show: ProgressOption = None,
        unit: str = "prompts",
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.unit = label, unit
        self.total: int | None = max(int(total), 0) if total is not None else None
        given = stream if stream is not None else sys.stderr  # (None without a console: pythonw, some services)
        self.stream: TextIO = given if given is not None else io.StringIO()
        self.clock = clock
        live = _is_terminal(self.stream) or in_notebook()
        shown = "live" if live and show is not False else "plain" if show is True else None
        self.mode = shown if given is not None else None  # nowhere to show it: nothing is drawn
        self.done, self.postfix = 0, ""
        self.stopped = False  # closed by an exception (Ctrl-C, a failure): the last line says it stopped
        self.started = clock()
        self._drawn_at: float | None = None  # when the display was last drawn (None: never)
        self._width = 0
        encoding = getattr(self.stream, "encoding", None) or "ascii"
        try:
            _BLOCKS.encode(encoding)
            self._blocks = _BLOCKS
        except (UnicodeEncodeError, LookupError):
            self._blocks = " #"

    @property
    def shown(self) -> bool:
        """Whether anything has been written."""
        return self._drawn_at is not None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        # (a fit interrupted in its regressions, every prompt counted, ended on "done: 14,037/14,037 prompts", and
        # a `load_history` interrupted on "done: 3,500 orchestrations": as if it had finished)
        self.stopped = kind is not None
        self.close()

    def describe(self, label: str) -> None:
        """Change what the line says is being done (e.g. the phase of a fit): a line shown in place says so at once
        (a phase that counts nothing, a fit's regressions, draws no update: its line stood at 100%, ~00:00 left,
        under the earlier phase's name while it ran)."""
        self.label = label
        if self._drawn_at is not None and self.mode == "live":
            self._draw(self.clock(), end=False)

    def update(self, done: int, postfix: str = "") -> None:
        """`done` units are finished; `postfix` (e.g. the running accuracy) ends the line."""
        self.done, self.postfix = done, postfix
        if self.mode is None:
            return
        now = self.clock()
        if now - self.started < DELAY:
            return
        every = REFRESH if self.mode == "live" else PLAIN_EVERY
        if self._drawn_at is None or now - self._drawn_at >= every:
            self._draw(now, end=False)

    @contextmanager
    def ticking(self) -> Iterator[None]:
        """Keep the display going while a step that counts nothing blocks this thread (an import, a library's fit): a
        thread redraws it as `update` would, so it shows once the operation has run a second and its clock goes on
        (the first fit's import of scikit-learn, 1.5 s, showed nothing, and the line then started a second later)."""
        if self.mode is None:
            yield
            return
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(REFRESH):
                self.update(self.done, self.postfix)

        thread = threading.Thread(target=tick, name="orchestratex-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def advance(self, count: int = 1) -> None:
        """`count` more units are finished."""
        self.update(self.done + count, self.postfix)

    def close(self) -> None:
        """End the display: its final state on a line of its own (nothing if nothing was shown)."""
        if self._drawn_at is not None:
            self._draw(self.clock(), end=True)
            self._drawn_at = None
            self.mode = None

    # -- drawing ------------------------------------------------------------------------------
    def _draw(self, now: float, *, end: bool) -> None:
        self._drawn_at = now
        elapsed = now - self.started
        line = self._live_line(elapsed) if self.mode == "live" else self._plain_line(elapsed, end=end)
        if self.mode == "live":
            pad = " " * max(self._width - len(line), 0)  # erase what a longer line left
            self._width = len(line)
            text = f"\r{line}{pad}" + ("\n" if end else "")
        else:
            text = line + "\n"
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: progress is not worth failing the operation
            self.mode = None

    def _counts(self, elapsed: float) -> tuple[str, str, str]:
        rate = self.done / elapsed if elapsed > 0 else 0.0
        speed = f"{rate:,.1f}" if rate < 10 else f"{rate:,.0f}"
        if self.total is None:
            return f"{self.done:,} {self.unit}", "?", f"{speed}/s"
        left = (self.total - self.done) / rate if rate > 0 else None
        eta = _clock(left) if left is not None else "?"
        return f"{self.done:,}/{self.total:,} {self.unit}", eta, f"{speed}/s"

    def _live_line(self, elapsed: float) -> str:
        count, eta, speed = self._counts(elapsed)
        if self.total is None:  # (no end known: the count, elapsed time and rate)
            line = f"{self.label}: {count} [{_clock(elapsed)}, {speed}]" + (f" {self.postfix}" if self.postfix else "")
            line += " (stopped)" if self.stopped else ""
            return line[: shutil.get_terminal_size((100, 24)).columns - 1] if _is_terminal(self.stream) else line
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        tail = f"| {count} [{_clock(elapsed)}<{eta}, {speed}]" + (f" {self.postfix}" if self.postfix else "")
        tail += " (stopped)" if self.stopped else ""
        head = f"{self.label}: {_percent(fraction):>4}|"
        terminal = _is_terminal(self.stream)
        columns = shutil.get_terminal_size((100, 24)).columns if terminal else 100
        width = max(min(columns - 1 - len(head) - len(tail), 40), 10)
        line = head + self._bar(fraction, width) + tail
        return line[: columns - 1] if terminal else line  # a wrapped line could not be redrawn in place

    def _bar(self, fraction: float, width: int) -> str:
        steps = len(self._blocks) - 1
        filled = int(fraction * width * steps)
        full, part = divmod(filled, steps)
        bar = self._blocks[-1] * full + (self._blocks[part] if part and full < width else "")
        return bar.ljust(width)

    def _plain_line(self, elapsed: float, *, end: bool) -> str:
        count, eta, speed = self._counts(elapsed)
        if end and self.stopped:
            status = f"stopped at {count} after {_clock(elapsed)}"
        elif self.total is None:
            status = f"done: {count} in {_clock(elapsed)}" if end else f"{count}, {_clock(elapsed)} elapsed"
        elif end:
            status = f"done: {count} in {_clock(elapsed)}" if self.done >= self.total else f"stopped at {count}"
        else:
            status = f"{count} ({_percent(self.done / max(self.total, 1))}), {_clock(elapsed)} elapsed, ~{eta} left"
        return f"{self.label}: {status}, {speed}" + (f", {self.postfix}" if self.postfix else "")
