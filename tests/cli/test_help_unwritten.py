"""`--version` and `--help` whose stdout cannot be written say so, as every other command does: argparse ignores a
failed write, so `orchestratex --version > /dev/full` exited 0 with nothing written. Real processes."""

from __future__ import annotations

import os
import subprocess

import pytest

from .conftest import CLI, cli_env, run_cli


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["--version"], ["--help"], ["run", "--help"], ["keys", "create", "--help"]])
def test_a_full_disk_is_an_error(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*CLI, *args], stdout=full, stderr=subprocess.PIPE, text=True, env=cli_env(), timeout=60, check=False
        )
    assert done.returncode == 1
    assert done.stderr == "orchestratex: error: cannot write to stdout (No space left on device)\n"


def test_written_help_and_version_are_unchanged() -> None:
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("orchestratex ") and version.stderr == ""
    usage = run_cli("run", "--help")
    assert usage.returncode == 0 and usage.stdout.startswith("usage: orchestratex run ")


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["run", "--help"], ["keys", "list", "--help"]])
def test_a_closed_stdout_is_refused_not_replaced_by_stderr(args: list[str]) -> None:
    """`orchestratex --version >&-` wrote the version on stderr and exited 0 (argparse writes to stderr when stdout is
    None), where every other command refuses a closed stdout (docs/cli.md)."""
    done = subprocess.run(
        [*CLI, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
        close_fds=True,
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 2
    assert done.stderr == "orchestratex: error: stdout is closed: redirect it (> /dev/null) instead of closing it\n"
