"""A bad `ORCHESTRATEX_PROVIDER_TIMEOUT_S` stops the program at its start even when no provider key is set yet.

`orchestratex serve` with `ORCHESTRATEX_PROVIDER_TIMEOUT_S=abc` and no key served the simulator without a word, and
`Orchestrator()` was made: the value was refused only once a key was added, at the next start (docs/operate.md says
a value it does not accept stops `serve` before it serves, and `Orchestrator()` when it is constructed).
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import ConfigurationError
from orchestratex.testing.fixtures import hide_provider_variables  # noqa: F401  (a fixture)

from .conftest import CLI, cli_env

SAID = "ORCHESTRATEX_PROVIDER_TIMEOUT_S must be a number of seconds > 0 (600 for ten minutes), not 'abc'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_without_a_key_refuses_a_bad_provider_timeout(tmp_path: Path) -> None:
    args = [*CLI, "serve", "--port", str(_free_port()), "--store", f"sqlite:///{tmp_path / 's.db'}"]
    done = subprocess.run(
        args, env=cli_env(ORCHESTRATEX_PROVIDER_TIMEOUT_S="abc"), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert SAID in done.stderr, done.stderr
    assert "serving" not in done.stderr


@pytest.mark.usefixtures("hide_provider_variables")
def test_the_orchestrator_refuses_it_when_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_PROVIDER_TIMEOUT_S", "abc")
    with pytest.raises(ConfigurationError, match="ORCHESTRATEX_PROVIDER_TIMEOUT_S must be a number of seconds"):
        Orchestrator()
    Orchestrator(simulate=True).close()  # (the simulator alone reads no provider variable)
    monkeypatch.setenv("ORCHESTRATEX_PROVIDER_TIMEOUT_S", "600")
    Orchestrator().close()
