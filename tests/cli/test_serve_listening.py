"""`orchestratex serve` listens from the moment it says "serving": a script that waits for that line (which gives
the port of `--port 0`) and connects at once was refused, the port bound but not yet listened on until the app had
started. A real server process and a real client."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CLI, cli_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP")


def test_a_client_that_connects_on_reading_serving_is_answered(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    args = [*CLI, "serve", "--port", "0", "--store", url]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cli_env())
    try:
        assert proc.stderr is not None
        found = re.match(r"orchestratex: serving http://127\.0\.0\.1:(\d+) ", proc.stderr.readline())
        assert found is not None
        # (the server kept still where it said it serves: whatever it does next, the connection must be taken)
        proc.send_signal(signal.SIGSTOP)
        try:
            client = socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=60)
        finally:
            proc.send_signal(signal.SIGCONT)
        with client:
            client.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert answer.endswith(b'{"status":"ok"}'), answer
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
