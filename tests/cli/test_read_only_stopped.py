"""`kill` (SIGTERM: `timeout`, a CI job's cancel) or a closed terminal (SIGHUP) while a command that only reads —
`runs list`, `runs show`, `keys list`, `models` — waits (a store far away, a catalog read from a pipe) ended the
process without a word, where `run` and `serve` say what they were doing when stopped, and Ctrl-C said
"interrupted". They now say so in one line, then end by the signal, as without it. A real process over a real store
made slow to answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import CLI, cli_env, run_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

_SLOW_STORE = """
import asyncio, os, sys
from pathlib import Path
from orchestratex.cli import main
from orchestratex.stores.sqlite import SQLiteStore

def slow(name):
    read = getattr(SQLiteStore, name)

    async def slowly(self, *args, **kwargs):
        Path(os.environ["READING"]).touch()  # (the test's cue: the command waits for the store now)
        await asyncio.sleep(30)  # (a store far away)
        return await read(self, *args, **kwargs)

    setattr(SQLiteStore, name, slowly)

slow("list_orchestrations")
slow("get_orchestration")
slow("list_api_keys")
sys.exit(main(sys.argv[1:]))
"""


def _stopped(args: list[str], tmp_path: Path, name: str) -> str:
    reading = tmp_path / "reading"
    err = tmp_path / "err.txt"
    with err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SLOW_STORE, *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=cli_env(READING=str(reading)),
        )
    try:
        deadline = time.monotonic() + 60
        while not reading.exists():
            assert time.monotonic() < deadline and proc.poll() is None, err.read_text()
            time.sleep(0.05)
        proc.send_signal(getattr(signal, name))
        assert proc.wait(timeout=60) == -getattr(signal, name)  # (ended by the signal, as before)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return err.read_text()


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize(
    ("command", "doing"),
    [
        (["runs", "list"], "reading the store's orchestrations"),
        (["runs", "show", "6b167dad8fe8c3f0997b39d1"], "reading orchestration 6b167dad8fe8c3f0997b39d1"),
        (["keys", "list"], "reading the store's API keys"),
    ],
)
def test_a_read_stopped_by_a_signal_says_so(
    store_url: str, tmp_path: Path, name: str, command: list[str], doing: str
) -> None:
    assert run_cli("run", "Hello", "--store", store_url).returncode == 0  # (the store's file made)
    said = _stopped([*command, "--store", store_url], tmp_path, name)
    assert said.splitlines() == [f"orchestratex: interrupted by {name} while {doing} (nothing was changed)"]


def test_models_stopped_while_reading_its_catalog_says_so(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    os.mkfifo(catalog)  # (ORCHESTRATEX_CATALOG from a pipe that takes its time)
    err = tmp_path / "err.txt"
    with err.open("w") as stderr:
        proc = subprocess.Popen(
            [*CLI, "models"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=cli_env(ORCHESTRATEX_CATALOG=str(catalog)),
        )
    writer = None
    try:
        deadline = time.monotonic() + 60
        while writer is None:  # (until the command has the pipe open: it then waits for the catalog's text)
            try:
                writer = os.open(catalog, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, err.read_text()
                time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == -signal.SIGTERM
    finally:
        if writer is not None:
            os.close(writer)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert err.read_text().splitlines() == [
        "orchestratex: interrupted by SIGTERM while reading the catalog (nothing was changed)"
    ]
