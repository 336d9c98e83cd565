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


KEY = "sk-ant-gw-Zq8mR2vT5xY7wK3pL9nB4cD6"


def quotes_the_key(request: httpx2.Request) -> httpx2.Response:
    """A gateway (`ANTHROPIC_BASE_URL`) that quotes the key it refuses (this one) in its error."""
    error = {"type": "authentication_error", "message": f"invalid x-api-key: {KEY}"}
    return httpx2.Response(401, json={"type": "error", "error": error})


async def test_a_key_the_gateway_quotes_in_its_error_is_shown_masked() -> None:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(quotes_the_key))
    provider = AnthropicProvider(api_key=KEY, base_url="https://gateway.example", http_client=client)
    model = ModelProfile(name="anthropic:claude-haiku-4-5", input_cost_per_1k=0.001, output_cost_per_1k=0.005)
    with pytest.raises(ProviderHTTPError) as info:
        await provider.generate(GenerationRequest(model=model, messages=[Message(role="user", content="Hi")]))
    assert info.value.status_code == 401 and "invalid x-api-key: ***" in str(info.value)
    assert KEY not in str(info.value) and KEY not in str(info.value.body)


async def test_a_key_quoted_where_a_long_page_is_cut_is_not_half_shown() -> None:
    """A gateway's error page (not JSON) is quoted cut to 300 characters: the key was masked after the cut, so a key
    the cut went through was left with its first characters shown."""

    def page(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(401, text="x" * 280 + f" refused key {KEY} " + "y" * 200)

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(page))
    provider = AnthropicProvider(api_key=KEY, base_url="https://gateway.example", http_client=client)
    model = ModelProfile(name="anthropic:claude-haiku-4-5", input_cost_per_1k=0.001, output_cost_per_1k=0.005)
    with pytest.raises(ProviderHTTPError) as info:
        await provider.generate(GenerationRequest(model=model, messages=[Message(role="user", content="Hi")]))
    assert info.value.status_code == 401 and "refused key ***" in str(info.value)
    assert KEY[:10] not in str(info.value) and KEY not in str(info.value.body)
