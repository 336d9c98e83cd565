"""A local server's provider (Ollama, vLLM, LM Studio) without its base-URL variable says to set that variable.

`VLLMProvider.from_env()` said "vllm: no API key; set VLLM_API_KEY (or pass api_key=)": a user who set the key, as
told, got the same error, since vLLM is configured by `VLLM_BASE_URL` (its key is optional); Ollama's said "no API
key; … (or pass api_key=)" of a server that takes none. `orchestratex run --provider ollama` said "no key".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestratex.exceptions import ProviderNotConfigured
from orchestratex_openai import LMStudioProvider, OllamaProvider, OpenAIProvider, OpenRouterProvider, VLLMProvider


@pytest.mark.parametrize(
    ("cls", "said"),
    [
        (OllamaProvider, "ollama: no server; set OLLAMA_BASE_URL (or pass base_url=), e.g. http://localhost:11434/v1"),
        (VLLMProvider, "vllm: no server; set VLLM_BASE_URL (or pass base_url=), e.g. http://localhost:8000/v1"),
        (
            LMStudioProvider,
            "lmstudio: no server; set LMSTUDIO_BASE_URL (or pass base_url=), e.g. http://localhost:1234/v1",
        ),
        (OpenRouterProvider, "openrouter: no API key; set OPENROUTER_API_KEY (or pass api_key=)"),
        (OpenAIProvider, "openai: no API key; set OPENAI_API_KEY (or pass api_key=)"),
    ],
)
def test_the_error_names_what_configures_the_provider(cls: type[OpenAIProvider], said: str) -> None:
    with pytest.raises(ProviderNotConfigured) as caught:
        cls.from_env({"VLLM_API_KEY": "token"})
    assert str(caught.value) == said
    assert caught.value.env_var is not None and caught.value.env_var in said


def test_the_cli_says_to_set_the_server(tmp_path: Path) -> None:
    catalog = tmp_path / "models.toml"
    catalog.write_text(
        '[[models]]\nname = "ollama:llama3.2"\ncost_per_1k_tokens = 0\n\n'
        '[[models]]\nname = "ollama:qwen3"\ncost_per_1k_tokens = 0\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env = {k: v for k, v in env.items() if not k.startswith("ORCHESTRATEX_")}
    command = [sys.executable, "-m", "orchestratex", "run", "Hi", "--provider", "ollama", "--catalog", str(catalog)]
    done = subprocess.run([*command, "--store", "memory://"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "provider 'ollama' cannot be used: no server (set OLLAMA_BASE_URL)" in done.stderr, done.stderr
