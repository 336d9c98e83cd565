"""`x-should-retry: false`: a server saying a failed call must not be made again, which the SDKs honour.

The adapters switch the SDK's retries off (the orchestrator is the one retry owner), and the orchestrator retried a
429 or 5xx whatever the server said. OrchestrateX's own `/v1` answers 502 `orchestration_failed` with
`x-should-retry: false` because the run it stood for may have spent: an OpenAI adapter pointed at it (as at any
OpenAI-compatible server) sent the call three times, starting three paid runs there.
"""

from __future__ import annotations

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ProviderServerError
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion

FAILED = Reply(  # what an OrchestrateX server's /v1 answers for a run that failed after it may have spent
    502,
    json={
        "error": {
            "message": "orchestration 65f1c0c2a9b8e4d3c2b1a090 failed: every model failed",
            "type": "server_error",
            "param": None,
            "code": "orchestration_failed",
        }
    },
    headers={"x-should-retry": "false"},
)
REMOTE = ModelProfile(name="openai:orchestratex/best", input_cost_per_1k=0.001, output_cost_per_1k=0.002, quality=9)
LOCAL = ModelProfile(name="function:fallback", input_cost_per_1k=0.0001, output_cost_per_1k=0.0002, quality=5)
GPT = ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0002, quality=4)


def provider_on(server: MockServer) -> OpenAIProvider:
    transport = server.httpx2_transport()
    return OpenAIProvider(
        api_key="ox-key", base_url="http://ox.internal:8000/v1", http_client=httpx2.AsyncClient(transport=transport)
    )


async def test_a_502_with_x_should_retry_false_is_not_retryable() -> None:
    server = MockServer(FAILED)
    request = GenerationRequest(model=REMOTE, messages=[Message(role="user", content="Hi")])
    try:
        await provider_on(server).generate(request)
    except ProviderServerError as exc:
        assert not exc.retryable and exc.status_code == 502
        assert "not retried: the server answered x-should-retry: false" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("no error")


def test_a_run_makes_the_call_once_and_falls_back() -> None:
    server = MockServer().always(FAILED)
    waits: list[float] = []

    def answer(request: GenerationRequest) -> str:
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "Hello from the fallback."

    with Orchestrator(
        catalog=ModelCatalog([REMOTE, LOCAL, JUDGE]),
        providers=[provider_on(server), FunctionProvider(answer)],
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(sleep=waits.append),
    ) as orchestrator:
        result = orchestrator.run_sync("Hi", preferred_models=[REMOTE.name, LOCAL.name], max_iterations=2)
    assert result.status == "completed" and result.final_response == "Hello from the fallback.", result.error
    assert len(server.requests) == 1 and waits == [], (len(server.requests), waits)


def test_a_409_is_retried_as_the_sdk_would_and_the_run_completes() -> None:
    """OpenAI's SDK retries a 409 (a lock timeout); with its retries off, the adapter's `ProviderHTTPError` was never
    retried and the run fell back to another model (or failed, with one model) at the first conflict."""
    answers = iter(
        [
            httpx2.Response(409, json={"error": {"message": "Lock timeout", "type": "conflict", "code": None}}),
            httpx2.Response(200, json=chat_completion(Usage(input_tokens=9, output_tokens=3), text="Four.")),
        ]
    )
    calls: list[str] = []

    def server(request: httpx2.Request) -> httpx2.Response:
        calls.append(request.url.path)
        return next(answers)

    provider = OpenAIProvider(api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))
    judge = FunctionProvider(lambda request: '{"score": 9, "feedback": "right"}', name="function")
    waits: list[float] = []
    with Orchestrator(
        catalog=ModelCatalog([GPT, JUDGE]),
        providers=[provider, judge],
        retry=RetryPolicy(sleep=waits.append),
    ) as orchestrator:
        result = orchestrator.run_sync("2+2?", preferred_models=[GPT.name], max_iterations=1)
    assert result.status == "completed" and result.final_response == "Four.", result.error
    assert result.final_model == GPT.name and len(calls) == 2 and len(waits) == 1


def test_a_408_with_x_should_retry_false_is_made_once() -> None:
    """A 408 (the server gave up waiting) saying `x-should-retry: false` was retried as every timeout is."""
    timed_out = Reply(
        408,
        json={"error": {"message": "the run timed out", "type": "server_error", "param": None, "code": "timeout"}},
        headers={"x-should-retry": "false"},
    )
    server = MockServer().always(timed_out)
    waits: list[float] = []

    def answer(request: GenerationRequest) -> str:
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "Hello from the fallback."

    with Orchestrator(
        catalog=ModelCatalog([REMOTE, LOCAL, JUDGE]),
        providers=[provider_on(server), FunctionProvider(answer)],
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(sleep=waits.append),
    ) as orchestrator:
        result = orchestrator.run_sync("Hi", preferred_models=[REMOTE.name, LOCAL.name], max_iterations=2)
    assert result.status == "completed" and result.final_response == "Hello from the fallback.", result.error
    assert len(server.requests) == 1 and waits == [], (len(server.requests), waits)
