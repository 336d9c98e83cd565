"""A failed Responses API answer (`status: "failed"`, or an `error` event mid-stream) is classified by its
documented `error.code`: a policy block is not a server error, and retrying it would pay again for nothing; an input
over the model's context window (`context_length_exceeded`, which a stream says in a `response.failed` event) is a
`ContextLengthExceeded`, so the run falls back to a model with a larger window (it was a plain 400)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import (
    ContentFiltered,
    ContextLengthExceeded,
    ProviderError,
    ProviderHTTPError,
    ProviderServerError,
    RateLimited,
)
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import responses_object

MODEL = ModelProfile(name="openai:gpt-5-pro", input_cost_per_1k=0.015, output_cost_per_1k=0.12, quality=9)
OTHER = ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=5)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)

CASES = [
    ("invalid_prompt", ContentFiltered, False),
    ("bio_policy", ContentFiltered, False),
    ("misalignment_policy_violation", ContentFiltered, False),
    ("rate_limit_exceeded", RateLimited, True),
    ("server_error", ProviderServerError, True),
    ("invalid_image_url", ProviderHTTPError, False),
    ("context_length_exceeded", ContextLengthExceeded, False),
    ("server_is_overloaded", ProviderServerError, True),  # (OpenAI's 503, said in a stream: was not retried)
    ("slow_down", RateLimited, True),  # (OpenAI's 429, likewise)
]


def failed(code: str) -> dict[str, Any]:
    body = responses_object(Usage(input_tokens=10, output_tokens=0), text="")
    body.update(status="failed", error={"code": code, "message": f"refused: {code}"}, output=[])
    return body


def request() -> GenerationRequest:
    return GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hi")], max_output_tokens=50)


def provider_on(server: MockServer) -> OpenAIProvider:
    client = httpx2.AsyncClient(transport=server.httpx2_transport())
    return OpenAIProvider(api_key="sk-test", http_client=client, api="responses")


@pytest.mark.parametrize(("code", "expected", "retryable"), CASES)
async def test_a_failed_response_is_classified_by_its_code(
    code: str, expected: type[ProviderError], retryable: bool
) -> None:
    with pytest.raises(ProviderError, match=f"refused: {code}") as raised:
        await provider_on(MockServer(Reply(200, json=failed(code)))).generate(request())
    assert type(raised.value) is expected and raised.value.retryable is retryable


def error_stream(code: str) -> bytes:
    created = {**responses_object(Usage(), text=""), "status": "in_progress", "output": [], "usage": None}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": created},
        {"type": "error", "sequence_number": 1, "code": code, "message": f"refused: {code}", "param": None},
    ]
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


@pytest.mark.parametrize(("code", "expected", "retryable"), CASES)
async def test_an_error_event_in_a_response_stream_is_classified_by_its_code(
    code: str, expected: type[ProviderError], retryable: bool
) -> None:
    server = MockServer(Reply(200, content=error_stream(code), headers={"content-type": "text/event-stream"}))

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ProviderError, match=f"refused: {code}") as raised:
        await provider_on(server).generate_stream(request(), on_text)
    assert type(raised.value) is expected and raised.value.retryable is retryable


async def test_a_policy_block_is_not_retried_and_the_run_falls_back() -> None:
    sent: list[str] = []

    def handler(http_request: httpx2.Request) -> httpx2.Response:
        model = json.loads(http_request.content)["model"]
        sent.append(model)
        if model == "gpt-5-pro":
            return httpx2.Response(200, json=failed("invalid_prompt"))
        return httpx2.Response(200, json=responses_object(Usage(input_tokens=10, output_tokens=5), text="Hello"))

    openai = OpenAIProvider(
        api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)), api="responses"
    )
    judge = FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))
    orch = Orchestrator(
        providers=[openai, judge],
        catalog=ModelCatalog([MODEL, OTHER, JUDGE]),
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0),
        judges=["function:judge"],
    )
    result = await orch.run("Hi", preferred_models=["openai:gpt-5-pro", "openai:gpt-4.1"], max_iterations=1)
    assert sent.count("gpt-5-pro") == 1  # once: a policy block is not a server error to retry
    assert result.status == "completed" and result.final_response == "Hello"
    assert any("ContentFiltered" in e for e in result.orchestration.iterations[0].errors)


async def test_a_stream_failed_for_its_context_window_falls_back_to_a_larger_one() -> None:
    """OpenAI streams an input over the context window as a `response.failed` event ("Your input exceeds the context
    window of this model. Please adjust your input and try again.")."""
    small = ModelProfile(name="openai:gpt-5-pro", input_cost_per_1k=0.015, output_cost_per_1k=0.12, quality=9)
    large = ModelProfile(
        name="function:large", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=5, context_window=1_000_000
    )
    body = failed("context_length_exceeded")
    body["error"]["message"] = (
        "Your input exceeds the context window of this model. Please adjust your input and try again."
    )
    events = [{"type": "response.failed", "sequence_number": 1, "response": body}]
    stream = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
    server = MockServer().always(Reply(200, content=stream, headers={"content-type": "text/event-stream"}))
    function = FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "ok"}) if r.purpose == "judge" else "Hi")
    async with Orchestrator(
        providers=[provider_on(server), function],
        catalog=ModelCatalog([small, large, JUDGE]),
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0),
        judges=["function:judge"],
    ) as orchestrator:
        async with orchestrator.run_stream("Hi", preferred_models=[small.name, large.name], max_iterations=1) as run:
            async for _ in run:
                pass
    result = run.result
    assert result is not None and result.final_model == large.name, result
    assert len(server.requests) == 1  # (not retried: the same input does not fit on a second try)
    assert "ContextLengthExceeded" in result.orchestration.iterations[0].errors[0]
