"""The suite's own `conftest.py`: what `orchestratex serve` sets for its whole process, served in-process by a test,
is put back for the next test (a test then behaves in the suite as it does alone)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SUITE = """
import faulthandler
import gc
import signal
import sys

import uvicorn
import uvicorn.server

from orchestratex.cli import main

BEFORE = (sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count(), uvicorn.server.HANDLED_SIGNALS)


def test_1_serves_in_process(tmp_path, monkeypatch):
    def run(server, sockets=None):
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    try:
        assert main(["serve", "--port", "0", "--store", f"sqlite:///{tmp_path}/s.db"]) == 0
    finally:
        faulthandler.enable(sys.__stderr__)  # (`serve` pointed it at the captured descriptor)
    assert sys.getswitchinterval() < BEFORE[0] and signal.SIGHUP in uvicorn.server.HANDLED_SIGNALS  # (as it serves)


def test_2_runs_as_it_would_alone():
    now = (sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count(), uvicorn.server.HANDLED_SIGNALS)
    assert now == BEFORE
"""


def test_what_serve_sets_for_its_process_is_put_back_after_a_test_that_served_in_process(tmp_path: Path) -> None:
    """A test serving in-process left the interpreter switching threads every 0.5 ms (not 5 ms), the collector's
    threshold at 5,000 and uvicorn handling SIGHUP, for every later test of the run."""
    (tmp_path / "conftest.py").write_text(Path(__file__).with_name("conftest.py").read_text(), encoding="utf-8")
    (tmp_path / "test_serves.py").write_text(SUITE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATEX_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "error"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
