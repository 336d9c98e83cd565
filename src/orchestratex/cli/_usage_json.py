"""`orchestratex serve --port abc --log-format json`: a usage error of `serve` as a JSON line when its logs are JSON.

argparse writes its usage and `error: …` as text before anything of the command runs: with `--log-format json` (or
`ORCHESTRATEX_LOG_FORMAT=json`), the one line saying why the server did not start was the one a JSON log pipeline
could not read. The wanted format is read from the arguments as argparse would read them (the last `--log-format`,
abbreviated or with `=`), else from the variable.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator, Sequence

__all__ = ["serve_logs_json", "usage_errors_in_json"]

_OPTION = "--log-format"
_FORMATS = ("text", "json")


def serve_logs_json(argv: Sequence[str]) -> bool:
    """Whether `argv` is an `orchestratex serve` command whose log lines are to be JSON."""
    words = list(argv)
    at = 0
    while at < len(words) and (
        words[at] == "--verbose" or (words[at].startswith("-v") and set(words[at][1:]) == {"v"})
    ):
        at += 1  # (only `-v` may come before the command's name)
    if at >= len(words) or words[at] != "serve":
        return False
    wanted: str | None = None
    rest = words[at + 1 :]
    for i, word in enumerate(rest):
        if word == "--":
            break
        name, eq, value = word.partition("=")
        if len(name) < 3 or not _OPTION.startswith(name):  # (argparse takes `--l`, `--log-f`, … for `--log-format`)
            continue
        if not eq:
            value = rest[i + 1] if i + 1 < len(rest) else ""
        if value.strip().lower() in _FORMATS:  # (in any case, as `--log-format` takes it: see `_options.named`)
            wanted = value.strip().lower()
    if wanted is None:
        wanted = os.environ.get("ORCHESTRATEX_LOG_FORMAT", "").strip().lower()
    return wanted == "json"


@contextlib.contextmanager
def usage_errors_in_json() -> Iterator[None]:
    """Within: argparse's usage error (what it writes on stderr before exiting 2) becomes one JSON line, ERROR, of
    `orchestratex.server`, as `serve`'s other reasons not to start are; anything else it writes passes as it is."""
    stderr = sys.stderr
    held = io.StringIO()
    try:
        with contextlib.redirect_stderr(held):
            yield
    except SystemExit as exc:
        text = held.getvalue()
        said = [line for line in text.splitlines() if ": error: " in line]
        if exc.code not in (0, None) and said:
            from ..telemetry import JsonFormatter

            message = said[-1].partition(": error: ")[2]
            record = logging.LogRecord("orchestratex.server", logging.ERROR, __file__, 0, message, None, None)
            print(JsonFormatter().format(record), file=stderr, flush=True)
        else:
            stderr.write(text)
        raise
    else:
        stderr.write(held.getvalue())
