"""A CLI run that is interrupted ends `cancelled` in the store, so no server resumes it and pays for
the rest; with `--detach` it is left for a server to resume. Real processes, real signals, real pipes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from orchestratex import Orchestrator
from orchestratex.stores import open_store

from .conftest import CLI, PROMPT, cli_env, last_event_types, run_cli, stored

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]

SLOW = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="1")
"""Simulated calls take seconds: the run is still going when the signal comes."""
ARGS = [*CLI, "run", PROMPT, "--threshold", "9.9", "--max-iterations", "5"]


def start(store_url: str, *extra: str, ignoring: signal.Signals | None = None) -> subprocess.Popen[str]:
    """A run, once its first model is answering; started with `ignoring` ignored, as `nohup` starts a command."""

    def ignore() -> None:
        if ignoring is not None:
            signal.signal(ignoring, signal.SIG_IGN)

    proc = subprocess.Popen(
        [*ARGS, "--store", store_url, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=SLOW,
        preexec_fn=ignore,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("▶ started")
    assert "routed to" in proc.stdout.readline()  # the first model is answering now
    return proc


def ended(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """The exit code and stderr of `proc`, once it ends; its pipes closed."""
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    return proc.returncode, err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_ends_the_run_cancelled(store_url: str, sig: signal.Signals, code: int) -> None:
    proc = start(store_url)
    proc.send_signal(sig)
    exit_code, err = ended(proc)
    assert exit_code == code, err
    (doc,), resumable = stored(store_url)
    assert doc.status == "cancelled" and doc.stop_reason == "cancelled"
    assert resumable == [], "a server on this store would resume the run and pay for it"
    assert last_event_types(store_url, doc.session_id)[-1] == "orchestration_failed"
    assert err.strip() == (
        f"orchestratex: interrupted by {sig.name}: orchestration {doc.id} ended cancelled "
        f"(${doc.total_cost:.6f} spent); nothing will resume it"
    )


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT])
def test_a_signal_the_command_was_started_ignoring_stays_ignored(store_url: str, sig: signal.Signals) -> None:
    """`nohup orchestratex run …` (SIGHUP ignored), or a script's background job (SIGINT ignored): the run was
    cancelled by the very signal it was started to outlive."""
    proc = start(store_url, "--max-iterations", "1", ignoring=sig)
    proc.send_signal(sig)
    exit_code, err = ended(proc)
    assert exit_code == 0, err
    (doc,), _ = stored(store_url)
    assert doc.status == "completed"


def test_a_closed_pipe_ends_the_run_cancelled(store_url: str) -> None:
    proc = start(store_url)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader goes away, as `| head -2` does
    exit_code, err = ended(proc)
    assert exit_code == 141, err
    assert "Traceback" not in err and "stdout was closed" in err
    (doc,), resumable = stored(store_url)
    assert (doc.status, resumable) == ("cancelled", [])


def test_piped_into_head_in_a_shell(store_url: str) -> None:
    command = " ".join(f"'{a}'" for a in [*ARGS, "--store", store_url]) + " | head -1"
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=SLOW, timeout=120, check=False)
    assert done.stdout.startswith("▶ started") and len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    (doc,), resumable = stored(store_url)
    assert (doc.status, resumable) == ("cancelled", [])


async def test_detach_leaves_the_run_for_a_server_to_resume(store_url: str) -> None:
    proc = start(store_url, "--detach")
    proc.send_signal(signal.SIGTERM)
    exit_code, err = ended(proc)
    assert exit_code == 143
    assert "is detached" in err and "resumes it" in err
    # (the server to start is one on this store: `orchestratex serve` alone serves the default one, which never would)
    assert f"a server on this store (`orchestratex serve --store {store_url}`) resumes it" in err
    store = await open_store(store_url)
    try:
        (oid,) = await store.list_resumable()
        assert (await store.get_orchestration(oid)).status == "running"
        async with Orchestrator(store=store, simulate=True) as orchestrator:  # as `serve` does on start-up
            (result,) = await orchestrator.resume_pending()
        assert result.id == oid and result.status == "completed"
    finally:
        await store.close()


def test_a_signal_as_soon_as_the_run_is_stored_still_ends_it_cancelled(store_url: str) -> None:
    """The window between storing the orchestration and its first step: nothing may be left to resume."""
    proc = start_json(store_url)
    proc.send_signal(signal.SIGTERM)
    exit_code, err = ended(proc)
    assert exit_code == 143, err
    (doc,), resumable = stored(store_url)
    assert (doc.status, resumable) == ("cancelled", [])
    assert last_event_types(store_url, doc.session_id)[-1] == "orchestration_failed"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_stdout_that_cannot_be_written_ends_the_run_cancelled(store_url: str) -> None:
    """`> /dev/full`: the first line fails to write; the run stops there, as with a closed pipe, in one line."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*ARGS, "--store", store_url], stdout=full, stderr=subprocess.PIPE, text=True, env=SLOW, timeout=120
        )
    assert done.returncode == 1, done.stderr
    (doc,), resumable = stored(store_url)
    assert (doc.status, resumable) == ("cancelled", [])
    assert done.stderr == (
        f"orchestratex: stdout could not be written (No space left on device): orchestration {doc.id} ended "
        f"cancelled (${doc.total_cost:.6f} spent); nothing will resume it\n"
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["run", PROMPT, "--json"], ["models"], ["models", "--json"], ["runs", "list"]])
def test_every_command_says_in_one_line_that_stdout_cannot_be_written(store_url: str, args: list[str]) -> None:
    run_cli("run", PROMPT, "--store", store_url)  # something for `runs list` to list
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*CLI, *args, *(["--store", store_url] if args[0] in ("run", "runs") else [])],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            timeout=120,
        )
    assert done.returncode == 1
    assert done.stderr.startswith("orchestratex: error: cannot write to stdout (No space left on device)")
    assert done.stderr.count("\n") == 1, done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_json_document_of_a_store_in_memory_that_cannot_be_written_sends_to_no_runs_show() -> None:
    """`run --json --store memory://` on a full disk said "see `orchestratex runs show ID --store memory://`", a
    command that refuses such a store, whose runs ended with the command that made them."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*CLI, "run", PROMPT, "--json", "--store", "memory://"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            timeout=120,
        )
    assert done.returncode == 1
    found = re.fullmatch(
        r"orchestratex: error: cannot write to stdout \(No space left on device\); orchestration ([0-9a-f]{24}) ended"
        r" completed, and its store, memory://, with the command: nothing keeps its document\n",
        done.stderr,
    )
    assert found is not None, done.stderr


def test_a_closed_stdout_is_refused_before_anything_is_stored(store_url: str) -> None:
    """`>&-`: nothing could show the run, so it does not start."""
    done = subprocess.run(
        [*ARGS, "--store", store_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=SLOW,
        timeout=120,
        close_fds=True,
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 2
    assert done.stderr == "orchestratex: error: stdout is closed: redirect it (> /dev/null) instead of closing it\n"
    assert stored(store_url)[0] == []


def start_json(store_url: str, *extra: str) -> subprocess.Popen[str]:
    """`run --json` (nothing on stdout until it ends), signalled once the orchestration is stored (`-v` says so)."""
    proc = subprocess.Popen(
        [*ARGS, "--store", store_url, "--json", "-v", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=SLOW,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "stored; interrupting it" in line:
            return proc
    raise AssertionError("the run never said it was stored")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_json_run_prints_its_document(store_url: str, sig: signal.Signals, code: int) -> None:
    """A script piping `--json` into `jq` gets the cancelled run's document (its id, status, costs) on stdout."""
    proc = start_json(store_url)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    (doc,), _ = stored(store_url)
    printed = json.loads(out)
    assert (printed["_id"], printed["status"], printed["stop_reason"]) == (doc.id, "cancelled", "cancelled")
    assert printed["total_cost"] == doc.total_cost and printed["simulated"] is True
    assert printed["events"][-1]["type"] == "orchestration_failed"
    assert err.splitlines()[-1].startswith(f"orchestratex: interrupted by {sig.name}: orchestration {doc.id} ended")


