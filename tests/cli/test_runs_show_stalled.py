"""`orchestratex runs show` of a run whose process was killed (SIGKILL, an out-of-memory kill) or crashed: once its
lease has expired no process runs it, yet it was shown as going on — `running`, its call "waiting for its answer" —
for as long as no server was started on the store. Real processes: a run killed, then the command."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from .conftest import LEASED_RUN, cli_env, run_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _show_once_stalled(oid: str, url: str) -> subprocess.CompletedProcess[str]:
    """`runs show` once the killed run's lease (1 s) has expired: its process renews it no more. (Before that, a note
    says its process is not running here: tests/cli/test_runs_show_holder_gone.py.)"""
    deadline = time.monotonic() + 60
    while True:
        shown = run_cli("runs", "show", oid, "--store", url)
        if "its lease expired" in shown.stdout or time.monotonic() > deadline:
            return shown
        time.sleep(0.5)


def test_a_killed_run_is_shown_stalled_not_waiting_for_its_answer(store_url: str) -> None:
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="100")  # (its model still answering when it is killed)
    child = subprocess.Popen(
        [sys.executable, "-c", LEASED_RUN, store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        oid = child.stdout.readline().strip()
    finally:
        child.kill()
        child.communicate(timeout=60)
    assert oid, "the run selected no model"
    shown = _show_once_stalled(oid, store_url)
    assert shown.returncode == 0, shown.stderr
    assert f"orchestration {oid}: running" in shown.stdout
    assert "note:     stalled: its lease expired and no process renewed it" in shown.stdout
    assert "(selected) · no answer yet: its process stopped while the call was in flight" in shown.stdout
    assert "waiting for its answer" not in shown.stdout


def test_a_run_going_on_is_not_stalled(store_url: str) -> None:
    """Its process renews the lease: the run is going on, its call waiting for its answer."""
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="100")
    child = subprocess.Popen(
        [sys.executable, "-c", LEASED_RUN, store_url, "3"],  # (a 3 s lease: see LEASED_RUN)
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        oid = child.stdout.readline().strip()
        time.sleep(4)  # (longer than the lease: renewed meanwhile)
        shown = run_cli("runs", "show", oid, "--store", store_url)
    finally:
        child.kill()
        child.communicate(timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "(selected) · waiting for its answer" in shown.stdout
    assert "stalled" not in shown.stdout
