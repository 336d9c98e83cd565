"""A catalog file's endpoint (`[providers.NAME]`) takes a `timeout`. A local model on a CPU writes a few tokens
a second, so an unstreamed answer of 2,048 tokens takes minutes, and the adapter's 120 s (or an hour for 128,000 tokens,
as the Anthropic SDK reckons a datacentre's speed) ended every such call, retried each time with the same end. The
endpoint could be given more time only from Python code (`OpenAIProvider(timeout=...)`): `orchestratex run`, `serve`
and a catalog file had no way to say it, and `timeout = 600` in the file was refused as an unknown key."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import orchestratex.providers
from orchestratex import Orchestrator
from orchestratex.exceptions import ConfigurationError, ProviderTimeout
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage

from .test_openai_contract import chat_completion


class SlowLocalModel(BaseHTTPRequestHandler):
    """A local server that takes a second to answer, as a model on a CPU takes minutes."""

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_POST(self) -> None:
        sent = json.loads(self.rfile.read(int(self.headers["content-length"])))
        time.sleep(1.0)
        body = json.dumps(chat_completion(Usage(input_tokens=9, output_tokens=2), text="Hi!", model=sent["model"]))
        try:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())
        except OSError:  # (the client gave up)
            return


@pytest.fixture
def slow_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not a provider
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowLocalModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _catalog(tmp_path: Path, base_url: str, timeout: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(
        f'include_default = false\n\n[providers.local]\nkind = "openai"\nbase_url = "{base_url}"\n{timeout}\n\n'
        '[[models]]\nname = "local:llama3.2"\ncost_per_1k_tokens = 0\n\n'
        '[[models]]\nname = "local:qwen3"\ncost_per_1k_tokens = 0\n',
        encoding="utf-8",
    )
    return path


async def _ask(orchestrator: Orchestrator) -> str:
    provider = orchestrator.providers["local"]
    request = GenerationRequest(
        model=orchestrator.catalog.get("local:llama3.2"),
        messages=[Message(role="user", content="Hi")],
        max_output_tokens=8,
    )
    try:
        return (await provider.generate(request)).text
    finally:
        await orchestrator.aclose()


async def test_an_endpoint_s_timeout_gives_a_slow_server_its_time(tmp_path: Path, slow_server: str) -> None:
    orchestrator = Orchestrator(catalog=_catalog(tmp_path, slow_server, "timeout = 30"), env={})
    assert await _ask(orchestrator) == "Hi!"


async def test_an_endpoint_s_timeout_is_the_call_s_time_limit(tmp_path: Path, slow_server: str) -> None:
    orchestrator = Orchestrator(catalog=_catalog(tmp_path, slow_server, "timeout = 0.25"), env={})
    with pytest.raises(ProviderTimeout, match=r"^local at http://127\.0\.0\.1:\d+/v1 did not answer in 0\.25 s"):
        await _ask(orchestrator)


@pytest.mark.parametrize("value", ["0", "-5", '"600"', "true", "nan"])
def test_a_timeout_that_is_no_number_of_seconds_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, value: str
) -> None:
    path = _catalog(tmp_path, "http://localhost:11434/v1", f"timeout = {value}")
    with pytest.raises(
        ConfigurationError, match=r"models\.toml: providers\.local: timeout must be a number of seconds"
    ):
        Orchestrator(catalog=path, env={})
