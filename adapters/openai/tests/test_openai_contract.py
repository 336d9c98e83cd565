"""The shared adapter contract, run against OpenAI's Chat Completions and Responses APIs with documented bodies."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import httpx2

from orchestratex.providers import GenerationRequest
from orchestratex.testing.provider_contract import ErrorKind, MockServer, ProviderContract, RecordedRequest, Reply
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

_ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "rate_limit": (
        429,
        {"message": "Rate limit reached for gpt-4.1", "type": "requests", "code": "rate_limit_exceeded"},
    ),
    "server": (500, {"message": "The server had an error processing your request.", "type": "server_error"}),
    "auth": (
        401,
        {"message": "Incorrect API key provided: sk-test.", "type": "invalid_request_error", "code": "invalid_api_key"},
    ),
    "forbidden": (
        403,
        {"message": "You are not allowed to sample from this model", "type": "invalid_request_error", "code": None},
    ),
    "context_length": (
        400,
        {
            "message": "This model's maximum context length is 128000 tokens. However, your "
            "messages resulted in 130000 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        },
    ),
}


def chat_completion(usage: Usage, *, text: str, finish: str = "stop", model: str = "gpt-4.1") -> dict[str, Any]:
    """A `chat.completion` object as documented in the API reference."""
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": usage.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fc9f1d7035",
    }


def responses_object(usage: Usage, *, text: str, incomplete: str | None = None) -> dict[str, Any]:
    """A Responses API `response` object as documented in the API reference."""
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        "object": "response",
        "created_at": 1741476542,
        "status": "incomplete" if incomplete else "completed",
        "error": None,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-5-pro-2025-10-06",
        "output": [
            {
                "type": "message",
                "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "reasoning": {"effort": "high", "summary": None},
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": usage.input_tokens,
            "input_tokens_details": {"cached_tokens": usage.cached_input_tokens},
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.total_tokens,
        },
        "metadata": {},
    }


def sse(*events: object) -> bytes:
    """Server-sent events, one `data:` line each, then `data: [DONE]`."""
    return (
        "".join(f"data: {json.dumps(event)}\n\n" for event in (*events, "[DONE]"))
        .replace('data: "[DONE]"', "data: [DONE]")
        .encode()
    )


class TestOpenAIChatContract(ProviderContract):
    provider_class = OpenAIProvider
    api_key_env = "OPENAI_API_KEY"
    blocked_usage = Usage(input_tokens=30, output_tokens=0)
    sdk_modules = ("openai",)

    def make_provider(self, server: MockServer) -> OpenAIProvider:
        return OpenAIProvider(
            api_key="sk-test-0123456789abcdef", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
        )

    def success_reply(self, usage: Usage, *, text: str, finish: Literal["stop", "length"] = "stop") -> Reply:
        return Reply(200, json=chat_completion(usage, text=text, finish=finish))

    def stream_reply(self, usage: Usage, *, pieces: list[str], finish: Literal["stop", "length"] = "stop") -> Reply:
        whole = chat_completion(usage, text="", finish=finish)
        chunk = {k: whole[k] for k in ("id", "created", "model", "system_fingerprint")} | {
            "object": "chat.completion.chunk"
        }
        events: list[object] = [
            chunk | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        ]
        events += [chunk | {"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
        events.append(chunk | {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        events.append(chunk | {"choices": [], "usage": whole["usage"]})  # stream_options.include_usage
        return Reply(200, content=sse(*events), headers={"content-type": "text/event-stream"})

    def error_reply(self, kind: ErrorKind, *, headers: Mapping[str, str] | None = None) -> Reply:
        status, error = _ERRORS[kind]
        return Reply(status, json={"error": error}, headers=dict(headers or {}))

    def blocked_reply(self) -> Reply:
        return Reply(
            200, json=chat_completion(Usage(input_tokens=30, output_tokens=0), text="", finish="content_filter")
        )

    def check_request(self, sent: RecordedRequest, request: GenerationRequest) -> None:
        assert sent.method == "POST"
        assert sent.url == "https://api.openai.com/v1/chat/completions"
        assert sent.headers["authorization"] == "Bearer sk-test-0123456789abcdef"
        body = sent.json
        assert body["model"] == request.model.version
        assert body["messages"] == [{"role": m.role, "content": m.content} for m in request.messages]
        assert body["max_completion_tokens"] == request.max_output_tokens
        assert body.get("temperature") == request.temperature
        assert body.get("stop") == request.stop
        assert "response_format" not in body

    def check_json_request(self, sent: RecordedRequest) -> None:
        body = sent.json
        assert body["response_format"] == {"type": "json_object"}
        assert any("json" in m["content"].lower() for m in body["messages"])


class TestOpenAIResponsesContract(TestOpenAIChatContract):
    """The same scenarios through the Responses API (`api="responses"`)."""

    def make_provider(self, server: MockServer) -> OpenAIProvider:
        transport = server.httpx2_transport()
        return OpenAIProvider(
            api_key="sk-test-0123456789abcdef", http_client=httpx2.AsyncClient(transport=transport), api="responses"
        )

    def success_reply(self, usage: Usage, *, text: str, finish: Literal["stop", "length"] = "stop") -> Reply:
        return Reply(
            200, json=responses_object(usage, text=text, incomplete="max_output_tokens" if finish == "length" else None)
        )

    def stream_reply(self, usage: Usage, *, pieces: list[str], finish: Literal["stop", "length"] = "stop") -> Reply:
        incomplete = "max_output_tokens" if finish == "length" else None
        done = responses_object(usage, text="".join(pieces), incomplete=incomplete)
        item = done["output"][0]
        started = done | {"status": "in_progress", "output": [], "usage": None}
        events: list[object] = [{"type": "response.created", "sequence_number": 0, "response": started}]
        events += [
            {
                "type": "response.output_text.delta",
                "sequence_number": n,
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "delta": p,
                "logprobs": [],
            }
            for n, p in enumerate(pieces, start=1)
        ]
        kind = "response.incomplete" if incomplete else "response.completed"
        events.append({"type": kind, "sequence_number": len(pieces) + 1, "response": done})
        return Reply(200, content=sse(*events), headers={"content-type": "text/event-stream"})

    def blocked_reply(self) -> Reply:
        return Reply(200, json=responses_object(Usage(input_tokens=30), text="", incomplete="content_filter"))

    def check_request(self, sent: RecordedRequest, request: GenerationRequest) -> None:
        assert sent.url == "https://api.openai.com/v1/responses"
        body = sent.json
        assert body["model"] == request.model.version
        assert body.get("instructions") == request.system
        assert body["input"] == [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"]
        assert body["max_output_tokens"] == request.max_output_tokens
        assert body.get("temperature") == request.temperature
        assert body["store"] is False
        assert "stop" not in body  # the Responses API has no stop sequences: they are applied to the text

    def check_json_request(self, sent: RecordedRequest) -> None:
        body = sent.json
        assert body["text"] == {"format": {"type": "json_object"}}
        assert "json" in body["instructions"].lower()


def test_the_contract_runs_in_pytest_asyncios_strict_mode(tmp_path: Path) -> None:
    """A project that keeps pytest-asyncio's default strict mode could not run the suite: every async scenario was
    skipped ("async def functions are not natively supported") or errored on the async `provider` fixture."""
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    shutil.copy(Path(__file__), tmp_path / "test_my_adapter_contract.py")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "-k", "not strict_mode"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"\d+ passed", done.stdout) and "skipped" not in done.stdout, done.stdout[-1000:]
