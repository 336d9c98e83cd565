"""A local reasoning model whose chat template opens the thinking (DeepSeek-R1's since its 2025 update, QwQ), served by
vLLM without `--reasoning-parser`: only `</think>` comes back, after the reasoning. `/v1` clients receive the answer
alone, unstreamed, and streamed once the model has been seen doing so."""

from __future__ import annotations

import json
from typing import Any

import httpx2
from fastapi.testclient import TestClient
from openai import APIError, OpenAI

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore
from orchestratex_openai import VLLMProvider

REASONED = "Okay, the user asks for the capital of France. That is Paris.\n</think>\n\nThe capital of France is Paris."
ASK: Any = [{"role": "user", "content": "What is the capital of France?"}]


def handler(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    text = '{"score": 8, "feedback": "fine"}' if "TASK" in json.dumps(body["messages"]) else REASONED
    if not body.get("stream"):
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}
        answer = {"id": "c", "object": "chat.completion", "created": 1, "model": body["model"], "choices": [choice]}
        return httpx2.Response(200, json={**answer, "usage": usage})
    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
    events: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]} for c in chunks
    ]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}})
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
    sse = "".join(f"data: {json.dumps({**head, **e})}\n\n" for e in events)
    return httpx2.Response(
        200, content=(sse + "data: [DONE]\n\n").encode(), headers={"content-type": "text/event-stream"}
    )


def test_v1_clients_receive_the_answer_without_the_reasoning_a_template_opened() -> None:
    vllm = VLLMProvider(
        base_url="http://gpu:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    catalog = ModelCatalog(
        [
            ModelProfile(name="vllm:r1-distill", cost_per_1k_tokens=0, context_window=32_768, quality=9),
            ModelProfile(name="vllm:judge", cost_per_1k_tokens=0, context_window=32_768, quality=5),
        ]
    )
    store = MemoryStore()
    with TestClient(
        create_app(store, orchestrator=Orchestrator(store=store, catalog=catalog, providers=[vllm]))
    ) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        reply = client.chat.completions.create(model="vllm:r1-distill", messages=ASK)
        assert reply.choices[0].message.content == "The capital of France is Paris."

        def streamed() -> str:
            chunks = client.chat.completions.create(model="vllm:r1-distill", messages=ASK, stream=True)
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

        assert streamed() == "The capital of France is Paris."  # (seen unstreamed: its streams are held from then on)
        assert streamed() == "The capital of France is Paris."


def test_a_model_first_seen_in_a_stream_ends_it_saying_where_the_answer_is_then_streams_cleanly() -> None:
    vllm = VLLMProvider(
        base_url="http://gpu:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    catalog = ModelCatalog(
        [
            ModelProfile(name="vllm:r1-distill", cost_per_1k_tokens=0, context_window=32_768, quality=9),
            ModelProfile(name="vllm:judge", cost_per_1k_tokens=0, context_window=32_768, quality=5),
        ]
    )
    store = MemoryStore()
    with TestClient(
        create_app(store, orchestrator=Orchestrator(store=store, catalog=catalog, providers=[vllm]))
    ) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        try:
            for _ in client.chat.completions.create(model="vllm:r1-distill", messages=ASK, stream=True):
                pass
            raise AssertionError("the reasoning passed on was taken for the answer")
        except APIError as exc:  # (the reasoning went out before its end was seen: the stream says where the answer is)
            assert exc.code == "stream_interrupted" and "thinking" in exc.message
        chunks = client.chat.completions.create(model="vllm:r1-distill", messages=ASK, stream=True)
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The capital of France is Paris."
        )
