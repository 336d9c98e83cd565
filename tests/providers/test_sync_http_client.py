"""An `http_client=` that is a synchronous HTTP client (`httpx2.Client`, `httpx.Client`) is refused when the provider is
made, with a `UserError` naming the class to pass, as a synchronous SDK `client=` is. It failed with a raw `TypeError`
(the Anthropic SDK's telling to use `httpx2.Client`, another synchronous client) or, for Gemini, with two pydantic
validation errors of google-genai's `HttpOptions`."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import httpx2
import pytest

from orchestratex.exceptions import UserError
from orchestratex.providers import Provider
from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OllamaProvider, OpenAIProvider

ADAPTERS: list[tuple[type[Provider], str]] = [
    (OpenAIProvider, "an httpx2.AsyncClient"),
    (OllamaProvider, "an httpx2.AsyncClient"),
    (AnthropicProvider, "an httpx2.AsyncClient"),
    (GeminiProvider, "an httpx2.AsyncClient or httpx.AsyncClient"),
]


@pytest.mark.parametrize(("adapter", "takes"), ADAPTERS, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("sync_client", [httpx2.Client, httpx.Client], ids=["httpx2", "httpx"])
def test_a_synchronous_http_client_is_refused_naming_the_class_to_pass(
    adapter: type[Provider], takes: str, sync_client: Callable[[], httpx2.Client | httpx.Client]
) -> None:
    with sync_client() as given:
        with pytest.raises(UserError) as raised:
            adapter(api_key="test-key", http_client=given)  # type: ignore[call-arg]
    library = type(given).__module__.partition(".")[0]
    assert str(raised.value) == (
        f"{adapter.__name__}: http_client= takes {takes}, not {library}.Client (a synchronous HTTP client, which the"
        " SDK's async client cannot send through)"
    )


@pytest.mark.parametrize(("adapter", "takes"), ADAPTERS, ids=lambda v: getattr(v, "__name__", ""))
async def test_an_async_http_client_is_taken(adapter: type[Provider], takes: str) -> None:
    async with httpx2.AsyncClient() as given:
        provider = adapter(api_key="test-key", http_client=given)  # type: ignore[call-arg]
        await provider.aclose()


async def test_an_httpx_async_client_is_refused_by_the_adapter_whose_sdk_takes_httpx2_only() -> None:
    """The Anthropic SDK sends through httpx2 only: an `httpx.AsyncClient`, the one most code has, failed with the SDK's
    raw `TypeError`."""
    async with httpx.AsyncClient() as given:
        with pytest.raises(UserError) as raised:
            AnthropicProvider(api_key="test-key", http_client=given)  # type: ignore[arg-type]
    assert str(raised.value) == "AnthropicProvider: http_client= takes an httpx2.AsyncClient, not httpx.AsyncClient"


@pytest.mark.parametrize(("adapter", "takes"), ADAPTERS, ids=lambda v: getattr(v, "__name__", ""))
def test_an_object_that_is_no_http_client_is_refused_naming_the_class_to_pass(
    adapter: type[Provider], takes: str
) -> None:
    """A URL given as `http_client=` (meant for `base_url=`) failed with a raw `TypeError`, or, for Gemini, with two
    pydantic validation errors."""
    with pytest.raises(UserError) as raised:
        adapter(api_key="test-key", http_client="http://localhost:11434/v1")  # type: ignore[call-arg]
    assert str(raised.value) == f"{adapter.__name__}: http_client= takes {takes}, not str"
