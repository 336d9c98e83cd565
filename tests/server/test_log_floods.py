"""uvicorn's per-request warnings (`Invalid HTTP request received.`) are said once per 10 s, with how many."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from orchestratex.server._log_floods import RepeatedWarningFilter

from .server_process import ServerProcess


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 0, message, None, None)


def test_a_repeated_warning_is_said_once_per_period_then_with_the_count() -> None:
    now = [100.0]
    flood = RepeatedWarningFilter(every_s=10.0, clock=lambda: now[0])
    said = []
    for step in range(25):  # one a second: 0 s, 10 s and 20 s are said
        now[0] = 100.0 + step
        record = _record("Invalid HTTP request received.")
        if flood.filter(record):
            said.append(record.getMessage())
    assert said == [
        "Invalid HTTP request received.",
        "Invalid HTTP request received. (and 9 more in the last 10.0 s)",
        "Invalid HTTP request received. (and 9 more in the last 10.0 s)",
    ]
    assert flood.filter(_record("Unsupported upgrade request."))  # (each message on its own)
    other = _record("Started server process [%d]")
    other.args = (1,)
    assert all(flood.filter(other) for _ in range(3))


@pytest.mark.slow
def test_a_flood_of_unreadable_requests_is_one_line_under_uvicorn(tmp_path: Path) -> None:
    """An app served by one's own uvicorn (`uvicorn --factory orchestratex.server:create_app`): uvicorn wrote
    `Invalid HTTP request received.` for each unparseable request, which anyone can send without a key."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    with ServerProcess(url, tmp_path, uvicorn_args=[]) as server:
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(100).startswith(b"HTTP/1.1 400 ")
        log = server.log()
    assert log.count("Invalid HTTP request received.") == 1, log
