"""An unstreamed answer whose connection was closed after its status, before the end of its body (a proxy or a load
balancer dropping it, a server restarting): it failed as "cannot reach openai at …: peer closed connection without
sending complete message body", read as the server being down, though it had answered. It now says the connection broke
while the answer was read (still a `ProviderConnectionError`, retried), as a stream cut mid-answer says."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Callable, Iterator

import pytest

import orchestratex.providers
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import ProviderConnectionError
from orchestratex.providers import GenerationRequest, Message, Provider
from orchestratex.testing.provider_contract import silent_server
from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OpenAIProvider


@pytest.fixture
def cut_mid_body(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A server answering 200 with a body announced as 500 bytes, closing the connection after 17 of them."""
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not a provider

    def answer(conn: socket.socket) -> None:
        _read_request(conn)
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n"
        conn.sendall(head + b'{"id": "x", "choi')
        conn.shutdown(socket.SHUT_WR)  # (the end of the body, cut: never a reset the client could read first)

    with silent_server(answer) as url:
        yield url


def _read_request(conn: socket.socket) -> None:
    """The whole request, its body too: a socket closed with some of it unread is reset, and the client may see that
    reset ("cannot reach …") before the answer's first bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


ADAPTERS: dict[str, Callable[[str], Provider]] = {
    "openai": lambda url: OpenAIProvider(api_key="sk-test", base_url=f"{url}/v1"),
    "anthropic": lambda url: AnthropicProvider(api_key="sk-ant-test", base_url=url),
    "gemini": lambda url: GeminiProvider(api_key="AIza-test", base_url=url),
}


@pytest.mark.parametrize("name", sorted(ADAPTERS))
async def test_a_body_cut_after_the_status_is_not_said_to_be_unreachable(cut_mid_body: str, name: str) -> None:
    provider = ADAPTERS[name](cut_mid_body)
    model = ModelProfile(name=f"{name}:m", input_cost_per_1k=0.001, output_cost_per_1k=0.002)
    request = GenerationRequest(model=model, messages=[Message(role="user", content="Hi")], max_output_tokens=16)
    with pytest.raises(ProviderConnectionError) as raised:
        await provider.generate(request)
    await provider.aclose()
    message = str(raised.value)
    assert message.startswith(f"the connection to {name} at http://127.0.0.1:"), message
    words = (
        "Response payload is not completed"  # (aiohttp's, through which google-genai sends when it is installed)
        if name == "gemini" and importlib.util.find_spec("aiohttp") is not None
        else "peer closed connection without sending complete message body"  # (httpx's)
    )
    assert f"broke while its answer was read: {words}" in message, message
    assert "cannot reach" not in message and raised.value.retryable and raised.value.model == model.name
