"""`orchestratex run --provider NAME` of an installed provider the shipped catalog has no model of (`ollama`, `vllm`):
said to be an "unknown provider", though `orchestratex models` says what it lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli_env, run_cli

pytest.importorskip("orchestratex_openai")  # (it provides ollama, vllm, lmstudio and openrouter)


def test_a_provider_installed_without_a_model_in_the_catalog_says_what_to_add(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    env = cli_env(OLLAMA_BASE_URL="http://127.0.0.1:9")  # (a closed port: no call could be made)
    done = run_cli("run", "hi", "--provider", "ollama", "--store", f"sqlite:///{store}", env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "orchestratex: error: the shipped catalog has no ollama model (its providers: sim, openai, anthropic, gemini):"
        " name its models in a catalog file (--catalog FILE)"
    ]
    assert not store.exists()
    # a name no installed package provides is still unknown
    done = run_cli("run", "hi", "--provider", "olama", "--store", f"sqlite:///{store}", env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "orchestratex: error: unknown provider 'olama'; known: sim, openai, anthropic, gemini"
    ]
