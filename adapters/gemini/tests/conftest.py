"""Real provider requests are blocked in these tests, except in the opt-in `live` tests, and the
developer's provider variables are hidden from every other test so results do not depend on them."""

from __future__ import annotations

import pytest

import orchestratex.providers

orchestratex.providers.ALLOW_MODEL_REQUESTS = False

_PROVIDER_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "OLLAMA_BASE_URL",
    "VLLM_BASE_URL",
    "VLLM_API_KEY",
    "LMSTUDIO_BASE_URL",
    "OPENROUTER_API_KEY",
    "OPENROUTER_BASE_URL",
)


@pytest.fixture(autouse=True)
def _hide_provider_variables(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("live") is None:
        for var in _PROVIDER_VARS:
            monkeypatch.delenv(var, raising=False)
