"""OpenAI's own server, however its URL is written, needs a key.

`OPENAI_BASE_URL=https://eu.api.openai.com/v1` (OpenAI's European data-residency endpoint) or `https://API.openai.com/v1`
without `OPENAI_API_KEY` was compared as text with `https://api.openai.com/v1`, taken for a server of one's own that
needs no key: the provider counted as configured (`orchestratex models`: `✔ openai: configured`), and `run` sent every
call with the key "unused", refused 401 on every OpenAI model, instead of saying a key is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from orchestratex.exceptions import ProviderNotConfigured
from orchestratex_openai import OllamaProvider, OpenAIProvider, OpenRouterProvider

OWN = [
    "https://eu.api.openai.com/v1",
    "https://API.openai.com/v1",
    "https://api.openai.com/v1/",
    "https://api.openai.com",
]


@pytest.mark.parametrize("url", OWN)
def test_openai_s_own_server_needs_a_key(url: str) -> None:
    assert not OpenAIProvider.is_configured({"OPENAI_BASE_URL": url})
    with pytest.raises(ProviderNotConfigured, match="set OPENAI_API_KEY"):
        OpenAIProvider.from_env({"OPENAI_BASE_URL": url})
    with pytest.raises(ProviderNotConfigured, match="set OPENAI_API_KEY"):
        OpenAIProvider(base_url=url)
    assert OpenAIProvider.is_configured({"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-test"})


def test_other_servers_are_as_before() -> None:
    assert OpenAIProvider.is_configured({"OPENAI_BASE_URL": "http://localhost:11434/v1"})
    assert not OpenRouterProvider.is_configured({"OPENROUTER_BASE_URL": "https://OpenRouter.ai/api/v1/"})
    assert OllamaProvider.is_configured({"OLLAMA_BASE_URL": "http://gpu-box:11434/v1"})


def test_models_says_no_key() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env = {k: v for k, v in env.items() if not k.startswith("ORCHESTRATEX_")}
    env["OPENAI_BASE_URL"] = "https://eu.api.openai.com/v1"
    command = [sys.executable, "-m", "orchestratex", "models"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "✘ openai: no key (set OPENAI_API_KEY)", done.stdout
