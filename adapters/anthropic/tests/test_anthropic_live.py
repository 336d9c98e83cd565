"""One real call to Anthropic, skipped unless ANTHROPIC_API_KEY is set (`pytest -m live`)."""

from __future__ import annotations

import os

import pytest

import orchestratex.providers
from orchestratex.catalog import ModelCatalog
from orchestratex.providers import GenerationRequest, Message
from orchestratex_anthropic import AnthropicProvider


@pytest.mark.live
@pytest.mark.skipif(not os.environ.get("ANTHROPIC_API_KEY"), reason="ANTHROPIC_API_KEY is not set")
async def test_live_anthropic_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)
    model = ModelCatalog.default().get("anthropic:claude-haiku-5-5")
    request = GenerationRequest(
        model=model, messages=[Message(role="user", content="Reply with the word: pong")], max_output_tokens=16
    )
    async with AnthropicProvider.from_env() as provider:
        generation = await provider.generate(request)
    assert "pong" in generation.text.lower()
    assert generation.usage.input_tokens > 0 and generation.usage.output_tokens > 0
    assert generation.cost == model.cost(generation.usage) > 0
