"""`orchestratex models` checks every variable `run` reads for a provider, not only those that configure it.

`OPENROUTER_BASE_URL=localhost:4000` (beside `OPENROUTER_API_KEY`) or a `VLLM_API_KEY` holding a line break (beside
`VLLM_BASE_URL`) was shown `✔ openrouter: configured` (`✔ vllm: configured`), while `run` refused the variable.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli_env, run_cli

pytest.importorskip("orchestratex_openai")

CATALOG = """
[[models]]
name = "openrouter:meta-llama/llama-3.3-70b-instruct"
input_cost_per_1k = 0.00013
output_cost_per_1k = 0.0004

[[models]]
name = "vllm:qwen3"
cost_per_1k_tokens = 0
"""


@pytest.mark.parametrize(
    ("variables", "said", "problem"),
    [
        (
            {"OPENROUTER_API_KEY": "sk-or-test", "OPENROUTER_BASE_URL": "localhost:4000"},
            "✘ openrouter: OPENROUTER_BASE_URL 'localhost:4000' is not an http:// or https:// URL",
            "'localhost:4000' (OPENROUTER_BASE_URL) is not an http:// or https:// URL",
        ),
        (
            {"VLLM_BASE_URL": "http://localhost:8000/v1", "VLLM_API_KEY": "token\nsecond-line"},
            "✘ vllm: the API key (VLLM_API_KEY) holds a line break at character 6",
            "holds a line break at character 6",
        ),
        (  # (the time limit of the providers built from the environment, read as they are made)
            {"VLLM_BASE_URL": "http://localhost:8000/v1", "ORCHESTRATEX_PROVIDER_TIMEOUT_S": "10 minutes"},
            "✘ vllm: ORCHESTRATEX_PROVIDER_TIMEOUT_S must be a number of seconds > 0 (600 for ten minutes), not"
            " '10 minutes'",
            "ORCHESTRATEX_PROVIDER_TIMEOUT_S must be a number of seconds > 0",
        ),
    ],
)
def test_models_says_what_run_would_refuse(tmp_path: Path, variables: dict[str, str], said: str, problem: str) -> None:
    catalog = tmp_path / "models.toml"
    catalog.write_text(CATALOG, encoding="utf-8")
    env = cli_env(**variables)
    env = {k: v for k, v in env.items() if not k.endswith("_BASE_URL") or k in variables}
    done = run_cli("models", "--catalog", str(catalog), env=env)
    assert done.returncode == 0, done.stderr
    assert said in done.stdout, done.stdout
    assert "second-line" not in done.stdout, "the key is never shown"
    run = run_cli("run", "Hello", "--catalog", str(catalog), "--store", "memory://", env=env)
    assert run.returncode == 2, run.stdout + run.stderr
    assert problem in run.stderr, run.stderr


def test_openais_own_base_url_without_a_key_is_not_configured() -> None:
    """`OPENAI_BASE_URL=https://api.openai.com/v1` without `OPENAI_API_KEY` (an env template's line) was shown
    `✔ openai: configured` and its models `ready`, while `run` used the offline simulator."""
    env = cli_env(OPENAI_BASE_URL="https://api.openai.com/v1")
    done = run_cli("models", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "✘ openai: no key (set OPENAI_API_KEY)", done.stdout
    assert "`orchestratex run` uses the offline simulator" in done.stdout
    run = run_cli("run", "What is RAID 5?", "--max-iterations", "1", "--store", "memory://", env=env)
    assert run.returncode == 0 and "simulated" in run.stdout, run.stdout + run.stderr


def test_a_provider_set_up_without_a_model_in_the_catalog_is_why_runs_are_simulated(tmp_path: Path) -> None:
    """`OLLAMA_BASE_URL` set (as the providers page says) but no ollama model in the catalog: `run` used the simulator
    and said "SIMULATED — no provider API key is set", and `models` "No provider is configured", neither naming the
    variable set for nothing; so too `OPENAI_API_KEY` with a catalog file of other models."""
    env = cli_env(OLLAMA_BASE_URL="http://127.0.0.1:9/v1")
    why = (
        "OLLAMA_BASE_URL is set, but the catalog has no ollama model: name its models in a catalog file (--catalog"
        " FILE)"
    )
    done = run_cli("run", "hi", "--max-iterations", "1", "--store", f"sqlite:///{tmp_path / 'r.db'}", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].endswith(f"SIMULATED — {why}; no real model is called")
    listed = run_cli("models", env=env)
    assert f"No provider is configured: `orchestratex run` uses the offline simulator ({why})." in listed.stdout
    (tmp_path / "models.toml").write_text(
        'include_default = false\n\n[[models]]\nname = "mystery:m1"\ncost_per_1k_tokens = 0.001\n\n'
        '[[models]]\nname = "mystery:m2"\ncost_per_1k_tokens = 0.001\n'
    )
    env = cli_env(OPENAI_API_KEY="sk-test")
    done = run_cli(
        "run", "hi", "--max-iterations", "1", "--catalog", str(tmp_path / "models.toml"),
        "--store", f"sqlite:///{tmp_path / 'r.db'}", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "SIMULATED — OPENAI_API_KEY is set, but the catalog has no openai model" in done.stdout.splitlines()[0]
    # with nothing set, as before
    done = run_cli("run", "hi", "--max-iterations", "1", "--store", f"sqlite:///{tmp_path / 'r.db'}")
    assert done.stdout.splitlines()[0].endswith("SIMULATED — no provider API key is set; no real model is called")
