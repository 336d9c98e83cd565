"""`ORCHESTRATEX_PROVIDER_TIMEOUT_S` is the `timeout` of the providers configured by environment variables alone
(`OLLAMA_BASE_URL`, `OPENAI_BASE_URL`, a key). A catalog endpoint takes `timeout` in its table, but a local model
served through `OLLAMA_BASE_URL` had no way to wait longer than the adapter's 120 s: on a CPU, every long unstreamed
answer timed out and was retried, each attempt the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import ConfigurationError, ProviderTimeout
from orchestratex.providers import GenerationRequest, Message

from .test_openai_endpoint_timeout import slow_server

__all__ = ["slow_server"]  # (the fixture, shared)


def _catalog(tmp_path: Path) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(
        'include_default = false\n\n[[models]]\nname = "ollama:llama3.2"\ncost_per_1k_tokens = 0\n\n'
        '[[models]]\nname = "ollama:qwen3"\ncost_per_1k_tokens = 0\n',
        encoding="utf-8",
    )
    return path


async def _ask(orchestrator: Orchestrator) -> str:
    request = GenerationRequest(
        model=orchestrator.catalog.get("ollama:llama3.2"),
        messages=[Message(role="user", content="Hi")],
        max_output_tokens=8,
    )
    try:
        return (await orchestrator.providers["ollama"].generate(request)).text
    finally:
        await orchestrator.aclose()


async def test_the_variable_is_the_time_limit_of_a_provider_set_by_its_base_url(
    tmp_path: Path, slow_server: str
) -> None:
    env = {"OLLAMA_BASE_URL": slow_server, "ORCHESTRATEX_PROVIDER_TIMEOUT_S": "0.25"}
    with pytest.raises(ProviderTimeout, match=r"^ollama at http://127\.0\.0\.1:\d+/v1 did not answer in 0\.25 s"):
        await _ask(Orchestrator(catalog=_catalog(tmp_path), env=env))
    env["ORCHESTRATEX_PROVIDER_TIMEOUT_S"] = " 600 "  # (an env file's space around it)
    assert await _ask(Orchestrator(catalog=_catalog(tmp_path), env=env)) == "Hi!"


@pytest.mark.parametrize("value", ["0", "-5", "ten", "nan", "inf", "10s"])
def test_a_value_that_is_no_number_of_seconds_is_refused_naming_the_variable(tmp_path: Path, value: str) -> None:
    env = {"OLLAMA_BASE_URL": "http://localhost:11434/v1", "ORCHESTRATEX_PROVIDER_TIMEOUT_S": value}
    with pytest.raises(
        ConfigurationError, match=rf"^ORCHESTRATEX_PROVIDER_TIMEOUT_S must be a number of seconds > 0 .*not '{value}'$"
    ):
        Orchestrator(catalog=_catalog(tmp_path), env=env)
