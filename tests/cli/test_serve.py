"""`orchestratex serve` says where it serves only once it can: a port in use is one line, `--port 0` its real port."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from .conftest import CLI, cli_env, run_cli


def test_a_port_in_use_is_one_line_and_exit_1_not_a_serving_message(tmp_path: Path) -> None:
    """It printed "serving http://127.0.0.1:PORT", the API docs and console URLs, uvicorn's start-up, then
    "[Errno 98] … address already in use" and exited with 3."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--port", str(port), "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"orchestratex: error: cannot listen on 127.0.0.1:{port}: Address already in use: "
        "give another --port (or a --host of this machine)"
    ]
    bad_host = run_cli("serve", "--host", "999.1.1.1", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert bad_host.returncode == 1 and "serving" not in bad_host.stderr
    assert bad_host.stderr.startswith("orchestratex: error: cannot listen on 999.1.1.1:0: ")


def test_port_0_prints_the_port_the_server_listens_on(tmp_path: Path) -> None:
    """It printed "serving http://127.0.0.1:0"."""
    args = [*CLI, "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cli_env())
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        found = re.match(r"orchestratex: serving http://127\.0\.0\.1:(\d+) \(store ", first)
        assert found is not None, first
        port = int(found.group(1))
        assert port != 0
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
