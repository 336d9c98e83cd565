"""A server that takes the request and then closes or resets the connection before any answer (a local model server
crashing as it loads a model, a load balancer's reset): it failed as "cannot reach ollama at …: " with nothing after
the colon (httpx's `ReadError` has no message), or as "cannot reach …: Server disconnected without sending a
response.", read as the server being down or mistyped, though it had been reached. It now says the connection was
closed before the answer came (still a `ProviderConnectionError`, retried)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator

import pytest

import orchestratex.providers
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import ProviderConnectionError
from orchestratex.providers import GenerationRequest, Message, Provider
from orchestratex.testing.provider_contract import silent_server
from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OllamaProvider

from .test_cut_mid_body import _read_request

ADAPTERS: dict[str, Callable[[str], Provider]] = {
    "ollama": lambda url: OllamaProvider(base_url=f"{url}/v1"),
    "anthropic": lambda url: AnthropicProvider(api_key="sk-ant-test", base_url=url),
    "gemini": lambda url: GeminiProvider(api_key="AIza-test", base_url=url),
}
REASONS = {
    "reset": ("ReadError, no reason given", "[Errno 104] Connection reset by peer"),  # (httpx's, aiohttp's)
    "closed": ("Server disconnected without sending a response.", "Server disconnected"),
}
"""What each HTTP library says of a reset or of a connection closed (google-genai sends through aiohttp when it is
installed)."""


@pytest.fixture(params=["reset", "closed"])
def dropping(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A server reading each request whole, then resetting the connection (`SO_LINGER` 0: an RST) or closing it."""
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not a provider

    def drop(conn: socket.socket) -> None:
        _read_request(conn)
        if request.param == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    with silent_server(drop) as url:
        yield request.param, url


@pytest.mark.parametrize("name", sorted(ADAPTERS))
async def test_a_connection_dropped_before_the_answer_is_not_said_to_be_unreachable(
    dropping: tuple[str, str], name: str
) -> None:
    how, url = dropping
    provider = ADAPTERS[name](url)
    model = ModelProfile(name=f"{name}:m", input_cost_per_1k=0.001, output_cost_per_1k=0.002)
    request = GenerationRequest(model=model, messages=[Message(role="user", content="Hi")], max_output_tokens=16)
    with pytest.raises(ProviderConnectionError) as raised:
        await provider.generate(request)
    await provider.aclose()
    message = str(raised.value)
    assert message.startswith(f"the connection to {name} at http://127.0.0.1:"), message
    _, _, rest = message.partition(" was closed before its answer came (")
    reason, _, hint = rest.partition("): the server, or a proxy or load balancer before it, dropped the request")
    assert hint, message
    assert reason in REASONS[how], message
    assert "cannot reach" not in message and raised.value.retryable and raised.value.model == model.name
