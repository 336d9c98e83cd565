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
