"""A stop signal that lands where Python cannot run its handler at once — just before the main thread blocks in a
system call, or on another thread — is handed to the main thread again: `serve` and `run` stop, and say so, instead
of waiting there for ever (a `kill` lost; CI saw `serve` hang a minute on its catalog pipe)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import cli_env

# The signal is raised on a thread of its own while the main thread waits in `os.read` on a pipe nobody writes: its
# handler can only run in the main thread, whose read no signal interrupted. That is the lost stop, made certain.
_LOST_STOP = """
import os, signal, threading, time
from orchestratex.cli._start_signals import StoppedStarting, stopping_starts

reader, writer = os.pipe()
try:
    with stopping_starts() as give_back:
        threading.Thread(target=lambda: (time.sleep(0.2), signal.raise_signal(signal.{name})), daemon=True).start()
        os.read(reader, 1)
except StoppedStarting as exc:
    print("stopped by", exc.name, "handlers given back:", signal.getsignal(signal.{name}) is signal.SIG_DFL)
print("wake-up descriptor given back:", signal.set_wakeup_fd(-1) == -1)
print("threads left:", sorted(t.name for t in threading.enumerate() if t.name.startswith("orchestratex")))
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_stop_signal_taken_by_another_thread_still_stops_the_start(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOST_STOP.format(name=name)],
        capture_output=True, text=True, env=cli_env(), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == [f"stopped by {name} handlers given back: True", "wake-up descriptor given back: True"]
    # (the watching thread leaves once the signals are given back; it may take a moment to read that)
    assert lines[2] in ("threads left: []", "threads left: ['orchestratex-stop-signals']")


_GIVEN_BACK = """
import signal, threading, time
from orchestratex.cli._start_signals import stopping_starts

with stopping_starts() as give_back:
    give_back()  # (as `serve` does when uvicorn takes the signals)
    print("descriptor:", signal.set_wakeup_fd(-1))
for watching in [t for t in threading.enumerate() if t.name == "orchestratex-stop-signals"]:
    watching.join(30)  # (it leaves once it reads that the descriptor was given back: 0.2 s was not always enough)
print("threads left:", sorted(t.name for t in threading.enumerate() if t.name.startswith("orchestratex")))
signal.signal(signal.SIGTERM, lambda *_: print("their own handler ran"))  # (the next owner's, as uvicorn's)
signal.raise_signal(signal.SIGTERM)
time.sleep(0.3)  # (nothing hands it again: the watch is gone)
"""


def test_once_given_back_the_signals_and_descriptor_are_the_next_owners_alone() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _GIVEN_BACK], capture_output=True, text=True, env=cli_env(), timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["descriptor: -1", "threads left: []", "their own handler ran"]
