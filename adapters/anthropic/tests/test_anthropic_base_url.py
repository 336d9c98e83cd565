"""A base URL every call would fail with is refused when the provider is made, naming where it came from."""

from __future__ import annotations

import httpx2
import pytest

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog
from orchestratex.exceptions import ConfigurationError
from orchestratex.providers import GenerationRequest, Message
from orchestratex_anthropic import AnthropicProvider

BAD = [
    ("http:/localhost:4000", "names no host: write the scheme, '://' and the server's host"),  # (a slash short)
    ("localhost:4000", "is not an http:// or https:// URL: write it whole, e.g. http://localhost:4000"),
    ("https://gw.example/anthropic ", "has white space at an end: remove it: write 'https://gw.example/anthropic'"),
    ("https://gw.example/anthropic\r", "has white space at an end"),  # (a `.env` file written on Windows)
]


@pytest.mark.parametrize(("url", "said"), BAD)
def test_a_bad_anthropic_base_url_variable_is_refused_when_the_orchestrator_is_made(
    monkeypatch: pytest.MonkeyPatch, url: str, said: str
) -> None:
    """`ANTHROPIC_BASE_URL=localhost:4000` (a LiteLLM proxy's host and port) was taken: every call then failed as a
    retried `ProviderConnectionError` "Request URL has an unsupported protocol 'localhost://'", model after model, and
    a trailing space (`…/anthropic%20/v1/messages`, a 404) or line break (a raw `httpx2.InvalidURL`) likewise, while
    `OPENAI_BASE_URL` was refused at once. It is now refused when the provider is made, as that one is."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    with pytest.raises(ConfigurationError) as raised:
        Orchestrator()
    assert "(ANTHROPIC_BASE_URL)" in str(raised.value) and said in str(raised.value)
    with pytest.raises(ConfigurationError, match=r"\(ANTHROPIC_BASE_URL\)"):
        AnthropicProvider.from_env({"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": url})
    with pytest.raises(ConfigurationError, match=r"\(base_url\)"):
        AnthropicProvider(api_key="sk-ant-test", base_url=url)


def test_a_good_base_url_and_its_password_are_kept_out_of_the_refusal() -> None:
    assert AnthropicProvider(api_key="k", base_url="http://localhost:4000").base_url == "http://localhost:4000"
    with pytest.raises(ConfigurationError) as raised:
        AnthropicProvider(api_key="k", base_url="user:secret@proxy.example")
    assert "secret" not in str(raised.value)


async def test_a_base_url_with_a_query_string_keeps_it_on_every_request() -> None:
    """A gateway written with its query (`ANTHROPIC_BASE_URL=https://gateway.example/anthropic?api-version=1`, a key
    or a route in the query): the SDK joined `/v1/messages` after the query, so every call went to the gateway's root
    with `api-version=1/v1/messages` (a 404 there). The query is now sent with every request, after the path."""
    sent: list[httpx2.URL] = []

    def gateway(request: httpx2.Request) -> httpx2.Response:
        sent.append(request.url)
        if request.url.path != "/anthropic/v1/messages":
            return httpx2.Response(404, text="404 page not found")
        usage = {"input_tokens": 9, "output_tokens": 2}
        content = [{"type": "text", "text": "Hi!"}]
        body = {"id": "m", "type": "message", "role": "assistant", "model": "claude-haiku-5-5", "content": content}
        return httpx2.Response(200, json={**body, "stop_reason": "end_turn", "stop_sequence": None, "usage": usage})

    provider = AnthropicProvider(
        api_key="sk-ant-test",
        base_url="https://gateway.example/anthropic?api-version=1&route=claude",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(gateway)),
    )
    model = ModelCatalog.default().get("anthropic:claude-haiku-5-5")
    ask = GenerationRequest(model=model, messages=[Message(role="user", content="Hello")], max_output_tokens=20)
    assert (await provider.generate(ask)).text == "Hi!"
    assert sent[0].path == "/anthropic/v1/messages" and dict(sent[0].params) == {"api-version": "1", "route": "claude"}
    assert provider.base_url == "https://gateway.example/anthropic/"


def test_a_base_url_given_as_an_httpx_url_is_taken() -> None:
    """The SDK takes `base_url` as a string or an `httpx2.URL`; so does the provider's check."""
    provider = AnthropicProvider(api_key="k", base_url=httpx2.URL("https://gateway.example/anthropic"))  # type: ignore[arg-type]
    assert provider.base_url == "https://gateway.example/anthropic/"
