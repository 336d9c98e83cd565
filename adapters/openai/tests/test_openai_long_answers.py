"""An answer that may take longer than the provider's `timeout=` to write (a large `max_output_tokens`).

Nothing comes back of an unstreamed answer until it is whole, and nothing of a stream while a reasoning model thinks
(its reasoning tokens are not streamed): held to `timeout=` (120 s by default, the SDK's own is 600 s), an `o3` or
`gpt-5` call allowed 32,000 tokens timed out whenever the model needed more than two minutes, and was retried, and
billed, with the same end each time. Such a call now has the time its answer may take to write (an hour for 128,000
tokens, the reckoning the Anthropic adapter uses).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest

import orchestratex.providers
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import ProviderTimeout
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion
from .test_openai_streaming import chunk

MODEL = ModelProfile(name="openai:o3", input_cost_per_1k=0.002, output_cost_per_1k=0.008)
THINKING_S = 1.5
"""How long the stand-in model reasons before anything of its answer comes."""


class Reasoning(BaseHTTPRequestHandler):
    """OpenAI with a reasoning model: the status, then silence while it reasons, then the answer (or its stream)."""

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        usage = Usage(input_tokens=9, output_tokens=60, reasoning_tokens=56)
        self.send_response(200)
        streamed = bool(body.get("stream"))
        self.send_header("content-type", "text/event-stream" if streamed else "application/json")
        self.end_headers()
        self.wfile.flush()
        time.sleep(THINKING_S)
        if streamed:
            events = [
                chunk({"role": "assistant", "content": "Four."}),
                chunk({}, finish="stop"),
                chunk({}, usage=usage),
            ]
            answer = b"".join(events) + b"data: [DONE]\n\n"
        else:
            answer = json.dumps(chat_completion(usage, text="Four.", model="o3")).encode()
        try:
            self.wfile.write(answer)
        except OSError:  # (the client gave up)
            return


@pytest.fixture
def reasoning(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not a provider
    server = ThreadingHTTPServer(("127.0.0.1", 0), Reasoning)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def ask(max_output_tokens: int) -> GenerationRequest:
    return GenerationRequest(
        model=MODEL, messages=[Message(role="user", content="2+2?")], max_output_tokens=max_output_tokens
    )


async def test_an_unstreamed_answer_that_may_take_longer_than_the_timeout_is_waited_for(reasoning: str) -> None:
    """`timeout=0.5` and 200 tokens allowed (5.6 s to write by the reckoning): the model's 1.5 s timed out."""
    provider = OpenAIProvider(api_key="sk-test", base_url=reasoning, timeout=0.5)
    generation = await provider.generate(ask(200))
    assert generation.text == "Four." and generation.usage.reasoning_tokens == 56
    await provider.aclose()


async def test_a_stream_silent_while_the_model_reasons_is_waited_for(reasoning: str) -> None:
    provider = OpenAIProvider(api_key="sk-test", base_url=reasoning, timeout=0.5)
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    generation = await provider.generate_stream(ask(200), collect)
    assert generation.text == "Four." and pieces == ["Four."]
    await provider.aclose()


async def test_a_short_answer_is_still_held_to_the_timeout(reasoning: str) -> None:
    """10 tokens take 0.28 s to write by the reckoning: the timeout (0.5 s) is what the call gets."""
    provider = OpenAIProvider(api_key="sk-test", base_url=reasoning, timeout=0.5)
    with pytest.raises(ProviderTimeout):
        await provider.generate(ask(10))
    await provider.aclose()


@pytest.mark.skipif(
    int(openai.__version__.split(".", 1)[0]) < 3,
    reason="openai 2.x fails a request given an httpx2.Timeout: the adapter gives it the whole limit, connecting too",
)
async def test_connecting_is_still_held_to_the_timeout() -> None:
    """The longer time is the answer's to write: a call allowed 200 tokens still gives up connecting after `timeout`."""
    import httpx2

    timeouts: list[dict[str, float | None]] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        timeouts.append(request.extensions["timeout"])
        usage = Usage(input_tokens=9, output_tokens=2)
        return httpx2.Response(200, json=chat_completion(usage, text="Four.", model="o3"))

    provider = OpenAIProvider(
        api_key="sk-test", timeout=0.5, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(record))
    )
    await provider.generate(ask(200))
    assert timeouts[0]["connect"] == 0.5 and timeouts[0]["read"] == pytest.approx(200 * 3600 / 128_000)
