"""A server the adapter cannot reach (or that does not answer in time) is named by its base URL: "cannot reach openai:
All connection attempts failed" said nothing of the Ollama `OPENAI_BASE_URL` pointed at, and read as OpenAI's own API
being down (`/v1` clients of the server and `orchestratex run` showed it as the run's last failure)."""

from __future__ import annotations

import httpx2
import pytest

import orchestratex.providers
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import ProviderConnectionError, ProviderTimeout
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply, local_server
from orchestratex_openai import OllamaProvider, OpenAIProvider

LOCAL = ModelProfile(name="openai:llama3.2", cost_per_1k_tokens=0, context_window=4096)


def _ask(model: ModelProfile) -> GenerationRequest:
    return GenerationRequest(model=model, messages=[Message(role="user", content="hi")], max_output_tokens=20)


async def _ignore(text: str) -> None:
    return None


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_server_that_cannot_be_reached_is_named_by_its_base_url(streamed: bool) -> None:
    server = MockServer().always(Reply(fail="connect"))
    provider = OpenAIProvider(
        base_url="http://localhost:11434/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    with pytest.raises(ProviderConnectionError) as raised:
        if streamed:
            await provider.generate_stream(_ask(LOCAL), _ignore)
        else:
            await provider.generate(_ask(LOCAL))
    assert "cannot reach openai at http://localhost:11434/v1: " in str(raised.value)


async def test_the_named_base_url_hides_its_password_and_a_timeout_names_it_too() -> None:
    server = MockServer().always(Reply(fail="timeout"))
    provider = OllamaProvider(
        base_url="https://bob:hunter2@ollama.example.com/v1",
        http_client=httpx2.AsyncClient(transport=server.httpx2_transport()),
    )
    model = ModelProfile(name="ollama:llama3.2", cost_per_1k_tokens=0, context_window=4096)
    with pytest.raises(ProviderTimeout) as raised:
        await provider.generate(_ask(model))
    assert "ollama at https://bob:***@ollama.example.com/v1 did not answer in time" in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_redirect_loop_is_said_and_not_retried(monkeypatch: pytest.MonkeyPatch, streamed: bool) -> None:
    """A base URL whose server redirects to itself (a gateway behind a load balancer sending http to https and back)
    was "cannot reach openai at …: Exceeded maximum allowed redirects.", retried as a passing connection error."""
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not the vendor
    loop = Reply(307, headers={"location": "/v1/chat/completions"})
    with local_server(lambda body: loop) as url:
        provider = OllamaProvider(base_url=f"{url}/v1")
        with pytest.raises(ProviderConnectionError, match=r"redirected the request again and again") as raised:
            if streamed:
                await provider.generate_stream(_ask(LOCAL), _ignore)
            else:
                await provider.generate(_ask(LOCAL))
        await provider.aclose()
    assert f"ollama at {url}/v1 redirected" in str(raised.value) and "check the base URL" in str(raised.value)
    assert not raised.value.retryable
