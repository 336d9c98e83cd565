"""`orchestratex serve --host [::1]`: an IPv6 address as a URL writes it, and as `serve` itself prints it."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from .conftest import CLI, cli_env


def _ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6(), reason="no IPv6 loopback here")
def test_a_bracketed_ipv6_host_is_served(tmp_path: Path) -> None:
    """`serve --host ::1` prints `serving http://[::1]:PORT`; `--host [::1]`, copied from there, failed with
    `cannot listen on [::1]:8000: Name or service not known`."""
    args = [*CLI, "serve", "--host", "[::1]", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cli_env())
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        found = re.match(r"orchestratex: serving http://\[::1\]:(\d+) \(store ", first)
        assert found is not None, first
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://[::1]:{found.group(1)}/health", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
