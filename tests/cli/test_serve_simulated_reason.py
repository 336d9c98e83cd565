"""`orchestratex serve` says why it serves simulated models, as `orchestratex models` does."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from .conftest import CLI, cli_env


def _first_line(tmp_path: Path, env: dict[str, str]) -> str:
    args = [*CLI, "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stderr is not None
        return proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def test_an_ollama_url_without_ollama_models_is_named_as_the_reason_for_the_simulator(tmp_path: Path) -> None:
    """With `OLLAMA_BASE_URL` set and no ollama model in the catalog, the banner said "simulated models (no provider
    key set)": the user, who had set the variable, was told to set one; `orchestratex models` named the real cause."""
    env = {k: v for k, v in cli_env().items() if not k.endswith("_BASE_URL")}
    first = _first_line(tmp_path, {**env, "OLLAMA_BASE_URL": "http://127.0.0.1:9/v1"})
    assert first.startswith("orchestratex: serving http://127.0.0.1:"), first
    assert first.endswith(
        ", simulated models (OLLAMA_BASE_URL is set, but the catalog has no ollama model: name its models in a catalog"
        " file (--catalog FILE)))\n"
    ), first
    plain = _first_line(tmp_path, env)
    assert plain.endswith(", simulated models (no provider API key is set))\n"), plain
