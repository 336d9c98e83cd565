"""Ctrl-Z (SIGTSTP) on `orchestratex run` in a terminal: the process stops with its spinner erased and the cursor
shown, and spins again once continued. A real process on a pseudo-terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .conftest import CLI, PROMPT, cli_env

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads a process's state in /proc")

HIDE, SHOW = b"\x1b[?25l", b"\x1b[?25h"


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_stopped_run_leaves_the_cursor_shown_and_spins_again_once_continued(store_url: str) -> None:
    """The process stopped with the spinner's line on screen and the cursor hidden: the shell's prompt came back
    without a cursor."""
    import pty

    primary, secondary = pty.openpty()
    args = [*CLI, "run", PROMPT, "--threshold", "10", "--max-iterations", "2", "--store", store_url]
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="1")  # (calls take seconds: the spinner spins meanwhile)
    # (its own process group, as a shell with job control starts a command: a stop signal to a process whose group
    # is orphaned — the test runner started by `setsid`, or from a shell that has gone — is discarded by the kernel)
    proc = subprocess.Popen(args, stdout=secondary, stderr=subprocess.DEVNULL, env=env, process_group=0)
    os.close(secondary)
    received: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                return
            if not chunk:
                return
            received.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while b"is answering" not in b"".join(received):  # the spinner spins
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGTSTP)
        while _state(proc.pid) != "T":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # whatever it wrote before stopping reaches the reader (it writes nothing more while stopped): waited for, not
        # slept on for 0.3 s, after which a loaded runner's reader thread could still be behind
        settled = time.monotonic() + 10
        while not (screen := b"".join(received)).endswith(b"\x1b[2K") or screen.rfind(SHOW) < screen.rfind(HIDE):
            if time.monotonic() > settled:
                break
            time.sleep(0.05)
        assert screen.rfind(SHOW) > screen.rfind(HIDE), "stopped with the cursor hidden"
        assert screen.endswith(b"\x1b[2K"), "stopped with the spinner's line on screen"
        stopped_at = len(screen)
        proc.send_signal(signal.SIGCONT)
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
    reader.join(10)
    os.close(primary)
    after = b"".join(received)[stopped_at:]
    assert HIDE in after, "the spinner spins again once continued"
    assert after.rfind(SHOW) > after.rfind(HIDE)
