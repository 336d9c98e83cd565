"""A failed Responses API answer (`status: "failed"`, or an `error` event mid-stream) is classified by its
documented `error.code`: a policy block is not a server error, and retrying it would pay again for nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ContentFiltered, ProviderError, ProviderHTTPError, ProviderServerError, RateLimited
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
