"""A conversation the models' server refuses as too long for their context (the catalog giving a larger window than the
server runs, as Ollama's 4,096 by default): `/v1` answers as OpenAI and the server itself answer a prompt too long."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from openai import APIError, BadRequestError, InternalServerError, OpenAI

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.orchestrator import RetryPolicy
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore
from orchestratex_openai import VLLMProvider

TOO_LONG = {  # vLLM's documented error body for a prompt past its --max-model-len
    "object": "error",
    "message": "This model's maximum context length is 4096 tokens. However, you requested 5233 tokens (3185 in the"
    " messages, 2048 in the completion). Please reduce the length of the messages or completion.",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
LONG: Any = [{"role": "user", "content": "Summarise this document:\n" + "The tide rises twice a day. " * 450}]


def handler(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    if "TASK" in json.dumps(body["messages"]):  # (a judge's request)
        return httpx2.Response(200, json=completion('{"score": 8, "feedback": "fine"}', body["model"]))
    if len(json.dumps(body["messages"])) > 8_000:
        return httpx2.Response(400, json=TOO_LONG)
    return httpx2.Response(200, json=completion("The tide rises twice a day.", body["model"]))


def completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1767225600,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38},
    }


def test_a_prompt_every_model_s_server_refuses_as_too_long_is_a_400_context_length_exceeded() -> None:
    vllm = VLLMProvider(
        base_url="http://gpu:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    catalog = ModelCatalog(
        [
            ModelProfile(name="vllm:qwen3-8b", cost_per_1k_tokens=0, context_window=32_768, quality=8),
            ModelProfile(name="vllm:llama3.1-8b", cost_per_1k_tokens=0, context_window=32_768, quality=6),
        ]
    )
    store = MemoryStore()
    orchestrator = Orchestrator(store=store, catalog=catalog, providers=[vllm])
    with TestClient(create_app(store, orchestrator=orchestrator)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(BadRequestError) as refused:
            client.chat.completions.create(model="orchestratex/fast", messages=LONG)
        error = refused.value
        assert (error.code, error.param, error.status_code) == ("context_length_exceeded", "messages", 400)
        assert "maximum context length is 4096 tokens" in error.message  # (the server's own words)
        assert error.response.headers["x-should-retry"] == "false"
        with pytest.raises(APIError) as streamed:
            for _ in client.chat.completions.create(model="orchestratex/fast", messages=LONG, stream=True):
                pass
        assert (streamed.value.code, streamed.value.param) == ("context_length_exceeded", "messages")
        short: Any = [{"role": "user", "content": "Summarise: the tide rises twice a day."}]
        reply = client.chat.completions.create(model="orchestratex/fast", messages=short)
        assert reply.choices[0].message.content == "The tide rises twice a day."


def test_a_run_whose_models_failed_otherwise_too_is_still_a_502() -> None:
    """Only a run whose every call was refused as too long is the prompt's fault: a server down for one model is not."""
    calls: list[str] = []

    def mixed(request: httpx2.Request) -> httpx2.Response:
        model = json.loads(request.content)["model"]
        calls.append(model)
        if model == "llama3.1-8b":
            return httpx2.Response(503, json={"object": "error", "message": "overloaded", "code": 503})
        return httpx2.Response(400, json=TOO_LONG)

    vllm = VLLMProvider(
        base_url="http://gpu:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(mixed))
    )
    catalog = ModelCatalog(
        [
            ModelProfile(name="vllm:qwen3-8b", cost_per_1k_tokens=0, context_window=32_768, quality=8),
            ModelProfile(name="vllm:llama3.1-8b", cost_per_1k_tokens=0, context_window=65_536, quality=6),
            ModelProfile(name="vllm:judge", cost_per_1k_tokens=0, context_window=65_536, quality=5),
        ]
    )
    store = MemoryStore()
    orchestrator = Orchestrator(store=store, catalog=catalog, providers=[vllm], retry=RetryPolicy(max_attempts=1))
    with TestClient(create_app(store, orchestrator=orchestrator)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(InternalServerError) as failed:
            client.chat.completions.create(
                model="orchestratex/fast",
                messages=LONG,
                extra_body={"preferred_models": ["vllm:qwen3-8b", "vllm:llama3.1-8b"]},
            )
        assert failed.value.code == "orchestration_failed" and {"qwen3-8b", "llama3.1-8b"} <= set(calls)
