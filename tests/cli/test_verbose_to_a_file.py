"""`orchestratex run … -v 2> run.log` on a terminal: every log line goes to the file, none to the terminal. A real
process whose stdout is a pseudo-terminal (the live view and its spinner) and whose stderr is a file."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import CLI, PROMPT, cli_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pseudo-terminals")


def test_log_lines_go_to_stderr_s_file_while_the_spinner_spins(store_url: str, tmp_path: Path) -> None:
    """While the spinner spun, rich sent what was written to stderr to the terminal, above the spinner: the log
    lines of every model call and verdict were drawn on screen, and missing from the file stderr went to."""
    import pty

    primary, secondary = pty.openpty()
    log = tmp_path / "run.log"
    args = [*CLI, "run", PROMPT, "--threshold", "10", "--max-iterations", "2", "-v", "--store", store_url]
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="0.3")  # (calls take a moment: the spinner spins meanwhile)
    with log.open("w") as err:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=secondary, stderr=err, env=env)
        os.close(secondary)
        screen = b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if select.select([primary], [], [], 0.1)[0]:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # (the process closed the terminal)
                    break
                if not chunk:
                    break
                screen += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=60) == 0
    os.close(primary)
    shown = screen.decode("utf-8", "replace")
    assert "is answering" in shown, "the spinner spun"
    assert " INFO orchestratex." not in shown
    logged = log.read_text()
    for event in ("orchestration_started", "routing", "model_call", "verdict", "stop"):
        assert f" {event} orchestration_id=" in logged, event
    # (each answer judged: two calls an iteration; a first answer scored 10 meets the threshold, one iteration then)
    iterations = int(re.search(r" stop orchestration_id=.* iterations=(\d+)", logged).group(1))  # type: ignore[union-attr]
    assert logged.count("model_call ") >= 2 * iterations >= 2
