"""`2>&-`: a command whose stderr is closed says nothing there, and never writes its messages into stdout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .conftest import CLI, cli_env


def without_stderr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
        close_fds=True,
        preexec_fn=lambda: os.close(2),
    )


def test_keys_create_with_stderr_closed_prints_the_key_alone(tmp_path: Path) -> None:
    """`KEY=$(orchestratex keys create alice 2>&-)` held the key and the line "orchestratex: new key for user …":
    with stderr closed, every message meant for it went to stdout (Python's `print(file=None)`)."""
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    done = without_stderr("keys", "create", "alice", "--store", url)
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == 1 and done.stdout.startswith("ox_")


def test_an_error_with_stderr_closed_leaves_stdout_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    done = without_stderr("runs", "list", "--store", url)  # ("no orchestrations: the store … does not exist")
    assert (done.returncode, done.stdout) == (0, "")
    done = without_stderr("run", "Hello", "--threshold", "11", "--json", "--store", url)
    assert (done.returncode, done.stdout) == (2, "")
    done = without_stderr("run", "Hello", "--max-iterations", "1", "--json", "-v", "--store", url)
    assert done.returncode == 0 and done.stdout.lstrip().startswith("{") and done.stdout.rstrip().endswith("}")
