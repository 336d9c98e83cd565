"""Where the command line writes for people: rich on a terminal, plain lines everywhere else.

On a terminal: colours, a spinner, one-line previews. Anywhere else (a pipe, a file, a CI log): plain
text, no box, no colour, no wrapping and no truncation, so that `grep`, `less` and copy-paste get
every character. Either way a long answer is printed as it is, never inside a box whose borders
would end up in copied code. A reader that goes away (`| head -1`) is noticed once: the output
goes quiet and `on_closed` is called, so the caller can stop the work nobody reads any more.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO

from rich.console import Console
from rich.text import Text

__all__ = ["Output", "plain_table"]


class Output:
    """Lines for people on `file` (default stdout), in rich or plain form depending on what `file` is."""

    def __init__(self, file: IO[str] | None = None, *, on_closed: Callable[[], None] | None = None) -> None:
        self.file = file if file is not None else sys.stdout
        self.console = Console(file=self.file, highlight=False, soft_wrap=True)
        self.rich = self.console.is_terminal
        """Whether `file` is a terminal (rich), else plain text."""
        self.on_closed = on_closed
        self.closed = False
        """The reader went away (EPIPE): nothing more is written."""

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
        except BrokenPipeError:
            self._reader_gone()

    def verbatim(self, text: str) -> None:
        """`text` exactly as it is (an answer, code): no markup, no wrapping, no box."""
        if self.closed:
            return
        try:
            self.file.write(text if text.endswith("\n") else text + "\n")
            self.file.flush()
        except BrokenPipeError:
            self._reader_gone()

    def clip(self, text: str, width: int) -> str:
        """`text` on one line; cut to `width` characters on a terminal only."""
        flat = " ".join(text.split())
        if not self.rich or len(flat) <= width:
            return flat
        return flat[: width - 1] + "…"

    def _reader_gone(self) -> None:
        self.closed = True
        silence(self.file)
        if self.on_closed is not None:
            self.on_closed()


def silence(file: IO[str]) -> None:
    """Point `file`'s descriptor at /dev/null, so that nothing (not even the interpreter's last flush)
    fails on a closed pipe again."""
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
