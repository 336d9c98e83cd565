"""Where the benchmark scripts find the routing data (`../shared/data/routing/README.md`): `--data DIR` when the
script takes it, else `$ORCHESTRATEX_DATA_DIR`, else `../shared/data/routing` beside the repository. A directory
without the files a script needs is one line on stderr and exit 2, naming where it looked and what is missing."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from orchestratex import lab
from orchestratex.exceptions import UserError

ROOT = Path(__file__).resolve().parent.parent
"""The repository."""


def routing_data(
    script: str, given: str | os.PathLike[str] | None, needed: Sequence[str], *, flag: bool = True
) -> Path:
    """The routing data directory holding every path of `needed` (relative to it); `flag`: the script takes
    `--data` (else the advice is to set the variable)."""
    env = os.environ.get(lab.DATA_ENV)
    if given:
        path, source = Path(given).expanduser(), "--data"
    elif env:
        path, source = Path(env).expanduser(), f"${lab.DATA_ENV}"
    else:
        advice = "pass --data" if flag else f"set {lab.DATA_ENV}"
        path, source = ROOT.parent / "shared" / "data" / "routing", f"the default ({advice})"
    missing = [n for n in needed if not (path / n).exists()]
    if missing:
        where = "no such directory" if not path.is_dir() else f"no {', '.join(missing[:3])}{' …' * (len(missing) > 3)}"
        print(
            f"{script}: routing data not found at {str(path)!r} ({source}): {where}; "
            "name the directory holding routerbench/ and routellm/",
            file=sys.stderr,
        )
        sys.exit(2)
    return path


@contextlib.contextmanager
def bad_data_exits(script: str) -> Iterator[None]:
    """A damaged data file or a bad value (a `UserError`, which says what to fix) is one line on stderr and exit 2,
    not a traceback."""
    try:
        yield
    except UserError as exc:
        print(f"{script}: {exc}", file=sys.stderr)
        sys.exit(2)
