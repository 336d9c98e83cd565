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
