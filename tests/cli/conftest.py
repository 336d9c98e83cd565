"""The command line run as people run it: a subprocess, with its output piped or on a terminal."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestratex.records import Orchestration
from orchestratex.stores import open_store

CLI = [sys.executable, "-m", "orchestratex.cli"]
PROMPT = "Write a Python function to reverse a string"

LEASED_RUN = """
import asyncio, sys
from orchestratex import Orchestrator
from orchestratex.stores import open_store

async def main():
    store = await open_store(sys.argv[1])
    o = Orchestrator(store=store, simulate=True, lease_ttl_s=float(sys.argv[2]) if len(sys.argv) > 2 else 1.0)
    def said(event):
        if event.type == "model_selected":
            print(event.orchestration_id, flush=True)
    await o.run("Write a haiku about cats", on_event=said)

asyncio.run(main())
"""
"""A script running one simulated run with a 1 s lease on the store URL it is given (`python -c LEASED_RUN URL
[TTL]`), printing the run's id once a model is selected: kill it then to leave a run whose lease expires. A run meant
to go on is given a longer TTL: a loaded runner that leaves its process without a core for a second lets a 1 s lease
lapse, and the run is then rightly shown stalled."""


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: no provider key (the simulator), no store variable."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("ORCHESTRATEX_")}
    env.update({"ORCHESTRATEX_SIM_LATENCY_SCALE": "0", **extra})
    return env


def run_cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = kwargs.pop("env", None) or cli_env()
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120, check=False, **kwargs)


def stored(url: str) -> tuple[list[Orchestration], list[str]]:
    """Every orchestration of the store at `url`, and the ids a server would resume."""

    async def read() -> tuple[list[Orchestration], list[str]]:
        store = await open_store(url)
        try:
            return await store.list_orchestrations(limit=1000), await store.list_resumable()
        finally:
            await store.close()

    return asyncio.run(read())


def last_event_types(url: str, session_id: str) -> list[str]:
    async def read() -> list[str]:
        store = await open_store(url)
        try:
            return [e.type for e in await store.list_events(session_id, limit=10_000)]
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


def on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI with stdout on a pseudo-terminal; returns what the terminal received."""
    import pty  # (POSIX only)

    primary, secondary = pty.openpty()
    proc = subprocess.Popen([*CLI, *args], stdout=secondary, stderr=subprocess.PIPE, env=env)
    os.close(secondary)
    received = read_terminal(primary)
    proc.wait(timeout=30)
    assert proc.stderr is not None
    proc.stderr.close()
    assert proc.returncode == 0
    return received.replace("\r\n", "\n")


def read_terminal(primary: int, on_screen: Callable[[str], object] | None = None) -> str:
    """What a pseudo-terminal's other end received until the process closed it (two minutes at most); closes it.
    `on_screen` is called with all received so far after each read (to act once the process has shown something)."""
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
        if on_screen is not None:
            on_screen(b"".join(chunks).decode("utf-8", "replace"))
    os.close(primary)
    return b"".join(chunks).decode("utf-8", "replace")


def screen_lines(screen: str) -> list[str]:
    """What a terminal shows, as lines: colour and cursor codes removed, split at line breaks and returns."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    return [line for line in re.split(r"[\r\n]+", plain) if line.strip()]
