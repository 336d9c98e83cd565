"""Gemini-specific behaviour beyond the contract: thoughts, safety finishes, RetryInfo, httpx, injected clients."""

from __future__ import annotations

from typing import Any

import httpx
import httpx2
import pytest
from google import genai
from google.genai import types

from orchestratex.catalog import ModelCatalog
from orchestratex.exceptions import (
    AuthenticationError,
    ContentFiltered,
    MalformedResponse,
    ProviderHTTPError,
    ProviderServerError,
    ProviderTimeout,
    RateLimited,
    UserError,
)
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_gemini import GeminiProvider
from orchestratex_gemini._errors import retry_after_seconds

MODEL = ModelCatalog.default().get("gemini:gemini-4-hydrogen")


def request(**overrides: Any) -> GenerationRequest:
    data: dict[str, Any] = {
        "model": MODEL,
        "messages": [
            Message(role="user", content="Hi"),
            Message(role="assistant", content="Hello!"),
            Message(role="user", content="Bye"),
        ],
        "max_output_tokens": 64,
    }
    data.update(overrides)
    return GenerationRequest(**data)


def provider_on(server: MockServer) -> GeminiProvider:
    return GeminiProvider(api_key="AIza-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport()))


def body(finish: str = "STOP", parts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts or [{"text": "ok"}]}, "finishReason": finish}],
        "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 2, "totalTokenCount": 10},
    }


async def test_assistant_turns_become_model_turns_and_thoughts_are_not_text() -> None:
    parts: list[dict[str, Any]] = [
        {"text": "Thinking about goodbyes", "thought": True},
        {"text": "Good"},
        {"text": "bye."},
    ]
    server = MockServer(Reply(200, json=body(parts=parts)))
    generation = await provider_on(server).generate(request())
    assert generation.text == "Goodbye."
    assert [c["role"] for c in server.requests[0].json["contents"]] == ["user", "model", "user"]
    assert generation.usage == Usage(input_tokens=8, output_tokens=2)


@pytest.mark.parametrize(
    "finish", ["SAFETY", "PROHIBITED_CONTENT", "RECITATION", "BLOCKLIST", "SPII", "MODEL_ARMOR", "IMAGE_RECITATION"]
)
# an older google-genai that does not know a finish (MODEL_ARMOR) warns and keeps its name: the adapter reads it
@pytest.mark.filterwarnings("ignore:.* is not a valid FinishReason:UserWarning")
async def test_safety_finishes_are_content_filtered(finish: str) -> None:
    with pytest.raises(ContentFiltered, match=finish):
        await provider_on(MockServer(Reply(200, json=body(finish)))).generate(request())


@pytest.mark.parametrize("finish", ["OTHER", "MALFORMED_FUNCTION_CALL"])
async def test_unknown_finish_reason_is_passed_through_lower_case(finish: str) -> None:
    generation = await provider_on(MockServer(Reply(200, json=body(finish)))).generate(request())
    assert generation.finish_reason == finish.lower()  # (no tool was called: never "tool_calls")


async def test_rate_limit_retry_delay_from_the_body() -> None:
    error = {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"},
        ],
    }
    with pytest.raises(RateLimited) as info:
        await provider_on(MockServer(Reply(429, json={"error": error}))).generate(request())
    assert info.value.retry_after == 26.0
    assert retry_after_seconds({"retry-after": "3"}, {"error": error}) == 3.0
    nan = {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "nans"}]}
    assert retry_after_seconds({}, {"error": nan}) is None  # no finite number: no wait


async def test_invalid_api_key_400_is_an_authentication_error() -> None:
    error = {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
    }
    with pytest.raises(AuthenticationError, match="GEMINI_API_KEY"):
        await provider_on(MockServer(Reply(400, json={"error": error}))).generate(request())


