"""OpenRouter passes an upstream provider's refusal on as "Provider returned error", the upstream's own answer in
`metadata.raw` (its documented `ProviderErrorMetadata`): the error said only "openrouter error (400): Provider returned
error", not what the upstream refused."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import ProviderHTTPError
from orchestratex.providers import GenerationRequest, Message
from orchestratex_openai import OpenRouterProvider

MODEL = ModelProfile(name="openrouter:openai/gpt-5", input_cost_per_1k=0.00125, output_cost_per_1k=0.01)
REFUSAL = {
    "error": {
        "message": "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 10"
        " instead.",
        "type": "invalid_request_error",
        "param": "max_output_tokens",
        "code": "integer_below_min_value",
    }
}


@pytest.mark.parametrize(
    ("metadata", "said"),
    [
        (
            {"raw": json.dumps(REFUSAL, indent=2), "provider_name": "Azure"},
            "openrouter error (400): Provider returned error (Azure: Invalid 'max_output_tokens': integer below"
            " minimum value. Expected a value >= 16, but got 10 instead.)",
        ),
        (
            {"raw": "upstream connect error or disconnect/reset before headers", "provider_name": None},
            "openrouter error (400): Provider returned error (upstream connect error or disconnect/reset before"
            " headers)",
        ),
        ({}, "openrouter error (400): Provider returned error"),
    ],
)
async def test_the_upstream_s_words_are_in_the_error(metadata: dict[str, Any], said: str) -> None:
    error = {"message": "Provider returned error", "code": 400, "metadata": metadata}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(400, json={"error": error, "user_id": "user_1"})

    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    request = GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hi")], max_output_tokens=10)
    with pytest.raises(ProviderHTTPError) as raised:
        await provider.generate(request)
    assert str(raised.value) == said
