"""The commands the CLI's messages suggest (`orchestratex runs list --store …`) quote the store URL for the shell: a
path with a space, copied, named another file, and a MongoDB URL's `&` ran the command in the background."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from .conftest import PROMPT, cli_env, run_cli


def test_a_suggested_command_runs_as_copied(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'my runs.db'}"
    assert run_cli("run", PROMPT, "--max-iterations", "1", "--json", "--store", url).returncode == 0
    missing = run_cli("runs", "show", "6b11ff87809f1d5848432613", "--store", url)
    assert missing.returncode == 2
    suggested = missing.stderr.split("`")[1]
    assert suggested == f"orchestratex runs list --store '{url}'"
    # the command as a user pastes it into a shell
    argv = shlex.split(suggested)
    done = subprocess.run(
        [sys.executable, "-m", "orchestratex", *argv[1:]],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2, done.stderr  # the header and the run
