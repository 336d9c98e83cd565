"""A run whose answer no judge gave a verdict on, the judges failing for different reasons (one refused the prompt as
too long, another's server failed): `/v1` answers the generic 502, as for models that failed so; a 400
`context_length_exceeded` or `content_policy_violation` only when every judge failed for that reason."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from openai import BadRequestError, InternalServerError, OpenAI

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.orchestrator import RetryPolicy
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore
from orchestratex_openai import VLLMProvider

ASK: Any = [{"role": "user", "content": "Name a prime"}]
TOO_LONG = {  # vLLM's error body for a prompt past its --max-model-len
    "object": "error",
    "message": "This model's maximum context length is 4096 tokens. However, you requested 5233 tokens (3185 in the"
    " messages, 2048 in the completion). Please reduce the length of the messages or completion.",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
FILTERED = {  # Azure OpenAI's refusal on content grounds
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
    }
}
DOWN = {"object": "error", "message": "overloaded", "code": 500}


def serve(judges: dict[str, tuple[int, dict[str, Any]]]) -> tuple[TestClient, MemoryStore]:
    """A gateway whose model `a` answers and whose judges answer as `judges` says."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if body["model"] in judges:
            status, error = judges[body["model"]]
            return httpx2.Response(status, json=error)
        choice = {"index": 0, "message": {"role": "assistant", "content": "7"}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}
        answer = {"id": "c", "object": "chat.completion", "created": 1, "model": body["model"], "choices": [choice]}
        return httpx2.Response(200, json={**answer, "usage": usage})

    gateway = VLLMProvider(
        base_url="http://gateway:4000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    catalog = ModelCatalog(
        [ModelProfile(name=f"vllm:{n}", cost_per_1k_tokens=0, context_window=32_768) for n in ("a", "j", "k")]
    )
    store = MemoryStore()
    orchestrator = Orchestrator(store=store, catalog=catalog, providers=[gateway], retry=RetryPolicy(max_attempts=1))
    return TestClient(create_app(store, orchestrator=orchestrator)), store


def ask(judges: dict[str, tuple[int, dict[str, Any]]]) -> Exception:
    http, store = serve(judges)
    with http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        models = {"preferred_models": ["vllm:a"], "max_iterations": 1}
        with pytest.raises((BadRequestError, InternalServerError)) as failed:
            client.chat.completions.create(model="orchestratex/fast", messages=ASK, extra_body={"orchestratex": models})
        return failed.value


@pytest.mark.parametrize("refusal", [TOO_LONG, FILTERED], ids=["too long", "filtered"])
def test_judges_that_failed_for_different_reasons_are_a_502(refusal: dict[str, Any]) -> None:
    """One judge's refusal made the run a 400 telling the client to shorten or reword its prompt, which no judge but one
    had refused: the other judge's server had failed."""
    error = ask({"j": (400, refusal), "k": (500, DOWN)})
    assert isinstance(error, InternalServerError)
    assert (error.code, error.status_code) == ("orchestration_failed", 502)
    assert "overloaded" in error.message


@pytest.mark.parametrize(
    ("refusal", "code"),
    [(TOO_LONG, "context_length_exceeded"), (FILTERED, "content_policy_violation")],
    ids=["too long", "filtered"],
)
def test_judges_that_all_failed_for_one_reason_are_its_400(refusal: dict[str, Any], code: str) -> None:
    error = ask({"j": (400, refusal), "k": (400, refusal)})
    assert isinstance(error, BadRequestError)
    assert (error.code, error.param, error.status_code) == (code, "messages", 400)
