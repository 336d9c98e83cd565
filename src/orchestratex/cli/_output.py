"""Where the command line writes for people: rich on a terminal, plain lines everywhere else.

On a terminal: colours, a spinner, one-line previews. Anywhere else (a pipe, a file, a CI log): plain
text, no box, no colour, no wrapping and no truncation, so that `grep`, `less` and copy-paste get
every character. Either way a long answer is printed as it is, never inside a box whose borders
would end up in copied code.

A stdout that cannot be written — its reader went away (`| head -1`, EPIPE), or writing fails (`> /dev/full`)
— is noticed once: the output goes quiet and `on_closed` is called with the error, so the caller can stop
the work nobody reads any more; without `on_closed`, `StdoutFailed` is raised for the command to end on.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO

from rich.console import Console
from rich.text import Text

__all__ = ["Output", "StdoutFailed", "plain_table"]


class StdoutFailed(Exception):
    """stdout cannot be written: `error` is what writing raised (`BrokenPipeError` when its reader went away)."""

    def __init__(self, error: OSError, note: str = "") -> None:
        self.error = error
        self.note = note
        super().__init__(self.message)

    @property
    def reader_gone(self) -> bool:
        return isinstance(self.error, BrokenPipeError)

    @property
    def message(self) -> str:
        reason = self.error.strerror or str(self.error)
        return f"cannot write to stdout ({reason}){'; ' + self.note if self.note else ''}"


class Output:
    """Lines for people on `file` (default stdout), in rich or plain form depending on what `file` is."""

    def __init__(self, file: IO[str] | None = None, *, on_closed: Callable[[OSError], None] | None = None) -> None:
        self.file = file if file is not None else sys.stdout
        self.console = Console(file=self.file, highlight=False, soft_wrap=True)
        self.rich = self.console.is_terminal
        """Whether `file` is a terminal (rich), else plain text."""
        self.on_closed = on_closed
        self.closed = False
        """Writing failed (the reader went away, a full disk, …): nothing more is written."""

    def line(self, text: Text | str) -> None:
        """One line: styled on a terminal, its plain text anywhere else."""
        if self.closed:
            return
        try:
            if self.rich:
                self.console.print(text if isinstance(text, Text) else Text(text))
            else:
                self.file.write((text.plain if isinstance(text, Text) else text) + "\n")
                self.file.flush()
        except OSError as exc:
            self._failed(exc)

    def verbatim(self, text: str) -> None:
        """`text` exactly as it is (an answer, code): no markup, no wrapping, no box."""
        if self.closed:
            return
        try:
            self.file.write(text if text.endswith("\n") else text + "\n")
            self.file.flush()
        except OSError as exc:
            self._failed(exc)

    def render(self, renderable: object) -> None:
        """A rich renderable (a table) on a terminal."""
        if self.closed:
            return
        try:
            self.console.print(renderable)
        except OSError as exc:
            self._failed(exc)

    def clip(self, text: str, width: int) -> str:
        """`text` on one line; cut to `width` characters on a terminal only."""
        flat = " ".join(text.split())
        if not self.rich or len(flat) <= width:
            return flat
        return flat[: width - 1] + "…"

    def _failed(self, error: OSError) -> None:
        self.closed = True
        silence(self.file)
        if self.on_closed is None:
            raise StdoutFailed(error) from None
        self.on_closed(error)


def silence(file: IO[str]) -> None:
    """Point `file`'s descriptor at /dev/null, so that nothing (not even the interpreter's last flush)
    fails on a closed pipe or a full disk again."""
    with contextlib.suppress(Exception):
        fd = file.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    """Columns aligned with spaces, every cell whole (the last column is not padded)."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = []
        for i, cell in enumerate(row):
            last = i == len(row) - 1
            cell = str(cell)
            cells.append(cell.rjust(widths[i]) if i in right else cell if last else cell.ljust(widths[i]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
