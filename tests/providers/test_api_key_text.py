"""An API key as it comes from a key file, a secret store or an env file: with a line break or spaces around it.

Sent as it was, every call failed as a connection error ("cannot reach openai: Illegal header value b'Bearer sk-…\\n'"),
retried and then stored with the run, quoting the key; a character no header can carry (`…`, pasted from a page) was a
raw `UnicodeEncodeError`. The key is now sent without the white space around it, and a key no header can carry is
refused when the provider is made, naming where it came from and never showing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

import orchestratex.providers
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import ConfigurationError
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import local_server

pytest.importorskip("orchestratex_openai")
pytest.importorskip("orchestratex_anthropic")
pytest.importorskip("orchestratex_gemini")

from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OpenAIProvider

KEY = "sk-test-9f8e7d"
CATALOG = """include_default = false

[[models]]
name = "openai:llama3.2"
cost_per_1k_tokens = 0

[[models]]
name = "openai:qwen3"
cost_per_1k_tokens = 0
"""


def _completion(sent: dict[str, Any]) -> bytes:
    text = json.dumps({"score": 9, "feedback": "ok"}) if "response_format" in sent else "Hi!"
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": sent["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        }
    ).encode()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not a provider
    with local_server(_completion) as base:
        yield f"{base}/v1"


def run_cli(tmp_path: Path, server: str, key: str) -> subprocess.CompletedProcess[str]:
    catalog = tmp_path / "models.toml"
    catalog.write_text(CATALOG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env = {k: v for k, v in env.items() if not k.startswith("ORCHESTRATEX_")}
    env.update(OPENAI_API_KEY=key, OPENAI_BASE_URL=server, ORCHESTRATEX_CATALOG=str(catalog))
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    command = [sys.executable, "-m", "orchestratex", "run", "Hello", "--max-iterations", "1", "--store", store]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("key", [f"{KEY}\n", f"{KEY}\r\n", f"  {KEY} "])
def test_a_key_with_white_space_around_it_works_from_the_cli(tmp_path: Path, server: str, key: str) -> None:
    done = run_cli(tmp_path, server, key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Hi!" in done.stdout and KEY not in done.stdout + done.stderr


def test_a_key_no_header_can_carry_is_refused_without_showing_it(tmp_path: Path, server: str) -> None:
    done = run_cli(tmp_path, server, "sk-test-9f8e…")  # pasted from a page that cut it
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the API key (OPENAI_API_KEY or api_key=) holds '…' (U+2026) at character 13" in done.stderr
    assert "sk-test" not in done.stdout + done.stderr


@pytest.mark.parametrize("key", [f'"{KEY}"', f"'{KEY}'"])
def test_a_key_in_quotes_is_refused_without_showing_it(tmp_path: Path, server: str, key: str) -> None:
    """`OPENAI_API_KEY="sk-…"` in a docker `--env-file`, which keeps the quotes: sent with them, every call was refused
    with "set OPENAI_API_KEY to a valid key", though the key inside was valid."""
    done = run_cli(tmp_path, server, key)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "openai: the API key (OPENAI_API_KEY or api_key=) is in quotes, which no key holds: remove them" in (
        done.stderr
    )
    assert KEY not in done.stdout + done.stderr
    for cls in (OpenAIProvider, AnthropicProvider, GeminiProvider):
        with pytest.raises(ConfigurationError, match="is in quotes"):
            cls(api_key=key)


def _chat(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200, content=_completion(json.loads(request.content)), headers={"content-type": "application/json"}
    )


def _message(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": "Hi!"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 9, "output_tokens": 3},
        },
    )


def _gemini(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi!"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12},
            "modelVersion": "gemini-2.5-flash",
        },
    )


ADAPTERS = [
    (OpenAIProvider, _chat, "openai:gpt-4.1", "authorization", f"Bearer {KEY}"),
    (AnthropicProvider, _message, "anthropic:claude-haiku-4-5", "authorization", f"Bearer {KEY}"),
    (GeminiProvider, _gemini, "gemini:gemini-2.5-flash", "x-goog-api-key", KEY),
]


@pytest.mark.parametrize(("cls", "answer", "model", "header", "sent"), ADAPTERS)
async def test_every_adapter_sends_the_key_without_the_white_space(
    cls: Any, answer: Any, model: str, header: str, sent: str
) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return answer(request)  # type: ignore[no-any-return]

    provider = cls(api_key=f"{KEY}\n", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    profile = ModelProfile(name=model, input_cost_per_1k=0.001, output_cost_per_1k=0.002)
    generation = await provider.generate(
        GenerationRequest(model=profile, messages=[Message(role="user", content="Hi")], max_output_tokens=10)
    )
    assert generation.text == "Hi!" and seen[0].headers[header] == sent


@pytest.mark.parametrize(
    ("cls", "variable"),
    [
        (c, v)
        for c, v in [
            (OpenAIProvider, "OPENAI_API_KEY"),
            (AnthropicProvider, "ANTHROPIC_API_KEY"),
            (GeminiProvider, "GEMINI_API_KEY"),
        ]
    ],
)
def test_every_adapter_refuses_a_key_with_a_line_break_inside(cls: Any, variable: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        cls.from_env({variable: "sk-test\nsk-other"})  # two keys pasted into one variable
    assert "holds a line break at character 8" in str(info.value) and "sk-test" not in str(info.value)


@pytest.mark.parametrize("cls", [OpenAIProvider, AnthropicProvider, GeminiProvider])
def test_every_adapter_refuses_a_key_that_is_not_a_string_saying_what_to_pass(cls: Any) -> None:
    """A pydantic `SecretStr` (an app's settings hold keys so) failed with a bare AttributeError: 'SecretStr' object has
    no attribute 'strip'."""
    with pytest.raises(ConfigurationError, match=r"must be a string, not SecretStr: pass its \.get_secret_value\(\)"):
        cls(api_key=SecretStr(KEY))
