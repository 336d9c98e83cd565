"""The shared adapter contract, run against the Gemini API (google-genai) with documented bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import httpx2

from orchestratex.providers import GenerationRequest
from orchestratex.testing.provider_contract import ErrorKind, MockServer, ProviderContract, RecordedRequest, Reply
from orchestratex.usage import Usage
from orchestratex_gemini import GeminiProvider

_ERRORS: dict[str, tuple[int, str, str]] = {
    "rate_limit": (429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan."),
    "server": (
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    ),
    "auth": (401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
    "forbidden": (403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."),
    "context_length": (
        400,
        "INVALID_ARGUMENT",
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    ),
}


def gemini_response(usage: Usage, *, text: str, finish: str = "STOP", thought: str | None = None) -> dict[str, Any]:
    """A `GenerateContentResponse` as documented (candidatesTokenCount excludes thoughtsTokenCount)."""
    parts: list[dict[str, Any]] = [{"text": text}]
    if thought:
        parts.insert(0, {"text": thought, "thought": True})
    meta: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": usage.output_tokens - usage.reasoning_tokens,
        "totalTokenCount": usage.total_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.input_tokens}],
    }
    if usage.reasoning_tokens:
        meta["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cached_input_tokens:
        meta["cachedContentTokenCount"] = usage.cached_input_tokens
    return {
        "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": 0}],
        "usageMetadata": meta,
        "modelVersion": "gemini-2.5-flash",
        "responseId": "8kMbZ6-hD4KW_uMP7NL8gAE",
    }


class TestGeminiContract(ProviderContract):
    provider_class = GeminiProvider
    api_key_env = "GEMINI_API_KEY"
    blocked_usage = Usage(input_tokens=12, output_tokens=0)
    sdk_modules = ("google.genai",)

    def make_provider(self, server: MockServer) -> GeminiProvider:
        return GeminiProvider(
            api_key="AIza-test-0123456789abcdef", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
        )

    def success_reply(self, usage: Usage, *, text: str, finish: Literal["stop", "length"] = "stop") -> Reply:
        thought = "Let me think about primes." if usage.reasoning_tokens else None
        return Reply(
            200,
            json=gemini_response(
                usage, text=text, finish="STOP" if finish == "stop" else "MAX_TOKENS", thought=thought
            ),
        )

    def stream_reply(self, usage: Usage, *, pieces: list[str], finish: Literal["stop", "length"] = "stop") -> Reply:
        last = gemini_response(usage, text=pieces[-1], finish="STOP" if finish == "stop" else "MAX_TOKENS")
        chunks = [
            {"candidates": [{"content": {"parts": [{"text": p}], "role": "model"}, "index": 0}]}
            | {k: last[k] for k in ("modelVersion", "responseId")}
            for p in pieces[:-1]
        ]
        body = b"".join(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in [*chunks, last])
        return Reply(200, content=body, headers={"content-type": "text/event-stream"})

    def error_reply(self, kind: ErrorKind, *, headers: Mapping[str, str] | None = None) -> Reply:
        status, name, text = _ERRORS[kind]
        return Reply(
            status, json={"error": {"code": status, "message": text, "status": name}}, headers=dict(headers or {})
        )

    def blocked_reply(self) -> Reply:
        body = {
            "promptFeedback": {
                "blockReason": "SAFETY",
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
                ],
            },
            "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
            "modelVersion": "gemini-2.5-flash",
        }
        return Reply(200, json=body)

    def check_request(self, sent: RecordedRequest, request: GenerationRequest) -> None:
        assert sent.method == "POST"
        assert sent.url.startswith("https://generativelanguage.googleapis.com/")
        method = "streamGenerateContent?alt=sse" if "streamGenerateContent" in sent.url else "generateContent"
        assert sent.url.endswith(f"/models/{request.model.version}:{method}")
        assert sent.headers["x-goog-api-key"] == "AIza-test-0123456789abcdef"
        body = sent.json
        expected = [{"role": "user", "parts": [{"text": m.content}]} for m in request.messages if m.role == "user"]
        assert body["contents"] == expected
        system = body.get("systemInstruction")
        assert (system["parts"][0]["text"] if system else None) == request.system
        config = body["generationConfig"]
        assert config["maxOutputTokens"] == request.max_output_tokens
        assert config.get("temperature") == request.temperature
        assert config.get("stopSequences") == request.stop
        assert "responseMimeType" not in config

    def check_json_request(self, sent: RecordedRequest) -> None:
        assert sent.json["generationConfig"]["responseMimeType"] == "application/json"
