"""A blank API key (`OPENAI_API_KEY=" "`, as an env file's `KEY= ` or a secret store's empty field leaves it) configures
nothing, as an empty one does.

Counted as set, it showed `✔ openai: configured` and the models `ready` in `orchestratex models`, and `run` then failed
"no API key" instead of falling back to the simulator (or to the providers that are configured); a blank
`GOOGLE_API_KEY` beside a real `GEMINI_API_KEY` hid the real key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orchestratex.exceptions import ProviderNotConfigured
from orchestratex.providers import Provider, providers_from_env

pytest.importorskip("orchestratex_openai")
pytest.importorskip("orchestratex_anthropic")
pytest.importorskip("orchestratex_gemini")

from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OpenAIProvider, OpenRouterProvider

BLANKS = ["   ", "\n", " \t\r\n"]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env = {k: v for k, v in env.items() if not k.startswith("ORCHESTRATEX_")}
    return {**env, "ORCHESTRATEX_SIM_LATENCY_SCALE": "0", **extra}


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "orchestratex", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("var", ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"])
def test_models_and_run_take_a_blank_key_as_no_key(var: str) -> None:
    env = cli_env(**{var: "  "})
    done = run_cli("models", env=env)
    assert done.returncode == 0, done.stderr
    assert ": configured" not in done.stdout, done.stdout
    listed = json.loads(run_cli("models", "--json", env=env).stdout)
    assert listed["simulated"] is True
    run = run_cli("run", "What is RAID 5?", "--max-iterations", "1", "--store", "memory://", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no API key" not in run.stderr
    assert "simulat" in (run.stdout + run.stderr).lower()


@pytest.mark.parametrize("blank", BLANKS)
def test_providers_take_a_blank_key_as_no_key(blank: str) -> None:
    providers: list[tuple[type[Provider], str]] = [
        (OpenAIProvider, "OPENAI_API_KEY"),
        (AnthropicProvider, "ANTHROPIC_API_KEY"),
        (GeminiProvider, "GEMINI_API_KEY"),
        (GeminiProvider, "GOOGLE_API_KEY"),
        (OpenRouterProvider, "OPENROUTER_API_KEY"),
    ]
    for cls, var in providers:
        env = {var: blank}
        assert not cls.is_configured(env), (cls, var)
        with pytest.raises(ProviderNotConfigured):
            cls.from_env(env)
    assert providers_from_env(["openai", "anthropic", "gemini"], {"ANTHROPIC_API_KEY": blank}) == {}


def test_a_blank_google_api_key_does_not_hide_a_gemini_api_key() -> None:
    provider = GeminiProvider.from_env({"GOOGLE_API_KEY": " ", "GEMINI_API_KEY": "AIza-test"})
    assert isinstance(provider, GeminiProvider)


def test_a_blank_base_url_variable_is_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ANTHROPIC_BASE_URL= ` (blank) is left out as an empty one is: the default server, not "has white space"."""
    provider = AnthropicProvider.from_env({"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": " "})
    assert provider.base_url.startswith("https://api.anthropic.com")
    monkeypatch.setenv("OPENAI_BASE_URL", "  ")
    assert OpenAIProvider(api_key="sk-test").base_url == "https://api.openai.com/v1/"
