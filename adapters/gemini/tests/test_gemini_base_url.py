"""A base URL every call would fail with is refused when the provider is made, naming where it came from."""

from __future__ import annotations

import httpx2
import pytest
from pydantic import HttpUrl

from orchestratex import Orchestrator
from orchestratex.exceptions import ConfigurationError
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex_gemini import GeminiProvider

from .test_gemini_provider import body, request

BAD = [
    ("http:/localhost:4000", "names no host: write the scheme, '://' and the server's host"),  # (a slash short)
    ("localhost:4000", "is not an http:// or https:// URL: write it whole, e.g. http://localhost:4000"),
    ("https://gw.example/gemini ", "has white space at an end: remove it: write 'https://gw.example/gemini'"),
    ("https://gw.example/gemini\r", "has white space at an end"),  # (a `.env` file written on Windows)
]


@pytest.mark.parametrize(("url", "said"), BAD)
def test_a_bad_gemini_base_url_variable_is_refused_when_the_orchestrator_is_made(
    monkeypatch: pytest.MonkeyPatch, url: str, said: str
) -> None:
    """`GOOGLE_GEMINI_BASE_URL=localhost:4000` (a gateway's host and port) was taken: every call then failed as a
    retried `ProviderConnectionError` "Request URL is missing an 'http://' or 'https://' protocol", model after model,
    and a trailing space was sent as `…/gemini%20/v1/models/…` (a 404), while `OPENAI_BASE_URL` was refused at once.
    It is now refused when the provider is made, as that one is."""
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-test")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", url)
    with pytest.raises(ConfigurationError) as raised:
        Orchestrator()
    assert "(GOOGLE_GEMINI_BASE_URL)" in str(raised.value) and said in str(raised.value)
    with pytest.raises(ConfigurationError, match=r"\(GOOGLE_GEMINI_BASE_URL\)"):
        GeminiProvider.from_env({"GEMINI_API_KEY": "AIza-test", "GOOGLE_GEMINI_BASE_URL": url})
    with pytest.raises(ConfigurationError, match=r"\(base_url\)"):
        GeminiProvider(api_key="AIza-test", base_url=url)


def test_a_good_base_url_and_its_password_are_kept_out_of_the_refusal() -> None:
    assert GeminiProvider(api_key="k", base_url="http://localhost:4000").base_url == "http://localhost:4000"
    with pytest.raises(ConfigurationError) as raised:
        GeminiProvider(api_key="k", base_url="user:secret@proxy.example")
    assert "secret" not in str(raised.value)


@pytest.mark.parametrize("url", [HttpUrl("http://gw.example:4000/gemini"), httpx2.URL("http://gw.example:4000/gemini")])
async def test_a_base_url_that_is_a_url_object_is_taken_as_its_text(url: object) -> None:
    """A pydantic `HttpUrl` (an app's settings hold URLs so), which the OpenAI and Anthropic adapters take, failed
    `GeminiProvider(base_url=...)` with a bare TypeError: 'HttpUrl' object is not iterable."""
    server = MockServer().always(Reply(200, json=body()))
    client = httpx2.AsyncClient(transport=server.httpx2_transport())
    provider = GeminiProvider(api_key="AIza-test", base_url=url, http_client=client)  # type: ignore[arg-type]
    assert provider.base_url.startswith("http://gw.example:4000/gemini")
    assert (await provider.generate(request())).text == "ok"
    assert str(server.requests[0].url).startswith("http://gw.example:4000/gemini/")
