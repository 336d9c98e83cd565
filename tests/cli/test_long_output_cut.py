"""Long output whose writing is cut short: a reader that went away after the first line (`runs list | head -1`), a
disk that filled up under `runs list --json > runs.json`. Python's buffered stdout, given the whole text in one
write, took the first part the system wrote (a pipe's 64 KiB, what the disk had room for) and dropped the rest
without an error: the command exited 0 with its output cut, a file of half a JSON document, and no word of it.
Real processes, a real pipe, a real full file system."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestratex.records import Orchestration, Session, Thread
from orchestratex.stores import open_store

from .conftest import CLI, cli_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes and file systems")

RUNS = 300
PROMPT = "Summarise this report: " + "the figures of the quarter, " * 400
"""About 11 KB a run: `runs list` writes some 3 MB, more than a pipe holds and than the small disk has room for."""


def _fill(url: str) -> None:
    async def fill() -> None:
        store = await open_store(url)
        try:
            session = await store.create_session(Session(user_id="alice"))
            thread = await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="x"))
            for _ in range(RUNS):
                run = Orchestration(session_id=session.id, thread_id=thread.id, user_id="alice", prompt=PROMPT)
                await store.create_orchestration(run)
        finally:
            await store.close()

    asyncio.run(fill())


@pytest.fixture(scope="module")
def long_history(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('history') / 'runs.db'}"
    _fill(url)
    return url


@pytest.mark.parametrize("json_option", [[], ["--json"]])
def test_a_reader_gone_after_the_first_line_ends_the_command_quietly_with_141(
    long_history: str, json_option: list[str]
) -> None:
    proc = subprocess.Popen(
        [*CLI, "runs", "list", "--limit", "0", *json_option, "--store", long_history],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err  # (as when the reader had gone before the first byte)
    assert first.startswith(b"[" if json_option else b"id ")
    assert err == ""  # quietly: no traceback, no message


@pytest.mark.parametrize("json_option", [[], ["--json"]])
def test_output_cut_by_a_full_disk_is_an_error_not_a_cut_file(
    long_history: str, small_disk: Path, json_option: list[str]
) -> None:
    """`runs list --json > runs.json` on a disk with less room than the list: the file held the first 2 MB of the
    document, and the command exited 0 saying nothing."""
    target = small_disk / "runs.json"
    done = _runs_list_into(target, "--limit", "0", *json_option, "--store", long_history)
    assert done.returncode == 1, done.stderr
    assert done.stderr == "orchestratex: error: cannot write to stdout (No space left on device)\n"
    target.unlink()
    done = _runs_list_into(target, "--limit", "5", "--json", "--store", long_history)  # room for it all: exit 0
    assert done.returncode == 0, done.stderr
    assert len(json.loads(target.read_text())) == 5


def _runs_list_into(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`orchestratex runs list ARGS > target`."""
    with target.open("w") as out:
        return subprocess.run(
            [*CLI, "runs", "list", *args],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            timeout=120,
            check=False,
        )
