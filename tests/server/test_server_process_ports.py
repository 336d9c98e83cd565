"""The tests' `ServerProcess` starts whatever other processes of the machine bind meanwhile."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow


def test_a_port_taken_between_the_servers_making_and_its_start_does_not_stop_it(tmp_path: Path) -> None:
    """The port was chosen free as the `ServerProcess` was made, closed, and bound by the server a second later: a
    connection of a client on the machine (whose local ports come from the same range) or another suite's server took
    it meanwhile now and then, and the test failed, the server saying "address already in use"."""
    url = f"sqlite:///{tmp_path / 'ports.db'}"
    key = create_key(url, "alice")
    server = ServerProcess(url, tmp_path)
    with socket.socket() as other:
        other.bind(("127.0.0.1", server.port))  # (any port it may have chosen: taken now)
        other.listen()
        taken = other.getsockname()[1]
        with server:
            assert server.port not in (0, taken)
            assert server.base_url == f"http://127.0.0.1:{server.port}"
            answered = httpx.get(f"{server.base_url}/api/models/", headers={"Authorization": f"Bearer {key}"})
            assert answered.status_code == 200, answered.text
    assert server.log().count("serving http://127.0.0.1:") == 1
