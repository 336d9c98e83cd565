"""The shared adapter contract, run against Anthropic's Messages API with documented bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import httpx2

from orchestratex.providers import GenerationRequest
from orchestratex.testing.provider_contract import ErrorKind, MockServer, ProviderContract, RecordedRequest, Reply
from orchestratex.usage import Usage
from orchestratex_anthropic import AnthropicProvider

_ERRORS: dict[str, tuple[int, str, str]] = {
    "rate_limit": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    "server": (500, "api_error", "An unexpected error has occurred internal to Anthropic's systems."),
    "auth": (401, "authentication_error", "invalid x-api-key"),
    "forbidden": (403, "permission_error", "Your API key does not have permission to use the specified resource."),
    "context_length": (400, "invalid_request_error", "prompt is too long: 215378 tokens > 200000 maximum"),
}


def message(
    usage: Usage, *, text: str, stop_reason: str = "end_turn", cache_write: int = 0, model: str = "claude-sonnet-4-5"
) -> dict[str, Any]:
    """A Messages API `message` object as documented (input_tokens exclude cache reads and writes)."""
    body: dict[str, Any] = {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}] if text else [],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage.input_tokens - usage.cached_input_tokens - cache_write,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": usage.cached_input_tokens,
            "output_tokens": usage.output_tokens,
            "service_tier": "standard",
        },
    }
    if usage.reasoning_tokens:
        body["content"].insert(0, {"type": "thinking", "thinking": "Primes...", "signature": "EqQBCgIYAhIM"})
        body["usage"]["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return body


class TestAnthropicContract(ProviderContract):
    provider_class = AnthropicProvider
    api_key_env = "ANTHROPIC_API_KEY"
    blocked_usage = Usage(input_tokens=40, output_tokens=3)
    sdk_modules = ("anthropic",)

    def make_provider(self, server: MockServer) -> AnthropicProvider:
        return AnthropicProvider(
            api_key="sk-ant-test-0123456789abcdef", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
        )

    def success_reply(self, usage: Usage, *, text: str, finish: Literal["stop", "length"] = "stop") -> Reply:
        return Reply(200, json=message(usage, text=text, stop_reason="end_turn" if finish == "stop" else "max_tokens"))

    def stream_reply(self, usage: Usage, *, pieces: list[str], finish: Literal["stop", "length"] = "stop") -> Reply:
        whole = message(usage, text="", stop_reason="end_turn" if finish == "stop" else "max_tokens")
        start = whole | {"content": [], "stop_reason": None, "usage": whole["usage"] | {"output_tokens": 1}}
        events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
        text_index = 0
        if usage.reasoning_tokens:
            thinking = {"type": "thinking", "thinking": "Primes...", "signature": "EqQBCgIYAhIM"}
            events += [
                {"type": "content_block_start", "index": 0, "content_block": thinking},
                {"type": "content_block_stop", "index": 0},
            ]
            text_index = 1
        events.append(
            {"type": "content_block_start", "index": text_index, "content_block": {"type": "text", "text": ""}}
        )
        events += [
            {"type": "content_block_delta", "index": text_index, "delta": {"type": "text_delta", "text": p}}
            for p in pieces
        ]
        events += [
            {"type": "content_block_stop", "index": text_index},
            {
                "type": "message_delta",
                "delta": {"stop_reason": whole["stop_reason"], "stop_sequence": None},
                "usage": whole["usage"],
            },
            {"type": "message_stop"},
        ]
        body = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
        return Reply(200, content=body, headers={"content-type": "text/event-stream"})

    def error_reply(self, kind: ErrorKind, *, headers: Mapping[str, str] | None = None) -> Reply:
        status, kind_name, text = _ERRORS[kind]
        body = {
            "type": "error",
            "error": {"type": kind_name, "message": text},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
        }
        return Reply(status, json=body, headers=dict(headers or {}))

    def blocked_reply(self) -> Reply:
        return Reply(200, json=message(Usage(input_tokens=40, output_tokens=3), text="", stop_reason="refusal"))

    def check_request(self, sent: RecordedRequest, request: GenerationRequest) -> None:
        assert sent.method == "POST"
        assert sent.url == "https://api.anthropic.com/v1/messages"
        assert (
            sent.headers["authorization"] == "Bearer sk-ant-test-0123456789abcdef"
            or sent.headers["x-api-key"] == "sk-ant-test-0123456789abcdef"
        )
        body = sent.json
        assert body["model"] == request.model.version
        assert body.get("system") == request.system
        assert body["messages"] == [
            {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
        ]
        assert body["max_tokens"] == request.max_output_tokens
        assert body.get("stop_sequences") == request.stop
        assert "temperature" not in body  # API version 2026-10-21 rejects sampling parameters

    def check_json_request(self, sent: RecordedRequest) -> None:
        assert "JSON object" in sent.json["system"]
