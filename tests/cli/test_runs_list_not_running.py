"""`orchestratex runs list` of a run no process runs: interrupted with `run --detach`, or its process killed. It was
listed `running`, as if it went on, while `runs show` said it was detached or stalled. Real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from .conftest import CLI, LEASED_RUN, PROMPT, cli_env, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


def _statuses(url: str) -> dict[str, str]:
    """Each listed run's id and its status column, as `runs list` prints them piped."""
    listed = run_cli("runs", "list", "--store", url)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:4] == ["id", "created", "(UTC)", "status"]
    return {row.split()[0]: row.split()[3] for row in rows}


def test_a_detached_run_and_a_stalled_one_are_not_listed_running(store_url: str) -> None:
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="100")  # (their models still answering when they are stopped)
    args = [*CLI, "run", PROMPT, "--max-iterations", "1", "--detach", "--store", store_url]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("▶ started")
        assert "routed to" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "is detached" in err, err

    killed = subprocess.Popen(
        [sys.executable, "-c", LEASED_RUN, store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert killed.stdout is not None
        stalled = killed.stdout.readline().strip()
        going = subprocess.Popen(
            [sys.executable, "-c", LEASED_RUN, store_url, "60"],  # (its lease never lapses here: see LEASED_RUN)
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    finally:
        killed.kill()
        killed.communicate(timeout=60)
    try:
        assert going.stdout is not None
        alive = going.stdout.readline().strip()
        assert stalled and alive, "a run selected no model"
        deadline = time.monotonic() + 60
        while (shown := _statuses(store_url))[stalled] != "stalled" and time.monotonic() < deadline:
            time.sleep(0.5)  # (until the killed run's lease, 1 s, has expired)
    finally:
        going.kill()
        going.communicate(timeout=60)

    assert sorted(shown.values()) == ["detached", "running", "stalled"]
    assert shown[stalled] == "stalled" and shown[alive] == "running"
    # the stored status is unchanged: `--status running` lists the three, `--json` says `running` of each
    assert len(_statuses_of(store_url, "--status", "running")) == 3
    listed = json.loads(run_cli("runs", "list", "--json", "--store", store_url).stdout)
    assert [doc["status"] for doc in listed] == ["running"] * 3


def _statuses_of(url: str, *options: str) -> list[str]:
    listed = run_cli("runs", "list", *options, "--store", url)
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.splitlines()[1:]
