"""gpt-oss served by llama.cpp with `llama-server --reasoning-format none` (or any server without gpt-oss's parser)
writes its channels into `content`: `<|channel|>analysis<|message|>…<|end|><|start|>assistant<|channel|>final
<|message|>answer`. The whole of it, reasoning and tags, was the answer: judged, returned to `/v1` clients (streamed
too) and sent back in a thread, where gpt-oss's chat template refuses it ("You have passed a message containing
<|channel|> tags in the content field"). The reasoning is now left out as a `<think>` block is."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx2
import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore
from orchestratex_openai import OpenAICompatibleProvider

ANSWER = "The capital of France is Paris."
RAW = (
    "<|channel|>analysis<|message|>The user asks for the capital of France. Answer briefly.<|end|>"
    f"<|start|>assistant<|channel|>final<|message|>{ANSWER}"
)
ASK: Any = [{"role": "user", "content": "What is the capital of France?"}]
judged: list[str] = []


class LlamaServer(OpenAICompatibleProvider):
    """A catalog file's `[providers.llamacpp]` endpoint (`kind = "openai"`), with the test's transport."""

    name: ClassVar[str] = "llamacpp"


def llama_server(request: httpx2.Request) -> httpx2.Response:
    """llama.cpp's `/v1/chat/completions` of gpt-oss with `--reasoning-format none` (the judge: a model of its own)."""
    body = json.loads(request.content)
    if body["model"] == "qwen3-8b":
        judged.append(body["messages"][-1]["content"])
        text = '{"score": 9, "feedback": "fine"}'
    else:
        text = RAW
    head = {"id": "chatcmpl-Xq", "created": 1767225600, "model": body["model"], "system_fingerprint": "b6000-0c3a"}
    usage = {"prompt_tokens": 80, "completion_tokens": 40, "total_tokens": 120}
    if not body.get("stream"):
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return httpx2.Response(200, json={**head, "object": "chat.completion", "choices": [choice], "usage": usage})
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]  # (tags cut across chunks, as tokens come)
    events: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces
    ]
    events += [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, {"choices": [], "usage": usage}]
    sse = "".join(f"data: {json.dumps({**head, 'object': 'chat.completion.chunk', **e})}\n\n" for e in events)
    return httpx2.Response(
        200, content=f"{sse}data: [DONE]\n\n".encode(), headers={"content-type": "text/event-stream"}
    )


@pytest.mark.parametrize("stream", [False, True])
def test_v1_clients_receive_gpt_oss_s_final_channel_alone(stream: bool) -> None:
    judged.clear()
    transport = httpx2.MockTransport(llama_server)
    local = LlamaServer(base_url="http://127.0.0.1:8080/v1", http_client=httpx2.AsyncClient(transport=transport))
    catalog = ModelCatalog(
        [
            ModelProfile(name="llamacpp:gpt-oss-20b", cost_per_1k_tokens=0, context_window=32_768, quality=9),
            ModelProfile(name="llamacpp:qwen3-8b", cost_per_1k_tokens=0, context_window=32_768, quality=5),
        ]
    )
    store = MemoryStore()
    with TestClient(
        create_app(store, orchestrator=Orchestrator(store=store, catalog=catalog, providers=[local]))
    ) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        text: str | None
        if stream:
            chunks = client.chat.completions.create(model="llamacpp:gpt-oss-20b", messages=ASK, stream=True)
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            text = client.chat.completions.create(model="llamacpp:gpt-oss-20b", messages=ASK).choices[0].message.content
    assert text == ANSWER
    assert judged and "<|channel|>" not in judged[0] and ANSWER in judged[0]
