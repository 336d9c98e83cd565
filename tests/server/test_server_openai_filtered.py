"""A call every model's provider refused on content grounds: `/v1` answers 400 `content_policy_violation` naming
`messages`, which no retry passes; it was a 502 `orchestration_failed`, a server fault to clients, and those that fall
back to another deployment on a content policy violation (LiteLLM's `content_policy_fallbacks`) never did."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from openai import APIError, BadRequestError, InternalServerError, OpenAI

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore
from orchestratex_openai import VLLMProvider

ASK: Any = [{"role": "user", "content": "Name a prime"}]
FILTERED = {  # a content filter's refusal of the prompt, as Azure OpenAI (and gateways in front of it) answer it
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
    }
}


def serve(refuse: set[str]) -> tuple[TestClient, MemoryStore]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if body["model"] in refuse:
            return httpx2.Response(400, json=FILTERED)
        if body["model"] == "down":
            return httpx2.Response(500, json={"error": {"message": "boom", "type": "server_error"}})
        text = '{"score": 8, "feedback": "fine"}' if "TASK" in json.dumps(body["messages"]) else "7"
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}
        return httpx2.Response(
            200,
            json={
                "id": "c",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [choice],
                "usage": usage,
            },
        )

    gateway = VLLMProvider(
        base_url="http://gateway:4000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    catalog = ModelCatalog(
        [ModelProfile(name=f"vllm:{n}", cost_per_1k_tokens=0, context_window=32_768) for n in ("a", "b", "down", "j")]
    )
    store = MemoryStore()
    return TestClient(
        create_app(store, orchestrator=Orchestrator(store=store, catalog=catalog, providers=[gateway]))
    ), store


def test_a_call_every_model_refused_on_content_grounds_is_a_400_content_policy_violation() -> None:
    http, store = serve({"a", "b"})
    with http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        models = {"preferred_models": ["vllm:a", "vllm:b"]}
        with pytest.raises(BadRequestError) as refused:
            client.chat.completions.create(model="orchestratex/fast", messages=ASK, extra_body=models)
        error = refused.value
        assert (error.code, error.param, error.status_code) == ("content_policy_violation", "messages", 400)
        assert "content management policy" in error.message and error.type == "invalid_request_error"
        with pytest.raises(APIError) as streamed:
            for _ in client.chat.completions.create(
                model="orchestratex/fast", messages=ASK, stream=True, extra_body=models
            ):
                pass
        assert streamed.value.code == "content_policy_violation"
        # a run whose models also failed otherwise is still the server's failure
        with pytest.raises(InternalServerError) as failed:
            client.chat.completions.create(
                model="orchestratex/fast", messages=ASK, extra_body={"preferred_models": ["vllm:a", "vllm:down"]}
            )
        assert failed.value.code == "orchestration_failed"
