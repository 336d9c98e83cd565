"""A base URL may carry a secret (a proxy's `user:password@`): errors, stored with a run, never show it."""

from __future__ import annotations

import httpx2
import pytest
from anthropic import AsyncAnthropic

from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import ProviderHTTPError
from orchestratex.providers import GenerationRequest, Message
from orchestratex_anthropic import AnthropicProvider

SECRET = "s3cr3t-Pa55"


def not_found(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(404, json={"type": "error", "error": {"type": "not_found_error", "message": "Not found"}})


async def test_anthropic_s_404_hint_hides_it_too() -> None:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(not_found))
    base = f"https://ada:{SECRET}@proxy.example/v1"  # ending in /v1: the hint names the URL tried
    provider = AnthropicProvider(client=AsyncAnthropic(api_key="k", base_url=base, http_client=client))
    model = ModelProfile(name="anthropic:claude-haiku-4-5", input_cost_per_1k=0.001, output_cost_per_1k=0.005)
    with pytest.raises(ProviderHTTPError) as info:
        await provider.generate(GenerationRequest(model=model, messages=[Message(role="user", content="Hi")]))
    assert "/v1/v1/messages" in str(info.value) and SECRET not in str(info.value)