def test_a_detached_json_run_prints_its_document(store_url: str) -> None:
    proc = start_json(store_url, "--detach")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    (oid,) = stored(store_url)[1]
    printed = json.loads(out)
    assert (printed["_id"], printed["status"], printed["stop_reason"]) == (oid, "running", None)
    assert "is detached" in err.splitlines()[-1]


def test_an_interrupted_run_waiting_on_the_store_says_so(store_url: str) -> None:
    """Ctrl-C while another process holds the SQLite file: the run's end cannot be recorded until it lets go, and
    the command says at once that it is waiting (it used to stay silent, Ctrl-C seemingly ignored, meanwhile)."""
    import sqlite3
    import threading

    proc = start(store_url)
    holder = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    released = threading.Event()

    def release() -> None:
        holder.execute("ROLLBACK")
        holder.close()
        released.set()

    timer = threading.Timer(8.0, release)
    timer.start()
    try:
        proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        first = proc.stderr.readline()
        told_before_release = not released.is_set()
    finally:
        timer.join()
    exit_code, err = ended(proc)
    assert told_before_release, "the notice came only once the store was free again"
    assert first.startswith("orchestratex: cancelling orchestration "), first
    assert "waiting for the store to record it" in first
    assert exit_code == 130, err
    assert "ended cancelled" in err
    (doc,), _ = stored(store_url)
    assert doc.status == "cancelled"


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_a_run_that_ended_before_its_reader_went_away_is_not_said_to_be_stopped(status: str) -> None:
    """`orchestratex run … | head -1` whose run ended before the closed pipe was noticed (a quick run) said
    `orchestration … ended completed (…); nothing will resume it`, as of a run the closed pipe had stopped."""
    from orchestratex.cli._interrupt import Interrupted

    message = Interrupted("SIGPIPE", "6b11ff88809f1d5848432615", status, 0.0012).message
    assert message == f"stdout was closed: orchestration 6b11ff88809f1d5848432615 had ended {status} ($0.001200 spent)"
    cancelled = Interrupted("SIGPIPE", "6b11ff88809f1d5848432615", "cancelled", 0.0012).message
    assert cancelled.endswith("ended cancelled ($0.001200 spent); nothing will resume it")
