"""`orchestratex serve | head` (or a `tee`, a log shipper that died): stdout's reader goes away while the server
serves. A real server process whose stdout is a pipe closed under it, real HTTP requests."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import httpx

from .conftest import CLI, cli_env


def test_a_closed_stdout_drops_the_access_log_with_one_warning(tmp_path: Path) -> None:
    """Every request answered printed a "--- Logging error ---" traceback of the BrokenPipeError (some 40 lines) on
    stderr, burying the server's own lines."""
    args = [*CLI, "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    assert proc.stdout is not None and proc.stderr is not None
    try:
        found = re.match(r"orchestratex: serving http://127\.0\.0\.1:(\d+) ", proc.stderr.readline())
        assert found is not None
        base = f"http://127.0.0.1:{found.group(1)}"
        deadline = time.monotonic() + 60
        while True:  # until it answers (its access line goes to the pipe, read by no one yet)
            try:
                assert httpx.get(f"{base}/health", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        proc.stdout.close()  # the reader goes away, as `| head -1` does
        for _ in range(5):
            assert httpx.get(f"{base}/health", timeout=10).status_code == 200  # it goes on serving
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert "Logging error" not in err and "Traceback" not in err, err
    assert err.count("stdout cannot be written (Broken pipe): the access log is dropped from now on") == 1, err
