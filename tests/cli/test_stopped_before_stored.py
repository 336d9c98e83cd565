"""`orchestratex run` stopped by `kill` (SIGTERM) or a closed terminal (SIGHUP) before its run takes those signals —
while it reads `run -`'s standard input, say, from a command still producing it — ended the process without a word
(killed by the signal), where Ctrl-C said "interrupted". A real process, stopped as it reads its input."""

from __future__ import annotations

import fcntl
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from .conftest import CLI, cli_env, stored

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIONREAD on a pipe's writing end")


def _unread(fd: int) -> int:
    """How many bytes written to a pipe its reader has not read yet."""
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_run_stopped_while_reading_its_prompt_says_so(store_url: str, name: str) -> None:
    proc = subprocess.Popen(
        [*CLI, "run", "-", "--store", store_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"Explain DNS")  # (and more to come: the input is not closed)
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while _unread(proc.stdin.fileno()) and time.monotonic() < deadline:  # until it reads its input
            time.sleep(0.05)
        proc.send_signal(getattr(signal, name))
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + getattr(signal, name), err
    assert err.decode() == f"orchestratex: interrupted by {name} before the orchestration was stored\n"
    assert out == b""
    assert stored(store_url) == ([], [])
