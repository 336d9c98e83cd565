"""An interrupted `orchestratex run` prints the best answer it already had, as it is: the live view had shown only
its first 200 characters. A real process and a real signal."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from .conftest import CLI, cli_env, stored

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


def test_the_best_answer_so_far_is_printed_when_the_run_is_interrupted(store_url: str) -> None:
    args = ["run", "Explain the tides in detail", "--threshold", "10", "--models", "gpt-6-luna,gpt-4.1-mini"]
    proc = subprocess.Popen(
        [*CLI, *args, "--store", store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="1"),  # (calls take seconds: the signal comes during #2)
    )
    try:
        assert proc.stdout is not None
        shown = [proc.stdout.readline() for _ in range(4)]  # started, #1 routed, answered, judged
        assert shown[3].lstrip().startswith("judged"), shown
        assert proc.stdout.readline().startswith("#2 routed to")  # the next model is answering now
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    (doc,), _ = stored(store_url)
    assert doc.status == "cancelled" and doc.final_response is not None and doc.final_score is not None
    title = (
        f"── best answer so far by {doc.final_model} (simulated; score {doc.final_score:.1f}/10; the run ended "
        "cancelled) ──\n"
    )
    assert title in out, out
    assert out.endswith(title + doc.final_response.rstrip("\n") + "\n"), "the answer as it is, after its title"
