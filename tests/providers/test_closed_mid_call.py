"""A call under way when the program closes its provider (`await provider.aclose()`, as an app shutting down does):
the connection closed under it was reported as the server's doing, "the connection to anthropic at … was closed before
its answer came …: the server, or a proxy or load balancer before it, dropped the request", and retried. Each adapter
(OpenAI's through Ollama's, Anthropic's, Gemini's) now says its own aclose() cut it off, and does not retry it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

import orchestratex.providers
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import ProviderConnectionError
from orchestratex.providers import GenerationRequest, Message, Provider
from orchestratex.testing.provider_contract import silent_server

pytest.importorskip("orchestratex_openai")
pytest.importorskip("orchestratex_anthropic")
pytest.importorskip("orchestratex_gemini")

from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OllamaProvider

ADAPTERS: dict[str, tuple[ModelProfile, Callable[[str], Provider]]] = {
    "anthropic": (
        ModelProfile(name="anthropic:claude-x", input_cost_per_1k=0.003, output_cost_per_1k=0.015),
        lambda url: AnthropicProvider(api_key="sk-ant-test", base_url=url),
    ),
    "gemini": (
        ModelProfile(name="gemini:gemini-x", input_cost_per_1k=0.001, output_cost_per_1k=0.004),
        lambda url: GeminiProvider(api_key="AIza-test", base_url=url),
    ),
    "ollama": (
        ModelProfile(name="ollama:llama3.2", cost_per_1k_tokens=0),
        lambda url: OllamaProvider(base_url=f"{url}/v1"),
    ),
}


@pytest.fixture
def unanswering(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A server that takes each request and never answers it."""
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local socket, not the vendor
    with silent_server() as url:
        yield url


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@pytest.mark.parametrize("streamed", [False, True])
async def test_a_call_cut_off_by_the_provider_s_own_aclose_says_so(
    unanswering: str, adapter: str, streamed: bool
) -> None:
    model, make = ADAPTERS[adapter]
    provider = make(unanswering)
    request = GenerationRequest(model=model, messages=[Message(role="user", content="hi")], max_output_tokens=50)

    async def on_text(text: str) -> None:
        return None

    call = asyncio.ensure_future(provider.generate_stream(request, on_text) if streamed else provider.generate(request))
    for _ in range(200):  # (until the request is sent: the client is then in use)
        await asyncio.sleep(0.01)
        if provider._clients._bound:  # type: ignore[attr-defined]
            break
    await asyncio.sleep(0.2)
    await provider.aclose()
    with pytest.raises(ProviderConnectionError) as raised:
        await call
    assert "cut off by the provider's own aclose()" in str(raised.value), raised.value
    assert "dropped the request" not in str(raised.value) and not raised.value.retryable
