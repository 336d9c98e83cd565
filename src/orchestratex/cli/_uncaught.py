"""`orchestratex serve --log-format json`: an exception nobody caught in a thread, or raised where Python can only
report it (a `__del__`, a finalizer), is a JSON log line too.

Python writes those itself on stderr (`threading.excepthook`: "Exception in thread …" and a traceback;
`sys.unraisablehook`: "Exception ignored in: …"), as lines of text among the JSON ones: an exporter's thread of
OpenTelemetry's SDK failing, a client collected unclosed. They are now ERROR lines of the `py.threading` and
`py.unraisable` loggers, with their traceback in `exception`.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

__all__ = ["log_uncaught"]


def log_uncaught() -> None:
    """Send uncaught exceptions of threads, and unraisable ones, to logging (for the rest of the process)."""
    threading.excepthook = _thread_exception
    sys.unraisablehook = _unraisable


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
