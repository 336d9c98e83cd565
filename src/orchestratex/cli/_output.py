"""Where the command line writes for people: rich on a terminal, plain lines everywhere else.

On a terminal: colours, a spinner, and `row`s cut to one screen line (the terminal's width, not a fixed
one). Anywhere else (a pipe, a file, a CI log): plain text, no box, no colour, no wrapping and no
truncation, so that `grep`, `less` and copy-paste get every character. Either way a long answer is
printed as it is, never inside a box whose borders
would end up in copied code.

On a terminal, control characters in what is shown (a stored prompt, a model's answer, a label) are shown as
symbols (ESC as ␛, a C1 control as �), so that text from a store or a model cannot drive the terminal (set its
title, clear the screen, rewrite lines); piped, every character is written as it is.

A stdout that cannot be written — its reader went away (`| head -1`, EPIPE), or writing fails (`> /dev/full`)
— is noticed once: the output goes quiet and `on_closed` is called with the error, so the caller can stop
the work nobody reads any more; without `on_closed`, `StdoutFailed` is raised for the command to end on.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from .._controls import CONTROLS as _CONTROLS
from .._controls import harmless

__all__ = [
    "Output",
    "StdoutFailed",
    "fit_columns",
    "harmless",
    "isatty",
    "json_text",
    "lossless_stdout",
    "one_line",
    "plain_table",
    "silence",
]


def _harmless_text(text: Text | str) -> Text:
    if isinstance(text, str):
        return Text(harmless(text))
    shown = text.plain.translate(_CONTROLS)  # (one character for one: the spans keep their places)
    if shown == text.plain:
        return text
    text = text.copy()
    text.plain = shown
    return text


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
        if self.console.is_dumb_terminal or self.console.width < 1 or self.console.height < 1:
            # TERM=dumb (Emacs' shell, some IDE terminals): rich takes every such terminal for 80×25, whatever its width
            # or COLUMNS, so lines were cut at 80 columns on a wide window, and `models` squeezed its columns to
            # nothing. COLUMNS=0 (or LINES=0), which Python reads as unset, rich took for a width of 0: every line
            # of `run` and `runs list` on a terminal was cut to nothing
            self.console.size = shutil.get_terminal_size((80, 25))
        self.rich = self.console.is_terminal and _isatty(self.file)
        """Whether `file` is a terminal (rich), else plain text. A terminal for real: rich also takes `FORCE_COLOR`
        (which CI systems and tool runners set) for one, which cut a pipe's lines at 80 columns and wrote spinner
        frames into logs."""
        self.on_closed = on_closed
        self.closed = False
        """Writing failed (the reader went away, a full disk, …): nothing more is written."""

    def line(self, text: Text | str) -> None:
        """One line: styled on a terminal, its plain text anywhere else."""
        if self.closed:
            return
        try:
            if self.rich:
                self.console.print(_harmless_text(text))
            else:
                _write(self.file, (text.plain if isinstance(text, Text) else text) + "\n")
        except OSError as exc:
            self._failed(exc)

    def row(self, text: Text | str) -> None:
        """A line that is one screen line on a terminal (cut with `…` at the terminal's width); whole elsewhere.
        Give it text without line breaks (see `one_line`)."""
        if self.rich:
            text = _harmless_text(text).copy()  # (before cutting: a symbol takes a cell where a control took none)
            text.truncate(self.console.width, overflow="ellipsis")
        self.line(text)

    def verbatim(self, text: str) -> None:
        """`text` exactly as it is (an answer, code): no markup, no wrapping, no box; on a terminal, control
        characters shown as symbols (see `harmless`)."""
        if self.closed:
            return
        if self.rich:
            text = harmless(text)
        try:
            _write(self.file, text if text.endswith("\n") else text + "\n")
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

    def _failed(self, error: OSError) -> None:
        self.closed = True
        silence(self.file)
        if self.on_closed is None:
            raise StdoutFailed(error) from None
        self.on_closed(error)


_PIECE = 512
"""Characters written to a file at a time: at most 5 KiB however they are encoded (a `\\U0001f600` escape is 10 bytes),
under the 8 KiB of its buffer (see `_write`)."""


def _write(file: IO[str], text: str) -> None:
    """Write `text` to `file` and flush it, raising `OSError` unless all of it was written. Python's buffered file,
    given more than its buffer holds in one write, hands it to the system at once and drops what a short write
    left (a pipe whose reader went away after 64 KiB, a disk that filled up) without an error: `runs list --json >
    runs.json` left half a document and exited 0. Written a piece at a time through the buffer, every byte is
    written or the write fails."""
    if len(text) <= _PIECE:
        file.write(text)
    else:
        for start in range(0, len(text), _PIECE):
            file.write(text[start : start + _PIECE])
    file.flush()


@contextlib.contextmanager
def lossless_stdout() -> Iterator[None]:
    """While a command runs, a character its stdout's encoding cannot write (`PYTHONIOENCODING=latin-1`, an ISO-8859
    locale, a Windows code page when redirected; a lone surrogate in UTF-8) is written as a `\\u` escape instead
    of failing the command with a traceback (Python's stdout is strict; its stderr already escapes)."""
    stream = sys.stdout
    # (the C locale without Python's UTF-8 mode, `LC_ALL=C PYTHONUTF8=0`, has an ASCII stdout that escapes only lone
    # surrogates: `orchestratex run … | less` failed on the first `▶`, a traceback for each event)
    if not isinstance(stream, io.TextIOWrapper) or not (
        stream.errors == "strict" or (stream.errors == "surrogateescape" and not _unicode(stream.encoding))
    ):
        yield
        return
    errors = stream.errors
    stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            stream.reconfigure(errors=errors)


def json_text(data: object) -> str:
    """`data` as indented JSON for stdout: non-ASCII text as it is where stdout writes UTF-8, else as `\\u` escapes
    (which every JSON reader decodes to the same text) rather than characters its encoding cannot write."""
    return json.dumps(data, indent=2, ensure_ascii=not _unicode(getattr(sys.stdout, "encoding", None) or "utf-8"))


def _unicode(encoding: str) -> bool:
    """Whether `encoding` writes every character (UTF-8, UTF-16, …)."""
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def isatty(file: IO[str] | None) -> bool:
    """Whether `file` is a terminal (False for None: a closed stream)."""
    return file is not None and _isatty(file)


def _isatty(file: IO[str]) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError, OSError):  # (no such method, a closed file)
        return False


