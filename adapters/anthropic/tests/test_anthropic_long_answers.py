"""An answer that may take longer than the provider's `timeout=` to write (a large `max_output_tokens`).

Unstreamed, nothing comes back until the answer is whole: with the adapter's own client (`timeout=120` by default,
which turns the SDK's own check off) a call allowed more than about 4,300 tokens could outlast it, time out, and be
retried — and billed — with the same end each time. `generate` now streams such a call, as the SDK advises for long
answers, and returns its final message: its events keep arriving while the model writes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import orchestratex.providers
from orchestratex.catalog import ModelCatalog
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage
from orchestratex_anthropic import AnthropicProvider

MODEL = ModelCatalog.default().get("anthropic:claude-haiku-5-5")
WRITING_S = 1.6
"""How long the stand-in server takes to write its answer."""
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-5-5",
    "content": [{"type": "text", "text": "A long answer."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 4},
}


def events() -> list[dict[str, object]]:
    start = {**MESSAGE, "content": [], "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "A long "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "answer."}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 4},
        },
        {"type": "message_stop"},
    ]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[bool]]]:
    """A real server that writes its answer over `WRITING_S` seconds: an unstreamed one at the end, a streamed one
    event by event. Yields its URL and, for each request, whether it asked for a stream."""
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # (a local server, not Anthropic)
    streamed: list[bool] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            sent = json.loads(self.rfile.read(int(self.headers["content-length"])))
            streamed.append(bool(sent.get("stream")))
            if not sent.get("stream"):
                time.sleep(WRITING_S)
                body = json.dumps(MESSAGE).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            for event in events():
                self.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                time.sleep(WRITING_S / len(events()))
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", streamed
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def request(max_output_tokens: int) -> GenerationRequest:
    return GenerationRequest(
        model=MODEL, messages=[Message(role="user", content="Write at length")], max_output_tokens=max_output_tokens
    )


async def test_an_answer_that_may_outlast_the_timeout_is_streamed(server: tuple[str, list[bool]]) -> None:
    url, streamed = server
    async with AnthropicProvider(api_key="sk-ant-test", base_url=url, timeout=1.0) as provider:
        # (the SDK reckons 200 tokens may take 5.6 s to write: more than the 1 s timeout)
        generation = await provider.generate(request(200))
    assert streamed == [True]
    assert generation.text == "A long answer." and generation.finish_reason == "stop"
    assert generation.usage == Usage(input_tokens=12, output_tokens=4)


async def test_a_short_answer_is_not_streamed(server: tuple[str, list[bool]]) -> None:
    url, streamed = server
    async with AnthropicProvider(api_key="sk-ant-test", base_url=url, timeout=30.0) as provider:
        generation = await provider.generate(request(200))  # (5.6 s at most: within 30 s)
    assert streamed == [False] and generation.text == "A long answer."
