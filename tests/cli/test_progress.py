"""A run whose stdout is not a terminal (`--json`, `> answer.txt`, `| tee`) says what it waits for on stderr, when that
is one: a long run is never silent on the screen, and nothing of the spinner reaches stdout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import CLI, PROMPT, cli_env, read_terminal, screen_lines

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


def with_stderr_on_a_terminal(
    args: list[str], stdout: Path | None = None, on_screen: Callable[[str], object] | None = None
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the CLI with stdout piped (or written to the file `stdout`) and stderr on a pseudo-terminal; returns the
    process and what the terminal got (`on_screen`: see `read_terminal`)."""
    import pty

    primary, secondary = pty.openpty()
    env = cli_env(COLUMNS="100", TERM="xterm-256color", ORCHESTRATEX_SIM_LATENCY_SCALE="0.3")
    with open(stdout, "w") if stdout is not None else contextlib.nullcontext(subprocess.PIPE) as target:
        proc = subprocess.Popen([*CLI, *args], stdout=target, stderr=secondary, env=env, text=True)
        os.close(secondary)
        received = read_terminal(primary, on_screen)
        out, _ = proc.communicate(timeout=30)
    out = stdout.read_text() if stdout is not None else out
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, None), received


@pytest.mark.parametrize("json_output", [True, False])
def test_a_run_whose_stdout_is_not_a_terminal_shows_its_progress_on_stderr(
    store_url: str, json_output: bool, tmp_path: Path
) -> None:
    """`orchestratex run … --json` (or `> answer.txt`) showed nothing at all on the screen until the run ended: a
    minute and more with real models, with no sign that it was working."""
    args = ["run", PROMPT, "--max-iterations", "2", "--threshold", "10", "--store", store_url]
    if json_output:  # (`--json | jq`: nothing is written to the pipe until the run ends)
        done, screen = with_stderr_on_a_terminal([*args, "--json"])
    else:
        done, screen = with_stderr_on_a_terminal(args, stdout=tmp_path / "answer.txt")
    assert done.returncode == 0, screen
    assert "is answering…" in screen and "judges are scoring…" in screen
    assert screen_lines(screen.rsplit("\x1b[2K", 1)[-1]) == [], "the spinner is erased when the run ends"
    assert "\x1b" not in done.stdout and "is answering…" not in done.stdout
    if json_output:
        assert json.loads(done.stdout)["status"] == "completed"
    else:
        assert "✔ completed" in done.stdout


def test_a_live_view_into_a_pipe_leaves_the_terminal_to_the_pipe_s_reader(store_url: str) -> None:
    """`orchestratex run … | tee run.log` (or `| grep`, `| less`): the reader writes each line to the terminal the
    spinner was drawn on, and the spinner's frames were left stuck to the lines (`⠙ … is answering…   answered 414
    tokens …`), or drawn over `less`. The lines themselves say how the run goes."""
    args = ["run", PROMPT, "--max-iterations", "2", "--threshold", "10", "--store", store_url]
    done, screen = with_stderr_on_a_terminal(args)
    assert done.returncode == 0, screen
    assert "✔ completed" in done.stdout
    assert "is answering…" not in screen and "\x1b[?25l" not in screen, screen


def test_no_spinner_when_stderr_is_not_a_terminal(store_url: str) -> None:
    done = subprocess.run(
        [*CLI, "run", PROMPT, "--json", "--max-iterations", "1", "--store", store_url],
        capture_output=True,
        text=True,
        env=cli_env(TERM="xterm-256color"),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == ""


def test_a_run_waiting_for_a_busy_store_says_it_is_starting(tmp_path: Path) -> None:
    """Another process holds the SQLite store's write lock: the run cannot store its session until it is released
    (up to the store's 10 s busy timeout), and nothing was shown on the terminal meanwhile. A run that has not
    reached its first event within 2 s now says it is starting."""
    import sqlite3

    from orchestratex.stores import SQLiteStore

    path = tmp_path / "busy.db"

    async def create() -> None:
        async with SQLiteStore(path):
            pass

    asyncio.run(create())  # (the schema made: opening it takes no write lock)
    holder = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    def released_once_starting(screen: str) -> None:
        # (not after a fixed 4 s: on a loaded runner the command took that long to start, found the lock gone and
        # never waited; the lock is held until the run says it waits, well within the store's 10 s busy timeout)
        if "starting…" in screen and holder.in_transaction:
            holder.execute("COMMIT")

    try:
        done, screen = with_stderr_on_a_terminal(
            ["run", PROMPT, "--max-iterations", "1", "--store", f"sqlite:///{path}", "--json"],
            on_screen=released_once_starting,
        )
    finally:
        holder.close()
    assert done.returncode == 0, screen
    assert "starting…" in screen and "is answering…" in screen
    assert screen.index("starting…") < screen.index("is answering…")
