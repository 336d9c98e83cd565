"""`orchestratex run --catalog FILE --provider NAME`: the run uses the endpoints named, whatever the file's other
endpoints need."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestratex.testing.provider_contract import Reply, local_server

from .conftest import cli_env, run_cli

pytest.importorskip("orchestratex_openai")

CATALOG = """
include_default = false

[providers.ollama]
kind = "openai"
base_url = "{base}/v1"

[providers.openrouter]
kind = "openai"
base_url = "https://openrouter.ai/api/v1"
api_key_env = "OPENROUTER_API_KEY"

[[models]]
name = "ollama:llama3.2"
cost_per_1k_tokens = 0

[[models]]
name = "ollama:qwen2.5"
cost_per_1k_tokens = 0

[[models]]
name = "openrouter:meta-llama/llama-3.3-70b-instruct"
input_cost_per_1k = 0.00013
output_cost_per_1k = 0.0004
"""


def _reply(sent: dict[str, Any]) -> Reply:
    judging = "strict, fair reviewer" in json.dumps(sent["messages"])
    content = '{"score": 9, "feedback": "fine"}' if judging else "Hello from a local model."
    return Reply(
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": sent["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    )


def test_an_endpoint_left_out_by_provider_needs_no_key(tmp_path: Path, store_url: str) -> None:
    """A file of a local server and of OpenRouter, whose key is not set: `--provider ollama` runs on the local models
    alone. It was refused, "provider 'openrouter' of models.toml needs an API key", and no option ran the file's
    local models without a key the run would not use."""
    with local_server(_reply) as base:
        (tmp_path / "models.toml").write_text(CATALOG.format(base=base))
        catalog = str(tmp_path / "models.toml")
        env = cli_env()
        done = run_cli(
            "run", "hi", "--catalog", catalog, "--provider", "ollama", "--json", "--store", store_url, env=env
        )
        assert done.returncode == 0, done.stderr
        ran = json.loads(done.stdout)
        assert ran["status"] == "completed" and ran["final_response"] == "Hello from a local model."
        assert {it["model_name"] for it in ran["iterations_detail"]} <= {"ollama:llama3.2", "ollama:qwen2.5"}

        # `models` says so, beside the endpoint `run` would refuse without it
        shown = run_cli("models", "--catalog", catalog, env=env)
        assert (
            "`orchestratex run` refuses this catalog file until openrouter can be used (see ✘ above), or runs with"
            " --provider ollama, which leaves the others out." in shown.stdout
        )

        # named, the endpoint without its key is refused, as it was
        done = run_cli(
            "run", "hi", "--catalog", catalog, "--provider", "ollama,openrouter", "--store", store_url, env=env
        )
        assert done.returncode == 2 and done.stdout == ""
        assert "openrouter" in done.stderr and "OPENROUTER_API_KEY" in done.stderr
        # so is the file, when no provider is named: the error names the --provider that leaves it out
        done = run_cli("run", "hi", "--catalog", catalog, "--store", store_url, env=env)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.splitlines() == [
            f"orchestratex: error: provider 'openrouter' of {catalog} needs an API key: set OPENROUTER_API_KEY; or"
            " leave openrouter out of the run: --provider ollama"
        ]


_LOCAL_AND_PAID = """
include_default = false

[providers.ollama]
kind = "openai"
base_url = "{base}/v1"

[providers.paid]
kind = "openai"
base_url = "{base}/v1"
api_key_env = "PAID_API_KEY"

[[models]]
name = "ollama:llama3.2"
cost_per_1k_tokens = 0
{second}
[[models]]
name = "paid:big-judge"
input_cost_per_1k = 0.01
output_cost_per_1k = 0.03
quality = 9.5
"""


def test_the_providers_named_alone_judge(tmp_path: Path, store_url: str) -> None:
    """`--provider ollama` of a file naming a paid endpoint too, whose key was set: the answer of a local model was
    judged by the paid one — sent to, and paid to, a provider the command had left out —, while a run with the shipped
    catalog is judged by the providers named alone. It is now judged by another local model; with only one, the run
    is refused, saying which option lets the other provider judge."""
    asked: list[str] = []

    def reply(sent: dict[str, Any]) -> Reply:
        asked.append(sent["model"])
        return _reply(sent)

    env = cli_env(PAID_API_KEY="sk-paid")
    with local_server(reply) as base:
        second = '[[models]]\nname = "ollama:qwen2.5"\ncost_per_1k_tokens = 0\n'
        (tmp_path / "models.toml").write_text(_LOCAL_AND_PAID.format(base=base, second=second))
        catalog = str(tmp_path / "models.toml")
        done = run_cli(
            "run", "hi", "--catalog", catalog, "--provider", "ollama", "--json", "--store", store_url, env=env
        )
        assert done.returncode == 0, done.stderr
        ran = json.loads(done.stdout)
        judges = [v["judge_model"] for it in ran["iterations_detail"] for v in it["evaluation"]["verdicts"]]
        assert judges and set(judges) <= {"ollama:llama3.2", "ollama:qwen2.5"}, judges
        assert "big-judge" not in asked and ran["total_cost"] == 0

        (tmp_path / "one.toml").write_text(_LOCAL_AND_PAID.format(base=base, second=""))
        one = str(tmp_path / "one.toml")
        done = run_cli("run", "hi", "--catalog", one, "--provider", "ollama", "--store", store_url, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("orchestratex: error: no model can judge the answers of ollama:llama3.2"), done.stderr
    assert done.stderr.rstrip().endswith(
        "; --provider ollama leaves out paid, whose models could judge (only the models of the providers named"
        " judge a run's answers): --provider ollama,paid"
    ), done.stderr
    assert "big-judge" not in asked
