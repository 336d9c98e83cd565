"""A call whose model's provider refused every call for its rate limit (429, unpaid): `/v1` answers 429
`rate_limit_exceeded` with `Retry-After`, as OpenAI does, so the SDK waits and tries again; it was a 502
`orchestration_failed` with `x-should-retry: false`, which said to give up."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from openai import APIError, InternalServerError, OpenAI, RateLimitError

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.orchestrator import CircuitPolicy, RetryPolicy
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore
from orchestratex_openai import VLLMProvider

ASK: Any = [{"role": "user", "content": "Name a prime"}]
LIMITED = {  # a rate limit's 429, as OpenAI (and a LiteLLM proxy in front of a local server) answers it
    "error": {
        "message": "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}


def handler(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    if body["model"] == "busy":
        return httpx2.Response(429, json=LIMITED, headers={"retry-after": "20"})
    text = '{"score": 8, "feedback": "fine"}' if "TASK" in json.dumps(body["messages"]) else "7"
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1767225600,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
        },
    )


def test_a_call_every_model_of_which_is_rate_limited_is_a_429_with_retry_after() -> None:
    vllm = VLLMProvider(
        base_url="http://gpu:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    catalog = ModelCatalog(
        [
            ModelProfile(name="vllm:busy", cost_per_1k_tokens=0, context_window=32_768, quality=8),
            ModelProfile(name="vllm:judge", cost_per_1k_tokens=0, context_window=32_768, quality=5),
            ModelProfile(name="vllm:spare", cost_per_1k_tokens=0, context_window=32_768, quality=5),
        ]
    )
    store = MemoryStore()
    orchestrator = Orchestrator(
        store=store,
        catalog=catalog,
        providers=[vllm],
        retry=RetryPolicy(max_attempts=1),
        circuit=CircuitPolicy(failure_threshold=2, cooldown_s=120),
    )
    with TestClient(create_app(store, orchestrator=orchestrator)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(APIError) as streamed:  # (its first failure: the model's circuit stays closed)
            for _ in client.chat.completions.create(model="vllm:busy", messages=ASK, stream=True):
                pass
        assert streamed.value.code == "rate_limit_exceeded"
        with pytest.raises(RateLimitError) as limited:  # (its second: the circuit opens for 120 s)
            client.chat.completions.create(model="vllm:busy", messages=ASK)
        error = limited.value
        assert (error.status_code, error.code) == (429, "rate_limit_exceeded")
        assert "Rate limit reached for requests per min" in error.message
        assert 100 <= int(error.response.headers["Retry-After"]) <= 120  # (when the model is tried again)
        assert error.response.headers.get("x-should-retry") != "false"  # (nothing was paid: the SDK may retry)
        assert isinstance(error.body, dict) and error.body["orchestratex"]["cost"] == 0.0
        done = client.chat.completions.create(model="vllm:judge", messages=ASK)  # (another model answers)
        assert done.choices[0].message.content == "7"


def test_an_answer_whose_judges_are_all_rate_limited_is_not_a_429_the_sdk_retries() -> None:
    """The answer was written and paid for: the judges' 429s, quoted in the run's error ("no judge produced a verdict
    (vllm:judge: RateLimited: …)"), made it a 429 without `x-should-retry: false`, so the SDK asked again and paid for
    another answer each time."""
    answers: list[str] = []

    def judges_limited(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if "TASK" in json.dumps(body["messages"]):  # (a judge's request)
            return httpx2.Response(429, json=LIMITED, headers={"retry-after": "20"})
        answers.append(body["model"])
        return handler(request)

    vllm = VLLMProvider(
        base_url="http://gpu:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(judges_limited))
    )
    catalog = ModelCatalog(
        [
            ModelProfile(name="vllm:writer", input_cost_per_1k=0.01, output_cost_per_1k=0.01, quality=8),
            ModelProfile(name="vllm:judge", input_cost_per_1k=0.01, output_cost_per_1k=0.01, quality=5),
        ]
    )
    store = MemoryStore()
    orchestrator = Orchestrator(store=store, catalog=catalog, providers=[vllm], retry=RetryPolicy(max_attempts=1))
    with TestClient(create_app(store, orchestrator=orchestrator)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http)  # (the SDK's own retries)
        with pytest.raises(InternalServerError) as failed:
            client.chat.completions.create(model="vllm:writer", messages=ASK)
        error = failed.value
        assert (error.status_code, error.code) == (502, "orchestration_failed")
        assert "RateLimited" in error.message  # (the judges' failures, as the run recorded them)
        assert error.response.headers["x-should-retry"] == "false"
        assert isinstance(error.body, dict) and error.body["orchestratex"]["cost"] > 0
        assert answers == ["writer"]  # (asked once: not again by the SDK's retries)


def test_the_retry_after_a_provider_asked_for_is_passed_on() -> None:
    """The run's recorded failure kept no wait, so a call whose model's circuit stayed closed was answered
    `Retry-After: 1` when the provider had said 7 s: the SDK asked again at once, to be refused again."""

    def limited_for_7_s(request: httpx2.Request) -> httpx2.Response:
        if json.loads(request.content)["model"] == "busy":
            return httpx2.Response(429, json=LIMITED, headers={"retry-after": "7"})
        return handler(request)

    vllm = VLLMProvider(
        base_url="http://gpu:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(limited_for_7_s))
    )
    catalog = ModelCatalog(
        [
            ModelProfile(name="vllm:busy", cost_per_1k_tokens=0, context_window=32_768, quality=8),
            ModelProfile(name="vllm:judge", cost_per_1k_tokens=0, context_window=32_768, quality=5),
        ]
    )
    store = MemoryStore()
    orchestrator = Orchestrator(store=store, catalog=catalog, providers=[vllm], retry=RetryPolicy(max_attempts=1))
    with TestClient(create_app(store, orchestrator=orchestrator)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(RateLimitError) as limited:
            client.chat.completions.create(model="vllm:busy", messages=ASK)
        assert limited.value.response.headers["Retry-After"] == "7"
        assert "(the provider asked to retry after 7 s)" in limited.value.message
