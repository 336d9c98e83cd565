"""An answer that may take longer than the provider's `timeout=` to write (a large `max_output_tokens`).

google-genai sends the client's timeout as `X-Server-Timeout` (seconds), after which Google's server ends the call,
streamed or not, with a 504 `DEADLINE_EXCEEDED`; and nothing comes back while a thinking model reasons, nor of an
unstreamed answer until it is whole. With `timeout=120` (the default) a Gemini call allowed 65,536 tokens was cut at
two minutes, retried and billed again, each attempt the same. Such a call now has the time its answer may take to
write (an hour for 128,000 tokens, the reckoning the Anthropic adapter uses).
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex.catalog import ModelCatalog
from orchestratex.providers import GenerationRequest, Message
from orchestratex_gemini import GeminiProvider

MODEL = ModelCatalog.default().get("gemini:gemini-4-hydrogen")
ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi!"}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
}


class Recorder:
    def __init__(self) -> None:
        self.limits: list[tuple[str | None, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.limits.append((request.headers.get("x-server-timeout"), request.extensions["timeout"]["read"]))
        if request.url.path.endswith(":streamGenerateContent"):
            sse = b"data: " + json.dumps(ANSWER).encode() + b"\r\n\r\n"
            return httpx2.Response(200, content=sse, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=ANSWER)


def ask(max_output_tokens: int) -> GenerationRequest:
    return GenerationRequest(
        model=MODEL, messages=[Message(role="user", content="Hello")], max_output_tokens=max_output_tokens
    )


async def ignore(text: str) -> None:
    return None


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_long_answer_has_the_time_it_may_take_to_write(streamed: bool) -> None:
    server = Recorder()
    provider = GeminiProvider(api_key="test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))
    request = ask(65_536)  # (the model's own limit: about 30 minutes to write)
    generation = await (provider.generate_stream(request, ignore) if streamed else provider.generate(request))
    assert generation.text == "Hi!"
    [(server_timeout, read)] = server.limits
    assert server_timeout is not None and int(server_timeout) >= 65_536 * 3600 / 128_000, server_timeout
    assert read >= 65_536 * 3600 / 128_000, read


async def test_a_short_answer_keeps_the_timeout() -> None:
    server = Recorder()
    provider = GeminiProvider(
        api_key="test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)), timeout=30
    )
    await provider.generate(ask(512))
    await provider.generate_stream(ask(512), ignore)
    assert server.limits == [("30", 30.0), ("30", 30.0)]
