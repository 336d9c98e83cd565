"""`/v1` tells a run's failures apart by the kind each iteration records (`Iteration.failures`), not by reading their
words: a provider's own words (a judge's refusal saying "…; category: violence") or an adapter's own exception class
no longer turn a prompt's fault, or a rate limit, into a 502 `orchestration_failed`."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from openai import BadRequestError, OpenAI, RateLimitError

from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import RateLimited
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest
from orchestratex.records import Iteration, Orchestration
from orchestratex.server import create_app, issue_api_key
from orchestratex.server._openai_chat import Target
from orchestratex.server._openai_presets import merge_presets
from orchestratex.server._openai_results import failure
from orchestratex.stores import MemoryStore
from orchestratex_openai import VLLMProvider

ASK: Any = [{"role": "user", "content": "Describe the battle of Hastings"}]
BLOCKED = {  # a guardrail in front of the judges' server refusing their prompt (which quotes the answer)
    "error": {
        "message": "Request blocked by the content guardrail; category: violence",
        "type": "invalid_request_error",
        "param": None,
        "code": "content_policy_violation",
    }
}


def server(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    if "TASK" in json.dumps(body["messages"]):  # (a judge's request)
        return httpx2.Response(400, json=BLOCKED)
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1767225600,
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "In 1066, …"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
        },
    )


def test_judges_refusing_in_words_of_their_own_is_a_content_policy_violation() -> None:
    """Every judge refused the answer on content grounds, its server saying "…; category: violence": read from the
    evaluation's words, split at each "; ", the refusal read as a judge failing otherwise, and the call was a 502."""
    vllm = VLLMProvider(
        base_url="http://gpu:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    )
    catalog = ModelCatalog(
        [
            ModelProfile(name="vllm:writer", cost_per_1k_tokens=0, context_window=32_768, quality=8),
            ModelProfile(name="vllm:judge", cost_per_1k_tokens=0, context_window=32_768, quality=5, judge_only=True),
            ModelProfile(name="vllm:spare", cost_per_1k_tokens=0, context_window=32_768, quality=5, judge_only=True),
        ]
    )
    store = MemoryStore()
    orchestrator = Orchestrator(store=store, catalog=catalog, providers=[vllm], retry=RetryPolicy(max_attempts=1))
    with TestClient(create_app(store, orchestrator=orchestrator)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(BadRequestError) as refused:
            client.chat.completions.create(model="orchestratex/fast", messages=ASK)
        assert (refused.value.code, refused.value.param) == ("content_policy_violation", "messages")
        assert "category: violence" in refused.value.message


class Throttled(RateLimited):
    """A provider of one's own's rate limit, as its adapter names it."""


def test_an_adapters_own_rate_limit_class_is_a_429() -> None:
    """A provider of one's own raising its subclass of `RateLimited` (every call refused for its rate limit, unpaid):
    the recorded class name was not `RateLimited`, so the call was a 502 with `x-should-retry: false`."""

    def busy(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 8, "feedback": "fine"}'
        raise Throttled("bedrock throttled the request (429)", retry_after=3)

    catalog = ModelCatalog(
        [
            ModelProfile(name="function:writer", cost_per_1k_tokens=0, quality=8),
            ModelProfile(name="function:judge", cost_per_1k_tokens=0, quality=5, judge_only=True),
        ]
    )
    store = MemoryStore()
    orchestrator = Orchestrator(
        store=store, catalog=catalog, providers=[FunctionProvider(busy)], retry=RetryPolicy(max_attempts=1)
    )
    with TestClient(create_app(store, orchestrator=orchestrator)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(RateLimitError) as limited:
            client.chat.completions.create(model="function:writer", messages=ASK)
        assert limited.value.code == "rate_limit_exceeded"
        assert int(limited.value.response.headers["retry-after"]) >= 3  # (the wait the provider asked for)


@pytest.mark.parametrize(
    ("errors", "status", "code"),
    [
        (
            ["vllm:a: ContextLengthExceeded: vllm model vllm:a: prompt too long (400): …"],
            400,
            "context_length_exceeded",
        ),
        (["vllm:a: RateLimited: vllm rate limit (429): slow down"], 429, "rate_limit_exceeded"),
        (["vllm:a: ProviderServerError: vllm server error (500): boom"], 502, "orchestration_failed"),
    ],
)
def test_a_run_stored_before_the_kinds_were_recorded_is_read_from_its_words(
    errors: list[str], status: int, code: str
) -> None:
    """An iteration stored by an older version (a run it began, resumed here) has `errors` and no `failures`."""
    doc = Orchestration(
        thread_id="t",
        session_id="s",
        user_id="u",
        prompt="hi",
        status="failed",
        stop_reason="error",
        error="every model failed",
        iterations=[Iteration(index=1, model_name="vllm:a", prompt="hi", phase="failed", errors=errors)],
    )
    target = Target("orchestratex/fast", merge_presets(None)["orchestratex/fast"])
    error = failure(doc, target, simulated=False)
    assert (error.status_code, error.code) == (status, code)
