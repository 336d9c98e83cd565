"""A model of the catalog that its Ollama server does not have (not pulled): `/v1` answers as OpenAI answers a model it
does not serve, a 404 `model_not_found`, not a 502 read as a server fault."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from openai import APIError, NotFoundError, OpenAI

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.orchestrator import CircuitPolicy
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore
from orchestratex_openai import OllamaProvider

PULLED = {"qwen3:8b", "llama3.2"}
HI: Any = [{"role": "user", "content": "Say hello"}]


def ollama(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    model = body["model"]
    if model not in PULLED:  # Ollama's OpenAI-compatible error for a model not pulled
        error = {"message": f'model "{model}" not found, try pulling it first', "type": "api_error", "param": None}
        return httpx2.Response(404, json={"error": error | {"code": None}})
    text = '{"score": 8, "feedback": "fine"}' if "TASK" in json.dumps(body["messages"]) else "Hello there"
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1767225600,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        },
    )


def test_a_model_its_ollama_has_not_pulled_is_a_404_model_not_found() -> None:
    provider = OllamaProvider(http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(ollama)))
    catalog = ModelCatalog(
        [
            ModelProfile(name=f"ollama:{name}", cost_per_1k_tokens=0, context_window=32_768, quality=quality)
            for name, quality in (("qwen3:8b", 8), ("llama3.2", 6), ("gemma3:4b", 7))
        ]
    )
    store = MemoryStore()
    orchestrator = Orchestrator(store=store, catalog=catalog, providers=[provider])
    with TestClient(create_app(store, orchestrator=orchestrator)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(NotFoundError) as missing:
            client.chat.completions.create(model="ollama:gemma3:4b", messages=HI)
        error = missing.value
        assert (error.status_code, error.code, error.param) == (404, "model_not_found", "model")
        assert 'model "gemma3:4b" not found, try pulling it first' in error.message  # (Ollama's own words)
        assert error.response.headers["x-should-retry"] == "false"
        body: Any = error.body
        assert body["orchestratex"]["status"] == "failed"
        with pytest.raises(APIError) as streamed:
            for _ in client.chat.completions.create(model="ollama:gemma3:4b", messages=HI, stream=True):
                pass
        assert (streamed.value.code, streamed.value.param) == ("model_not_found", "model")
        # a preset routing among the models falls back from the missing one to those pulled, as before
        reply = client.chat.completions.create(
            model="orchestratex/fast", messages=HI, extra_body={"preferred_models": ["ollama:gemma3:4b", "llama3.2"]}
        )
        assert reply.choices[0].message.content == "Hello there" and reply.model == "ollama:llama3.2"


def test_a_model_not_pulled_that_cools_down_is_still_a_404_not_a_wait() -> None:
    """Its failures in a row open its circuit: a call naming it was then a 503 `model_unavailable` with `Retry-After`
    (30 s), which the SDK waits out, to get the 404 again on its retry. It is the 404, at once, with the server's words;
    nothing is stored."""
    provider = OllamaProvider(http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(ollama)))
    catalog = ModelCatalog(
        [ModelProfile(name=f"ollama:{name}", cost_per_1k_tokens=0) for name in ("qwen3:8b", "llama3.2", "gemma3:4b")]
    )
    store = MemoryStore()
    orchestrator = Orchestrator(
        store=store, catalog=catalog, providers=[provider], circuit=CircuitPolicy(failure_threshold=1)
    )
    with TestClient(create_app(store, orchestrator=orchestrator)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(NotFoundError):  # (its circuit opens)
            client.chat.completions.create(model="ollama:gemma3:4b", messages=HI)
        assert orchestrator.circuit.state("ollama:gemma3:4b") == "open"
        stored = len(http.portal.call(store.list_orchestrations))  # type: ignore[union-attr]
        for stream in (False, True):
            with pytest.raises(NotFoundError) as missing:
                client.chat.completions.create(model="ollama:gemma3:4b", messages=HI, stream=stream)
            assert (missing.value.code, missing.value.param) == ("model_not_found", "model")
            said = missing.value.message
            assert "try pulling it first" in said and "retry-after" not in missing.value.response.headers
            assert "it is tried again in " in said  # (when its circuit lets a call through again)
        assert len(http.portal.call(store.list_orchestrations)) == stored  # type: ignore[union-attr]
