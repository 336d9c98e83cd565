"""Ctrl-C on `orchestratex run … | less` (or `| tee log`, `| cat`): the terminal sends SIGINT to the whole pipeline,
so the reader goes away while the run is being cancelled. Real processes in a shell pipeline, a real signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import CLI, PROMPT, cli_env, stored

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process groups")


def test_ctrl_c_on_a_pipeline_says_the_run_was_cancelled_and_nothing_else(store_url: str, tmp_path: Path) -> None:
    """The line saying the run was cancelled met the closed pipe, which the command took for a second Ctrl-C during
    a slow stop: it said `cancelling orchestration …: waiting for the store to record it (it retries while another
    process holds the store)`, of a store that had answered at once."""
    seen = tmp_path / "seen.txt"
    run = " ".join(f"'{a}'" for a in [*CLI, "run", PROMPT, "--threshold", "10", "--store", store_url])
    pipeline = subprocess.Popen(
        ["sh", "-c", f"{run} | cat > '{seen}'"],
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="1"),  # (calls take seconds: the run goes on meanwhile)
        process_group=0,  # (a pipeline of its own, as a shell with job control starts one)
    )
    try:
        deadline = time.monotonic() + 60
        while "routed to" not in (seen.read_text() if seen.exists() else ""):  # the first model is answering
            assert time.monotonic() < deadline and pipeline.poll() is None
            time.sleep(0.05)
        os.killpg(pipeline.pid, signal.SIGINT)  # Ctrl-C: every process of the pipeline gets it
        _, err = pipeline.communicate(timeout=60)
    finally:
        pipeline.kill()
    (doc,), resumable = stored(store_url)
    assert (doc.status, resumable) == ("cancelled", [])
    assert err == (
        f"orchestratex: interrupted by SIGINT: orchestration {doc.id} ended cancelled (${doc.total_cost:.6f} spent); "
        "nothing will resume it\n"
    )