@pytest.mark.parametrize(
    ("status", "grpc", "cls"),
    [
        (504, "DEADLINE_EXCEEDED", ProviderTimeout),
        (408, "DEADLINE_EXCEEDED", ProviderTimeout),
        (504, "UNAVAILABLE", ProviderServerError),
        (408, "CANCELLED", ProviderHTTPError),
    ],
)
async def test_a_deadline_exceeded_is_a_timeout(status: int, grpc: str, cls: type[Exception]) -> None:
    error = {"code": status, "message": "The request took too long.", "status": grpc}
    with pytest.raises(cls) as info:
        await provider_on(MockServer(Reply(status, json={"error": error}))).generate(request())
    assert type(info.value) is cls
    assert f"({status}): {grpc} The request took too long." in str(info.value)


async def test_works_over_an_httpx_client_too() -> None:
    server = MockServer(Reply(200, json=body()))
    provider = GeminiProvider(api_key="AIza-test", http_client=httpx.AsyncClient(transport=server.httpx_transport()))
    assert (await provider.generate(request())).text == "ok"
    server.queue(Reply(fail="timeout"))
    with pytest.raises(Exception) as info:
        await provider.generate(request())
    assert type(info.value).__name__ == "ProviderTimeout"


async def test_injected_client_with_retries_still_makes_one_attempt() -> None:
    server = MockServer().always(
        Reply(503, json={"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
    )
    http = httpx2.AsyncClient(transport=server.httpx2_transport())
    options = types.HttpOptions(
        retry_options=types.HttpRetryOptions(attempts=5, initial_delay=0, max_delay=0), httpx_async_client=http
    )
    client = genai.Client(api_key="AIza-test", vertexai=False, http_options=options)
    provider = GeminiProvider(client=client)
    with pytest.raises(ProviderServerError):
        await provider.generate(request())
    assert len(server.requests) == 1
    await provider.aclose()
    assert not http.is_closed


async def test_an_error_body_that_is_not_utf8_is_a_malformed_response() -> None:
    """google-genai decodes a 200 leniently (U+FFFD) but an error's body strictly: a raw UnicodeDecodeError before."""
    server = MockServer(
        Reply(503, content=b"<h1>Service indisponible \xe9</h1>", headers={"content-type": "text/html"})
    )
    with pytest.raises(MalformedResponse, match="not UTF-8") as raised:
        await provider_on(server).generate(request())
    assert raised.value.model == MODEL.name and not raised.value.retryable


async def test_google_api_key_works_too_and_wins() -> None:
    assert GeminiProvider.is_configured({"GOOGLE_API_KEY": "AIza-g"})
    provider = GeminiProvider.from_env({"GOOGLE_API_KEY": "AIza-g", "GEMINI_API_KEY": "AIza-m"})
    assert provider._client._api_client.api_key == "AIza-g"
    await provider.aclose()


def test_from_env_reads_the_base_url() -> None:
    provider = GeminiProvider.from_env({"GEMINI_API_KEY": "AIza-m", "GOOGLE_GEMINI_BASE_URL": "https://proxy.example/"})
    assert provider.base_url == "https://proxy.example/"


def test_bad_arguments_are_user_errors() -> None:
    with pytest.raises(UserError, match="either client"):
        GeminiProvider(api_key="AIza", client=genai.Client(api_key="AIza", vertexai=False))


async def test_the_model_that_answered_is_the_model_version_the_response_names() -> None:
    """`modelVersion` names the model that answered (`gen_ai.response.model` in traces); a response without it has
    none."""
    named = {**body(), "modelVersion": "gemini-2.5-flash-preview-05-20"}
    assert (await provider_on(MockServer(Reply(200, json=named))).generate(request())).response_model == (
        "gemini-2.5-flash-preview-05-20"
    )
    assert (await provider_on(MockServer(Reply(200, json=body()))).generate(request())).response_model is None


def test_the_clients_async_half_is_refused_with_what_to_pass() -> None:
    """`GeminiProvider(client=genai.Client(...).aio)` (the async half, which is what one awaits) was taken, and every
    call failed with `AttributeError: 'AsyncClient' object has no attribute 'aio'`, a traceback ending the run."""
    client = genai.Client(api_key="AIza-test", vertexai=False)
    with pytest.raises(UserError, match=r"client= takes a google\.genai\.Client, not .*AsyncClient \(its async half"):
        GeminiProvider(client=client.aio)  # type: ignore[arg-type]
