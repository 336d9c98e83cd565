"""A run whose lease another process took over while the command was stopped (Ctrl-Z, a laptop asleep) past it: a
server on the same store resumes such a run. Real processes, a real signal."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from .conftest import CLI, PROMPT, cli_env, stored

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


def test_a_run_taken_over_while_the_command_was_stopped_is_said_so_with_its_document(store_url: str) -> None:
    """The command ended with `Conflict: orchestration … is not leased to '5690-2e95…': another process runs it` and
    printed nothing on stdout, not even `--json`'s document with the run's id."""
    proc = subprocess.Popen(
        [*CLI, "run", PROMPT, "--threshold", "10", "--json", "--store", store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="3"),  # (calls take seconds: the run is stopped during one)
    )
    try:
        deadline = time.monotonic() + 60
        while not (docs := stored(store_url)[0]) or docs[0].status != "running":
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        proc.send_signal(signal.SIGSTOP)  # (Ctrl-Z; its lease runs out meanwhile, and another process claims it)
        with sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None, timeout=30) as db:
            db.execute("UPDATE orchestrations SET lease_owner = 'a-server', lease_expires = ?", (time.time() + 600,))
        proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    (doc,), _ = stored(store_url)
    assert proc.returncode == 1, err
    assert "Conflict" not in err and "not leased to" not in err
    assert err == (
        f"orchestratex: orchestration {doc.id} was taken over by another process (a server on this store resumes a "
        "run whose process has not answered for its lease, 60 s, as this one had not: stopped or asleep); it goes on "
        f"there: `orchestratex runs show {doc.id} --store {store_url}`\n"
    )
    shown = json.loads(out)
    assert (shown["_id"], shown["status"]) == (doc.id, "running")
