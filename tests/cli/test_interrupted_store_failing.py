"""`orchestratex run` interrupted while another process holds the SQLite file past every retry of the stop (a
minute): the run could not be recorded cancelled. The command ended `StoreUnavailable: …` with exit code 1, as if the
store had failed the run by itself, the signal forgotten, and said nothing of the orchestration it left `running`,
which a server on the store resumes (and pays for). It now says so, with the signal's exit code."""

from __future__ import annotations

import signal
import sqlite3
import sys

import pytest

from .conftest import stored
from .test_interrupt import start

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


def test_a_stop_the_store_never_takes_is_said_with_the_signals_exit_code(store_url: str) -> None:
    proc = start(store_url)  # (its first model answering)
    holder = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=180)  # (every retry of the stop waits out the busy timeout: about 70 s)
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
        proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    exit_code = proc.returncode
    (doc,), _ = stored(store_url)
    assert doc.status == "running"
    assert exit_code == 143, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        f"orchestratex: interrupted by SIGTERM: orchestration {doc.id} could not be ended cancelled, the store "
        "failing (the SQLite database is busy"
    ), err
    assert last.endswith(
        f"it is still running there, and a server on this store (`orchestratex serve --store {store_url}`) resumes "
        "it once its lease has expired"
    ), err