def one_line(text: str) -> str:
    """`text` with every run of whitespace (line breaks included) made one space."""
    return " ".join(text.split())


def fit_columns(
    headers: Sequence[str], rows: Sequence[Sequence[str]], width: int, *, drop: Sequence[int] = (), least: int = 20
) -> tuple[list[int], list[int]]:
    """Which columns of a table fit on screen lines of `width` cells, and the width of each.

    Every column but the last is kept whole (an id is never cut); the last takes the room left. While that room
    is under `least` cells (or under the last column's own width, if smaller), the columns in `drop` are left
    out, in that order. Returns the kept columns' indices and their widths (the last one's being the room left,
    at least 1)."""
    widths = [max(cell_len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    last = len(headers) - 1
    kept = list(range(len(headers)))
    pending = list(drop)
    while True:
        room = width - sum(widths[i] + 2 for i in kept if i != last)
        if room >= min(widths[last], least) or not pending:
            break
        kept.remove(pending.pop(0))
    return kept, [widths[i] if i != last else max(1, min(room, widths[last])) for i in kept]


def silence(file: IO[str]) -> None:
    """Point `file`'s descriptor at /dev/null, so that nothing (not even the interpreter's last flush)
    fails on a closed pipe or a full disk again."""
    with contextlib.suppress(Exception):
        fd = file.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    """Columns aligned with spaces, every cell whole (the last column is not padded); a cell's width is the
    terminal cells it takes (a CJK character or an emoji two), so wide text does not shift the columns after it."""
    widths = [max(cell_len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = []
        for i, cell in enumerate(row):
            last = i == len(row) - 1
            cell = str(cell)
            pad = " " * (widths[i] - cell_len(cell))
            cells.append(pad + cell if i in right else cell if last else cell + pad)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
