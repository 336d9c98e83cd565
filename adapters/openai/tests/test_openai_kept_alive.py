"""A server that keeps an unstreamed call's connection alive with blank lines: the timeout still ends the call.

DeepSeek's API, under load, answers an unstreamed request by sending blank lines until the answer is ready, for up
to 30 minutes (its Rate Limit page). The SDK's timeout bounds each read, and each blank line resets it.
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
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion

MODEL = ModelProfile(name="openai:deepseek-chat", input_cost_per_1k=0.00028, output_cost_per_1k=0.00042)


class KeptAlive(BaseHTTPRequestHandler):
    """Sends the status, then a blank line every 0.2 s for 6 s, then the answer (or stops once the client left)."""

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        body = json.dumps(chat_completion(Usage(input_tokens=5, output_tokens=2), text="Late.", model="deepseek-chat"))
        try:
            for _ in range(30):
                self.wfile.write(b"\n")
                self.wfile.flush()
                time.sleep(0.2)
            self.wfile.write(body.encode())
        except OSError:  # (the client gave up)
            return


@pytest.fixture
def kept_alive(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not a provider
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeptAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


async def test_an_unstreamed_call_kept_alive_with_blank_lines_times_out(kept_alive: str) -> None:
    """With `timeout=0.5` the call went on for as long as the server kept sending blank lines (6 s here, up to 30
    minutes at DeepSeek), so a run could hang on one call far past its timeout. It now ends at the timeout as a
    `ProviderTimeout`, retried and then given up like any other."""
    provider = OpenAIProvider(api_key="sk-test", base_url=kept_alive, timeout=0.5)
    request = GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hi")], max_output_tokens=16)
    # (naming the server: "openai did not answer" read as OpenAI's API being slow, not the server OPENAI_BASE_URL names)
    with pytest.raises(
        ProviderTimeout, match=r"^openai at http://127\.0\.0\.1:\d+/v1 did not answer in 0\.5 s"
    ) as raised:
        await provider.generate(request)
    assert raised.value.retryable and raised.value.model == MODEL.name
    await provider.aclose()
