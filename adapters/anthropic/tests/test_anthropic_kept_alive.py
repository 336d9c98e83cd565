"""A server that keeps an unstreamed call's connection alive with blank lines: the timeout still ends the call.

DeepSeek serves an Anthropic API (`ANTHROPIC_BASE_URL=https://api.deepseek.com/anthropic`, its "Anthropic API" guide)
and, under load, answers an unstreamed request by sending blank lines until the answer is ready, for up to 30 minutes
(its Rate Limit page). The SDK's timeout bounds each read, and each blank line resets it, so `timeout=` never ended
the call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import orchestratex.providers
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import ProviderTimeout
from orchestratex.providers import GenerationRequest, Message
from orchestratex_anthropic import AnthropicProvider

MODEL = ModelProfile(name="anthropic:deepseek-v4-flash", input_cost_per_1k=0.00028, output_cost_per_1k=0.00042)
ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "deepseek-v4-flash",
    "content": [{"type": "text", "text": "Late."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 2},
}


class KeptAlive(BaseHTTPRequestHandler):
    """Sends the status, then a blank line every `gap` seconds `lines` times, then the answer (or stops once the
    client left)."""

    lines = 30
    gap = 0.2

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        try:
            for _ in range(self.lines):
                self.wfile.write(b"\n")
                self.wfile.flush()
                time.sleep(self.gap)
            self.wfile.write(json.dumps(ANSWER).encode())
        except OSError:  # (the client gave up)
            return


class Prompt(KeptAlive):
    """Answers after a few blank lines, well within the timeout."""

    lines = 2
    gap = 0.05


def _serve(handler: type[BaseHTTPRequestHandler], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not a provider
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def kept_alive(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from _serve(KeptAlive, monkeypatch)


@pytest.fixture
def prompt(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from _serve(Prompt, monkeypatch)


def _request() -> GenerationRequest:
    return GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hi")], max_output_tokens=16)


async def test_an_unstreamed_call_kept_alive_with_blank_lines_times_out(kept_alive: str) -> None:
    """With `timeout=0.5` the call went on for as long as the server kept sending blank lines (6 s here, up to 30
    minutes at DeepSeek), so a run could hang on one call far past its timeout. It now ends at the timeout as a
    `ProviderTimeout`, retried and then given up like any other, naming the server."""
    provider = AnthropicProvider(api_key="sk-test", base_url=kept_alive, timeout=0.5)
    with pytest.raises(
        ProviderTimeout, match=r"anthropic at http://127\.0\.0\.1:\d+ did not answer in 0\.5 s"
    ) as raised:
        await provider.generate(_request())
    assert raised.value.retryable and raised.value.model == MODEL.name and raised.value.provider == "anthropic"
    await provider.aclose()


async def test_an_answer_after_a_few_blank_lines_is_taken(prompt: str) -> None:
    provider = AnthropicProvider(api_key="sk-test", base_url=prompt, timeout=5)
    generation = await provider.generate(_request())
    await provider.aclose()
    assert generation.text == "Late." and generation.usage.output_tokens == 2
