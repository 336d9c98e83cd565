"""A terminal that goes away under a run (a closed SSH session or terminal window): every write to it fails (EIO),
then SIGHUP comes. The run ends cancelled with exit code 129, as docs/cli.md says, without a traceback. A real
process on a pseudo-terminal whose other end is closed."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from .conftest import CLI, PROMPT, cli_env, stored

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pseudo-terminals and signals")


def _hang_up(store_url: str, stderr: int | IO[str] | None) -> subprocess.Popen[bytes]:
    """A run on a terminal, once its spinner spins, whose terminal then goes away (SIGHUP follows)."""
    import pty

    primary, secondary = pty.openpty()
    args = [*CLI, "run", PROMPT, "--threshold", "10", "--max-iterations", "3", "--store", store_url]
    # (calls take tens of seconds: the spinner spins meanwhile, and no event line comes before the SIGHUP: with calls of
    # a second or two, a loaded runner pausing this test between the close and the SIGHUP let the run write its next
    # line to the terminal gone, which ended it as a stdout that failed, exit code 1, the SIGHUP too late)
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="20")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=secondary, stderr=stderr or secondary, env=env)
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 60
    while b"is answering" not in seen:  # the spinner spins
        assert time.monotonic() < deadline and proc.poll() is None
        if select.select([primary], [], [], 0.1)[0]:
            seen += os.read(primary, 65536)
    time.sleep(0.3)  # (a few of its redraws)
    os.close(primary)  # the terminal goes away: each write to it fails from now on
    time.sleep(0.3)  # (redraws meanwhile fail: the kernel's SIGHUP may come after them)
    proc.send_signal(signal.SIGHUP)
    return proc


def test_a_run_whose_terminal_went_away_ends_cancelled_with_129(store_url: str) -> None:
    """Its last message could not be written either: the command ended with a traceback and exit code 1."""
    proc = _hang_up(store_url, None)
    assert proc.wait(timeout=60) == 129
    (doc,), resumable = stored(store_url)
    assert doc.status == "cancelled" and resumable == []


def test_a_log_kept_of_stderr_gets_the_one_line_and_no_traceback(store_url: str, tmp_path: Path) -> None:
    """`orchestratex run … 2>> run.log` over SSH, and the session dropped: the log got an ERROR "event handler …
    failed" traceback (erasing the spinner failed) before the line saying how the run ended."""
    err_path = tmp_path / "run.log"
    with open(err_path, "w") as log:
        proc = _hang_up(store_url, log)
        assert proc.wait(timeout=60) == 129
    (doc,), _ = stored(store_url)
    with open(err_path) as log:
        assert log.read() == (
            f"orchestratex: interrupted by SIGHUP: orchestration {doc.id} ended cancelled (${doc.total_cost:.6f} "
            "spent); nothing will resume it\n"
        )
