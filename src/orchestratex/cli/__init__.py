"""The `orchestratex` command line: `run`, `demo`, `models`, `serve`, `keys`."""

import sys

# Only modules Python has loaded as it started (see `orchestratex/__init__.py`): the script imports this one too before
# `main()` runs.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

EXIT_INTERRUPTED = 130
"""128 + SIGINT's number, as the shell reports a command stopped by Ctrl-C."""


def main(argv: "Sequence[str] | None" = None) -> int:
    """Entry point of the `orchestratex` command; returns the exit code.

    The command's modules are imported here, not when this package is: loading them takes most of a second, and a
    Ctrl-C meanwhile (a command started by mistake, stopped at once) printed a 20-line traceback of the import
    machinery. It now ends as a Ctrl-C at any other moment before a run starts: one line, exit code 130 (one that
    Python swallowed as the modules loaded is given again: see `_kept_stops`)."""
    try:
        from ._kept_stops import kept_stops

        with kept_stops():
            from ._main import main as command

            return command(argv)
    except KeyboardInterrupt:
        if sys.stderr is not None:  # (`2>&-`: never onto stdout, where a script reads a key or a JSON document)
            print("orchestratex: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
