"""`orchestratex run --detach --cost-limit …`, interrupted while a model answers: the server resuming it counts the
answer it makes again in `interrupted_calls`, though the detached run released its reservation. A real process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from orchestratex import Orchestrator
from orchestratex.stores import open_store

from .conftest import CLI, PROMPT, cli_env, run_cli, stored

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


async def test_a_detached_run_resumed_counts_the_answer_it_abandoned(store_url: str) -> None:
    args = [*CLI, "run", PROMPT, "--max-iterations", "1", "--cost-limit", "1", "--detach", "--store", store_url]
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="1")  # simulated calls take seconds: the answer is awaited
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("▶ started")
        assert "routed to" in proc.stdout.readline()  # the first model is answering now
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "is detached" in err, err
    store = await open_store(store_url)
    try:
        (oid,) = await store.list_resumable()
        doc = await store.get_orchestration(oid)
        assert (await store.get_session(doc.session_id)).reserved_cost == 0
        async with Orchestrator(store=store, simulate=True) as orchestrator:  # as `serve` does on start-up
            (result,) = await orchestrator.resume_pending()
        assert result.status == "completed"
        assert result.orchestration.interrupted_calls == 1  # the answer awaited when it was detached, made again
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["memory://", "sqlite://"])
def test_detach_with_a_store_that_ends_with_the_process_is_refused(url: str) -> None:
    """An interrupted run was "detached …; a server on this store resumes it", and lost with the process's memory."""
    done = run_cli("run", "Explain ICMP", "--detach", "--store", url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"orchestratex: error: --detach leaves an interrupted run for a server on the same store, but {url} lives in "
        "this process only: give a store a server can open (--store sqlite:///runs.db), or leave --detach out\n"
    )
    assert run_cli("run", "Explain ICMP", "--store", url, "--max-iterations", "1").returncode == 0


def test_a_detached_run_names_its_catalog_file_in_the_server_to_start(store_url: str, tmp_path: Path) -> None:
    """The command said to start `orchestratex serve --store …` for a run of `--catalog models.toml`: a server so
    started resumed it on other models (the simulator's, with no key set), the file's unknown to it."""
    catalog = tmp_path / "my models.toml"
    catalog.write_text('[[models]]\nname = "openai:gpt-4.1"\ninput_cost_per_1k = 0.0018\noutput_cost_per_1k = 0.0072\n')
    args = [*CLI, "run", PROMPT, "--detach", "--store", store_url, "--catalog", str(catalog)]
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="1")
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("▶ started")
        assert "routed to" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "is detached" in err, err
    assert f"(`orchestratex serve --store {store_url} --catalog '{catalog}'`) resumes it" in err, err
    (_, resumable) = stored(store_url)
    assert len(resumable) == 1


async def test_runs_show_of_a_resumed_detached_run_does_not_say_a_process_died(store_url: str) -> None:
    """`runs show` of a run detached by Ctrl-C and resumed by a server said `1 call(s) in flight when a process died
    (maybe billed)`: no process had died, and the user was sent looking for a crash; nor does a simulated call bill."""
    args = [*CLI, "run", PROMPT, "--max-iterations", "1", "--detach", "--store", store_url]
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="1")
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("▶ started")
        assert "routed to" in proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 130
    store = await open_store(store_url)
    try:
        async with Orchestrator(store=store, simulate=True) as orchestrator:  # as `serve` does on start-up
            (result,) = await orchestrator.resume_pending()
    finally:
        await store.close()
    assert result.orchestration.interrupted_calls == 1
    shown = run_cli("runs", "show", result.id, "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert (  # (simulated: no provider billed it)
        "note:     1 call was in flight when an earlier process left the run (it died, or handed the run on: "
        "`run --detach` interrupted, a server stopped), and made again"
    ) in shown.stdout.splitlines(), shown.stdout


@pytest.mark.parametrize(("simulated", "end"), [(False, ", so the provider may have billed them twice"), (True, "")])
def test_the_note_of_calls_made_again_says_billed_only_of_real_models(simulated: bool, end: str) -> None:
    from orchestratex.cli._runs import _describe
    from orchestratex.records import Orchestration

    doc = Orchestration(thread_id="t", session_id="s", user_id="u", prompt="hi", status="completed")
    doc.interrupted_calls = 2
    assert (
        "note:     2 calls were in flight when an earlier process left the run (it died, or handed the run on: "
        f"`run --detach` interrupted, a server stopped), and made again{end}"
    ) in list(_describe(doc, simulated))


def test_runs_show_of_a_detached_run_says_no_process_runs_it(store_url: str) -> None:
    """`runs show` of a run interrupted with `--detach`, before a server resumed it, said `running` and, of the call it
    abandoned, `waiting for its answer`: as if it went on, while no process ran it."""
    args = [*CLI, "run", PROMPT, "--max-iterations", "1", "--detach", "--store", store_url]
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="1")
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("▶ started")
        assert "routed to" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 143
    (doc,), _ = stored(store_url)
    shown = run_cli("runs", "show", doc.id, "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    # (the server to start on the store given: `orchestratex serve` alone serves the default store, which never
    # resumes the run)
    assert (
        f"note:     detached: no process runs it now; a server on this store (`orchestratex serve --store {store_url}`)"
        " resumes it from its last completed step"
    ) in lines, shown.stdout
    assert "waiting for its answer" not in shown.stdout
    assert any(
        line.endswith(
            "(selected) · no answer: its call was abandoned as the run was detached (the server resuming it "
            "makes it again)"
        )
        for line in lines
    ), shown.stdout


def test_a_detached_run_of_a_piped_catalog_names_a_file_to_save_it_to(store_url: str) -> None:
    """A catalog read from a pipe (`--catalog <(curl …)`, `/dev/stdin`) is gone once read, and `serve` refuses one: the
    command to start names a file, not the pipe."""
    args = [*CLI, "run", PROMPT, "--detach", "--store", store_url, "--catalog", "/dev/stdin"]
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="1")
    with subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write('[[models]]\nname = "openai:gpt-4.1"\n')
        proc.stdin.close()
        assert proc.stdout.readline().startswith("▶ started")
        assert "routed to" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        err = proc.stderr.read()  # (to its end: the process has exited)
        proc.wait(timeout=60)
    assert proc.returncode == 143, err
    assert f"(`orchestratex serve --store {store_url} --catalog FILE`) resumes it" in err, err
