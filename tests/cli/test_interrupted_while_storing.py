"""Ctrl-C while `run` waits to store its orchestration, another process holding the SQLite file: the command says it
is waiting for the store, as it does when the store is slow to record the run's end. It said nothing for as long as
the store was retried (a minute at most), a second and a third Ctrl-C seemingly ignored too."""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from .conftest import CLI, PROMPT, cli_env, run_cli, stored

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, a terminal")]


def read_until(primary: int, text: str, seen: list[str], timeout: float = 60.0) -> bool:
    """Read the terminal's other end into `seen` until `text` is in it (True), or it closes or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while text not in "".join(seen):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([primary], [], [], left)[0]:
            return False
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # (closed by the process)
            return False
        if not chunk:
            return False
        seen.append(chunk.decode("utf-8", "replace"))
    return True


@pytest.mark.parametrize("detach", [False, True], ids=["cancel", "detach"])
def test_ctrl_c_while_the_run_is_being_stored_says_what_it_waits_for(tmp_path: object, detach: bool) -> None:
    import pty

    path = f"{tmp_path}/runs.db"
    url = f"sqlite:///{path}"
    # the file and its tables, then its write lock held by another process, as a server's long write would
    assert run_cli("run", "warm up", "--store", url, "--max-iterations", "1").returncode in (0, 1)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    primary, secondary = pty.openpty()
    args = [*CLI, "run", PROMPT, "--json", "--store", url, *(["--detach"] if detach else [])]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=secondary, env=cli_env())
    os.close(secondary)
    seen: list[str] = []
    try:
        # `--json` with stderr on a terminal: a spinner there says `starting…` once the run has waited 2 s to start
        assert read_until(primary, "starting…", seen), "".join(seen)
        proc.send_signal(signal.SIGINT)
        told = read_until(primary, "waiting for the store", seen)
        holder.execute("ROLLBACK")
        out, _ = proc.communicate(timeout=120)
        read_until(primary, "\x00", seen, timeout=5)  # (the rest of what it said)
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        os.close(primary)
    said = "".join(seen)
    assert told, f"nothing said while the store was held after Ctrl-C:\n{said}"
    ending = "detached" if detach else "cancelled"
    assert (
        "orchestratex: interrupted by SIGINT: waiting for the store to record the orchestration, to end it "
        f"{ending} (it retries while another process holds the store)"
    ) in said, said
    assert proc.returncode == 130, said
    docs, _ = stored(url)
    (doc,) = [d for d in docs if d.id in out.decode()]
    assert doc.status == ("running" if detach else "cancelled"), doc.status


def test_ctrl_c_while_the_store_never_stores_the_run_ends_as_interrupted(tmp_path: object) -> None:
    """The same, the store held past every retry (about a minute): the run was never stored, and the command ended
    `StoreUnavailable: …` with exit code 1, having said it waited to end the run; it now ends as interrupted."""
    import pty

    path = f"{tmp_path}/runs.db"
    url = f"sqlite:///{path}"
    assert run_cli("run", "warm up", "--store", url, "--max-iterations", "1").returncode in (0, 1)
    before = [d.id for d in stored(url)[0]]
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "run", PROMPT, "--json", "--store", url], stdout=subprocess.PIPE, stderr=secondary, env=cli_env()
    )
    os.close(secondary)
    seen: list[str] = []
    try:
        assert read_until(primary, "starting…", seen), "".join(seen)
        proc.send_signal(signal.SIGINT)
        # (every retry waits out the busy timeout: about 70 s; the terminal read meanwhile, the spinner drawn on it)
        read_until(primary, "before the orchestration was stored", seen, timeout=180)
        out, _ = proc.communicate(timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        os.close(primary)
    said = "".join(seen)
    assert proc.returncode == 130, said
    assert "orchestratex: interrupted by SIGINT before the orchestration was stored" in said, said
    assert "StoreUnavailable" not in said, said
    assert out == b""
    assert [d.id for d in stored(url)[0]] == before
