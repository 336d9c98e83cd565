"""One real call to Gemini, skipped unless GEMINI_API_KEY or GOOGLE_API_KEY is set (`pytest -m live`)."""

from __future__ import annotations

import os

import pytest

import orchestratex.providers
from orchestratex.catalog import ModelCatalog
from orchestratex.providers import GenerationRequest, Message
from orchestratex_gemini import GeminiProvider


@pytest.mark.live
@pytest.mark.skipif(
    not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")), reason="no Gemini API key is set"
)
async def test_live_gemini_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)
    model = ModelCatalog.default().get("gemini:gemini-4-hydrogen")
    request = GenerationRequest(
        model=model, messages=[Message(role="user", content="Reply with the word: pong")], max_output_tokens=16
    )
    async with GeminiProvider.from_env() as provider:
        generation = await provider.generate(request)
    assert "pong" in generation.text.lower()
    assert generation.usage.input_tokens > 0 and generation.usage.output_tokens > 0
    assert generation.cost == model.cost(generation.usage) > 0
