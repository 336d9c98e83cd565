"""A call given more time to write a long answer still connects within the provider's `timeout`.

google-genai gives a request one timeout for everything: a call allowed more time to write its answer
(`time_to_write`: for 60,000 tokens, about half an hour) waited as long to connect to a server whose packets are
dropped, where the OpenAI adapter gives up connecting after `timeout`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Iterator

import pytest

import orchestratex.providers
from orchestratex.exceptions import ProviderTimeout
from orchestratex_gemini import GeminiProvider

from .test_gemini_provider import request

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="a full accept queue drops SYNs on Linux"),
]


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """A server whose accept queue is full, so Linux drops the SYN of a new connection: connecting hangs, as to a
    host behind a firewall that drops packets."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    waiting = []
    for _ in range(3):  # (never accepted: they fill the queue)
        conn = socket.socket()
        conn.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            conn.connect(("127.0.0.1", port))
        waiting.append(conn)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for conn in waiting:
            conn.close()
        listener.close()


async def test_a_long_answer_s_call_gives_up_connecting_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local socket, not the vendor
    with black_hole() as url:
        provider = GeminiProvider(api_key="AIza-test", base_url=url, timeout=1.0)
        with pytest.raises(ProviderTimeout):
            async with asyncio.timeout(60):  # (without the fix: waiting the half hour given to write the answer)
                await provider.generate(request(max_output_tokens=60_000))
        await provider.aclose()
