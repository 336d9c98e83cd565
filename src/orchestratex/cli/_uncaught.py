"""`orchestratex serve`: an exception nobody caught in a thread, or raised where Python can only report it (a
`__del__`, a finalizer), and a Python warning are log lines too, JSON or text as the others.

Python writes those itself on stderr (`threading.excepthook`: "Exception in thread …" and a traceback;
`sys.unraisablehook`: "Exception ignored in: …"; `warnings.showwarning`: the warning and its source line, two lines),
as lines of text among the JSON ones, or with no time, logger nor level among the text ones: an exporter's thread of
OpenTelemetry's SDK failing, a client collected unclosed, a library's deprecation. They are now ERROR lines of the
`py.threading` and `py.unraisable` loggers, with their traceback in `exception`, and WARNING lines of `py.warnings`
(`path:line: Category: message`, one line as the warning's own message has it).
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from typing import Any, TextIO

__all__ = ["log_uncaught"]


def log_uncaught() -> None:
    """Send uncaught exceptions of threads, unraisable ones and Python's warnings to logging (for the rest of the
    process)."""
    threading.excepthook = _thread_exception
    sys.unraisablehook = _unraisable
    warnings.showwarning = _warning


_SHOW_WARNING = warnings.showwarning


def _warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as one WARNING line of `py.warnings` (`logging.captureWarnings` logged it with its source line after
    a line break: two lines of text); one shown to a given file is written there, as Python does."""
    if file is not None:
        _SHOW_WARNING(message, category, filename, lineno, file, line)
        return
    said = warnings.formatwarning(message, category, filename, lineno, line="").rstrip("\n")
    logging.getLogger("py.warnings").warning("%s", said)


def _thread_exception(args: Any) -> None:
    if args.exc_type is SystemExit:  # (as Python's own hook: a thread's `sys.exit()` is silent)
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("py.threading").error(
        "exception in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
    )


def _unraisable(args: Any) -> None:
    where = args.err_msg or "Exception ignored in"
    try:
        described = f"{where}: {args.object!r}" if args.object is not None else where
    except Exception:  # (an object whose repr fails too: its type then)
        described = f"{where}: a {type(args.object).__name__}"
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback) if args.exc_type is not None else None
    logging.getLogger("py.unraisable").error("%s", described, exc_info=exc_info)
