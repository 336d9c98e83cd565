"""`orchestratex serve` in a shell where `OPENAI_BASE_URL` names the server's own `/v1` (as the docs tell its clients
to set it) refuses to start, saying so: its `openai` provider sent every model call to the server itself, each call
starting another orchestration that called it again (one request, some 140 orchestrations, and a 429 quoting them)."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

from .conftest import CLI, cli_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(tmp_path: Path, port: int, base_url: str) -> tuple[int | None, str]:
    """The exit status (None: it went on serving, and was stopped) and the first line it wrote."""
    env = cli_env(OPENAI_BASE_URL=base_url, OPENAI_API_KEY="ox_the-server-s-own-key")
    args = [*CLI, "serve", "--port", str(port), "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    assert proc.stderr is not None
    try:
        first = proc.stderr.readline()
        return (None if first.startswith("orchestratex: serving") else proc.wait(timeout=30)), first
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        proc.stderr.close()


def test_a_provider_pointed_at_the_server_itself_stops_its_start(tmp_path: Path) -> None:
    port = _free_port()
    for base_url in (f"http://127.0.0.1:{port}/v1", f"http://localhost:{port}/v1/"):
        status, first = _serve(tmp_path, port, base_url)
        assert status == 1, first
        assert first.startswith(f"orchestratex: error: OPENAI_BASE_URL={base_url} is this server's own address"), first
        assert "unset OPENAI_BASE_URL where the server runs" in first


def test_a_provider_pointed_at_another_server_on_this_machine_is_served(tmp_path: Path) -> None:
    """Another OrchestrateX (or a model server) on another port is a provider like any other."""
    port = _free_port()
    status, first = _serve(tmp_path, port, f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/v1")
    assert status is None and first.startswith(f"orchestratex: serving http://127.0.0.1:{port} "), first
