"""`orchestratex runs show` of a run whose process was killed (SIGKILL, an out-of-memory kill): it was shown going on,
its call "waiting for its answer", with nothing said until its lease expired (60 s by default) and it was said to be
stalled. The lease names the process holding it: when no such process runs on this machine, `runs show` now says so at
once, and when the lease expires. Real processes, a SQLite store."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import LEASED_RUN, cli_env, run_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")


def _leased(url: str) -> tuple[subprocess.Popen[str], str]:
    """A process running a run under a lease of 10 minutes (never expired here), and the run's id."""
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="100")  # (its model still answering when it is looked at)
    proc = subprocess.Popen(
        [sys.executable, "-c", LEASED_RUN, url, "600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    oid = proc.stdout.readline().strip()
    assert oid, proc.communicate(timeout=60)
    return proc, oid


def test_a_run_whose_process_was_killed_is_said_to_be_so_before_its_lease_expires(store_url: str) -> None:
    alive, going = _leased(store_url)
    try:
        killed, oid = _leased(store_url)
        killed.kill()
        killed.communicate(timeout=60)  # (reaped: no process of that id is left)

        shown = run_cli("runs", "show", oid, "--store", store_url)
        assert shown.returncode == 0, shown.stderr
        notes = [line for line in shown.stdout.splitlines() if line.startswith("note:")]
        assert len(notes) == 1, shown.stdout
        said = re.fullmatch(
            rf"note:     its lease is held by process {killed.pid}, which is not running on this machine: if it ran"
            r" here, it was killed or crashed, and the run is stalled; a server on this store \(`orchestratex serve"
            rf" --store {re.escape(store_url)}`\) resumes it once the lease expires, at (\d\d:\d\d:\d\d) UTC",
            notes[0],
        )
        assert said is not None, notes[0]

        # the run whose process goes on is said to go on, with no such note
        shown = run_cli("runs", "show", going, "--store", store_url)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith(f"orchestration {going}: running")
        assert "note:" not in shown.stdout, shown.stdout
    finally:
        alive.kill()
        alive.communicate(timeout=60)
