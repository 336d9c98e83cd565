"""`orchestratex runs show` of a run stopped between its answer and its judges: the answer (paid for) is shown, said
to be unjudged. A real process and a real signal."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from .conftest import CLI, PROMPT, cli_env, run_cli, stored

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


def test_show_prints_the_answer_a_cancelled_run_had_not_judged_yet(store_url: str) -> None:
    proc = subprocess.Popen(
        [*CLI, "run", PROMPT, "--threshold", "9.9", "--store", store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="6"),  # (the judges take some 3 s: the signal comes meanwhile)
    )
    try:
        assert proc.stdout is not None
        shown = [proc.stdout.readline() for _ in range(3)]  # started, #1 routed, answered
        assert shown[2].lstrip().startswith("answered"), shown
        proc.send_signal(signal.SIGTERM)
        live, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    (doc,), _ = stored(store_url)
    (it,) = doc.iterations
    assert doc.status == "cancelled" and doc.final_response is None and it.response is not None
    done = run_cli("runs", "show", doc.id, "--store", store_url)
    assert done.returncode == 0, done.stderr
    title = f"── answer of #1 by {it.model_name} (simulated; not judged: the run ended cancelled) ──\n"
    assert done.stdout.endswith(title + it.response.rstrip("\n") + "\n"), done.stdout  # it said nothing of it
    assert live.endswith(title + it.response.rstrip("\n") + "\n"), live  # (the live view showed 200 characters)


def test_show_of_a_run_still_going_ends_with_its_best_judged_answer_not_one_called_unjudged(store_url: str) -> None:
    proc = subprocess.Popen(
        [*CLI, "run", PROMPT, "--threshold", "10", "--store", store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="6"),  # (the second answer takes seconds: `runs show` comes first)
    )
    try:
        assert proc.stdout is not None
        shown = [proc.stdout.readline() for _ in range(4)]  # started, #1 routed, answered, judged
        assert shown[3].lstrip().startswith("judged"), shown
        done = run_cli("runs", "show", "--store", store_url, stored(store_url)[0][0].id)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert done.returncode == 0, done.stderr
    (doc,), _ = stored(store_url)
    first = doc.iterations[0]
    assert first.score is not None and first.response is not None
    assert "not judged" not in done.stdout  # (its judges had scored it: "answer of #1 … (simulated; not judged yet)")
    notes = f"simulated; score {first.score:.1f}/10; the run is still going"
    title = f"── best answer so far: #1 by {first.model_name} ({notes}) ──"
    assert f"{title}\n{first.response.rstrip()}\n" in done.stdout, done.stdout
