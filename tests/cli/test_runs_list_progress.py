"""`orchestratex runs list` of a long history says it is reading: thousands of orchestrations took seconds to read
(a remote MongoDB, a big SQLite file on a slow disk) and as long again to lay out, with nothing on the screen.
A real process, its stderr on a terminal, over a real store made slow to answer."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestratex.records import Orchestration, Session, Thread
from orchestratex.stores import open_store

from .conftest import cli_env, read_terminal, screen_lines

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

RUNS = 600

_SLOW_STORE = """
import asyncio, sys
from orchestratex.cli import main
from orchestratex.stores.sqlite import SQLiteStore

listed = SQLiteStore.list_orchestrations

async def slowly(self, *args, **kwargs):
    await asyncio.sleep(0.2)  # (a store far away: each read takes a while)
    return await listed(self, *args, **kwargs)

SQLiteStore.list_orchestrations = slowly
sys.exit(main(sys.argv[1:]))
"""


def _fill(url: str) -> None:
    async def fill() -> None:
        store = await open_store(url)
        try:
            session = await store.create_session(Session(user_id="alice"))
            thread = await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="Hi"))
            for i in range(RUNS):
                await store.create_orchestration(
                    Orchestration(
                        thread_id=thread.id,
                        session_id=session.id,
                        user_id="alice",
                        prompt=f"run {i}",
                        status="completed",
                    )
                )
        finally:
            await store.close()

    asyncio.run(fill())


@pytest.mark.parametrize("json_output", [False, True])
def test_a_long_listing_says_how_far_it_has_read(store_url: str, json_output: bool, tmp_path: Path) -> None:
    import pty

    _fill(store_url)
    primary, secondary = pty.openpty()
    args = ["runs", "list", "--limit", "0", "--store", store_url, *(["--json"] if json_output else [])]
    env = cli_env(COLUMNS="100", TERM="xterm-256color")
    listed = tmp_path / "listed.txt"  # (not a pipe: the command would wait for it to be read, the terminal first)
    with listed.open("w") as stdout:
        proc = subprocess.Popen([sys.executable, "-c", _SLOW_STORE, *args], stdout=stdout, stderr=secondary, env=env)
    os.close(secondary)
    screen = read_terminal(primary)
    proc.wait(timeout=60)
    out = listed.read_text()
    assert proc.returncode == 0, screen
    assert f"reading the store's orchestrations… 500 of {RUNS}" in screen, screen  # (a page of 500, newest first)
    assert screen_lines(screen.rsplit("\x1b[2K", 1)[-1]) == [], "the spinner is erased before the list"
    assert "\x1b" not in out and "reading" not in out
    assert out.count("run ") == RUNS
