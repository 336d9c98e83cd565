"""A store slow to open — a MongoDB server far away or not answering (its server selection waits 5 s), a SQLite file
on a slow network disk — left `runs list`, `runs show` and `keys list` silent on the terminal until it answered or
failed (`runs list`'s spinner started once the store was open), where `run` says `starting…`. Each now shows its
spinner on stderr's terminal while the store opens, erased before anything is written. A real process, its stderr on
a terminal, over a real store made slow to open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import cli_env, read_terminal, run_cli, screen_lines

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

_SLOW_OPEN = """
import asyncio, sys
from orchestratex.cli import main
from orchestratex.stores.sqlite import SQLiteStore

opened = SQLiteStore.open

async def slowly(self):
    await asyncio.sleep(3)  # (a store far away: opening it takes a while)
    await opened(self)

SQLiteStore.open = slowly
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["runs", "list"], "reading the store's orchestrations…"),
        (["runs", "show", "{id}"], "reading orchestration {id}…"),
        (["keys", "list"], "reading the store's API keys…"),
    ],
)
def test_a_store_slow_to_open_shows_the_spinner_meanwhile(
    store_url: str, tmp_path: Path, command: list[str], said: str
) -> None:
    import json
    import pty

    made = run_cli("run", "Hello", "--json", "--store", store_url)
    oid = json.loads(made.stdout)["_id"]
    assert run_cli("keys", "create", "alice", "--store", store_url).returncode == 0
    primary, secondary = pty.openpty()
    args = [word.format(id=oid) for word in command]
    env = cli_env(COLUMNS="100", TERM="xterm-256color")
    out = tmp_path / "out.txt"  # (a file: stdout is not the terminal)
    with out.open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SLOW_OPEN, *args, "--store", store_url], stdout=stdout, stderr=secondary, env=env
        )
    os.close(secondary)
    screen = read_terminal(primary)
    proc.wait(timeout=60)
    assert proc.returncode == 0, screen
    assert said.format(id=oid) in screen, screen
    assert screen_lines(screen.rsplit("\x1b[2K", 1)[-1]) == [], "the spinner is erased before the command ends"
    assert "\x1b" not in out.read_text()
