"""Ctrl-C while `keys create` waits for a SQLite store whose write lock another process holds: the command says at
once that it ends once the store answers, and a key the store then creates is printed. It said nothing for up to the
busy timeout (10 s), and a key created once the lock was let go was never shown: a working credential no one held."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from .conftest import CLI, cli_env, run_cli

pytest.importorskip("fastapi")  # (keys are for the server: `keys create` needs orchestratex[server])


def test_ctrl_c_while_waiting_for_the_lock_loses_no_key(tmp_path: Path) -> None:
    from orchestratex.stores import SQLiteStore

    path = tmp_path / "busy.db"

    async def create() -> None:
        async with SQLiteStore(path):
            pass

    asyncio.run(create())
    holder = sqlite3.connect(path, isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")
    proc = subprocess.Popen(
        [*CLI, "keys", "create", "alice", "--store", f"sqlite:///{path}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        assert proc.stderr is not None
        waiting = proc.stderr.readline()  # (after 2 s of waiting for the lock)
        assert waiting.startswith("orchestratex: waiting for the store "), waiting
        proc.send_signal(signal.SIGINT)
        said = proc.stderr.readline()
        assert said.startswith("orchestratex: interrupted: waiting for the store "), said
    finally:
        holder.execute("COMMIT")  # the lock let go: the write waiting for it is made
        holder.close()
    out, rest = proc.communicate(timeout=60)
    stored = json.loads(run_cli("keys", "list", "--json", "--store", f"sqlite:///{path}").stdout)
    if stored:  # made: shown, as any key created
        assert proc.returncode == 0, rest
        assert out.startswith("ox_") and len(stored) == 1
    else:
        assert proc.returncode == 130, rest


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_stop_signal_while_waiting_for_the_lock_says_so_and_loses_no_key(
    tmp_path: Path, name: str, code: int
) -> None:
    """`kill` (SIGTERM: `timeout`, a CI job's cancel) or a closed terminal (SIGHUP) while `keys create` waited for the
    store ended it without a word, where Ctrl-C said what it waited for, and a key the store made at that moment was
    never shown. They are now taken as Ctrl-C is: said at once, the write's answer waited for, the key printed if it was
    made, else the command ends with the signal's exit code (128 + its number)."""
    from orchestratex.stores import SQLiteStore

    path = tmp_path / "busy.db"

    async def create() -> None:
        async with SQLiteStore(path):
            pass

    asyncio.run(create())
    holder = sqlite3.connect(path, isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")
    proc = subprocess.Popen(
        [*CLI, "keys", "create", "alice", "--store", f"sqlite:///{path}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        assert proc.stderr is not None
        waiting = proc.stderr.readline()  # (after 2 s of waiting for the lock)
        assert waiting.startswith("orchestratex: waiting for the store "), waiting
        proc.send_signal(getattr(signal, name))
        said = proc.stderr.readline()
        assert said.startswith(f"orchestratex: interrupted by {name}: waiting for the store "), said
    finally:
        holder.execute("COMMIT")  # the lock let go: the write waiting for it is made
        holder.close()
    out, rest = proc.communicate(timeout=60)
    stored = json.loads(run_cli("keys", "list", "--json", "--store", f"sqlite:///{path}").stdout)
    if stored:  # made: shown, as any key created
        assert proc.returncode == 0, rest
        assert out.startswith("ox_") and len(stored) == 1
    else:
        assert proc.returncode == code, rest
        assert rest.rstrip().endswith(f"orchestratex: interrupted by {name}"), rest
