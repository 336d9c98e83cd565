"""`kill` (SIGTERM) or a closed terminal's SIGHUP while `orchestratex runs list` says on the terminal how far it has
read: the process ended with the spinner's line on screen and the cursor hidden (the spinner hides it while it spins),
so the shell's prompt came back without a cursor. The spinner is now erased, and the cursor shown, before the command
says it was interrupted and ends by the signal, as it would without the spinner (exit status 128 + its number in a
shell). A real process, its
stderr on a terminal, over a real store made slow to answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import cli_env
from .test_runs_list_progress import _fill

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

HIDE, SHOW = b"\x1b[?25l", b"\x1b[?25h"

_SLOW_STORE = """
import asyncio, sys
from orchestratex.cli import main
from orchestratex.stores.sqlite import SQLiteStore

listed = SQLiteStore.list_orchestrations

async def slowly(self, *args, **kwargs):
    await asyncio.sleep(30)  # (a store far away: stopped while it reads)
    return await listed(self, *args, **kwargs)

SQLiteStore.list_orchestrations = slowly
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_stop_signal_while_the_spinner_spins_leaves_the_cursor_shown(
    store_url: str, tmp_path: Path, name: str
) -> None:
    import pty

    _fill(store_url)
    primary, secondary = pty.openpty()
    args = ["runs", "list", "--limit", "0", "--store", store_url]
    env = cli_env(COLUMNS="100", TERM="xterm-256color")
    with (tmp_path / "listed.txt").open("w") as stdout:
        proc = subprocess.Popen([sys.executable, "-c", _SLOW_STORE, *args], stdout=stdout, stderr=secondary, env=env)
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
        while b"reading the store's orchestrations" not in b"".join(received):  # the spinner spins
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(getattr(signal, name))
        assert proc.wait(timeout=60) == -getattr(signal, name)  # (ended by the signal, as without the spinner)
    finally:
        proc.kill()
        proc.wait()
    reader.join(10)
    os.close(primary)
    screen = b"".join(received)
    assert screen.rfind(SHOW) > screen.rfind(HIDE), "ended with the cursor hidden"
    said = f"orchestratex: interrupted by {name} while reading the store's orchestrations (nothing was changed)"
    after = screen.rsplit(b"\x1b[2K", 1)[-1].replace(SHOW, b"")  # (what the terminal got once the spinner was erased)
    assert after == f"{said}\r\n".encode(), screen[-200:]
