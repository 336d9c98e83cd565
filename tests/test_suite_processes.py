"""The suite's own `conftest.py`: a process a failed test left running fails that test alone, not a later one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SUITE = """
import gc
import subprocess
import sys

import pytest

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen(SLEEPER)
    yield proc
    proc.kill()
    proc.wait()


def test_1_fails_with_its_server_running(server):
    proc = subprocess.Popen(SLEEPER, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.poll() == 0, "the server did not stop"


def test_2_collects_the_garbage(server):
    gc.collect()  # (as any later test may: the interpreter's collection runs when it will)
    assert server.poll() is None  # the module's server is its fixture's to stop


def test_3_collects_again():
    gc.collect()
"""


def test_a_process_a_failed_test_left_running_fails_no_later_test(tmp_path: Path) -> None:
    """CI failed on one flaky test, then on an unrelated one: the `Popen` the first left running was collected during
    the second, whose warning "subprocess N is still running" (and "unclosed file" of its pipes) is an error."""
    (tmp_path / "conftest.py").write_text(Path(__file__).with_name("conftest.py").read_text(), encoding="utf-8")
    (tmp_path / "test_leaks.py").write_text(SUITE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "error", "-rf"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    failed = [line.split(" - ")[0] for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert failed == ["FAILED test_leaks.py::test_1_fails_with_its_server_running"], done.stdout
    assert "1 failed, 2 passed" in done.stdout, done.stdout


CTRL_C = """
import signal
import subprocess
import sys


def test_ctrl_c_reaches_a_process_the_test_starts():
    interrupted = subprocess.run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGINT)"])
    assert interrupted.returncode == -signal.SIGINT  # (Python's KeyboardInterrupt, ended by the signal)
"""

_IN_THE_BACKGROUND = (
    "import os, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)  # (as a shell starts `scripts/test &`)\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n"
)


def test_run_as_a_background_job_the_suite_still_tests_ctrl_c(tmp_path: Path) -> None:
    """Started with SIGINT ignored (a background job of a script), every process the tests started ignored it too,
    and each test of Ctrl-C failed: nine in `tests/cli` alone."""
    (tmp_path / "conftest.py").write_text(Path(__file__).with_name("conftest.py").read_text(), encoding="utf-8")
    (tmp_path / "test_ctrl_c.py").write_text(CTRL_C, encoding="utf-8")
    pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "error"]
    done = subprocess.run(
        [sys.executable, "-c", _IN_THE_BACKGROUND, *pytest_args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
