"""OpenAI-specific behaviour beyond the shared contract: API choice, reasoning models, injected clients, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx2
import openai
import pytest

from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import (
    ContentFiltered,
    MalformedResponse,
    ModelNotFound,
    ProviderHTTPError,
    ProviderNotConfigured,
    ProviderServerError,
    RateLimited,
    UserError,
)
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider
from orchestratex_openai._errors import retry_after_seconds
from orchestratex_openai._mapping import is_reasoning_model, responses_only_models

from .test_openai_contract import chat_completion, responses_object
from .test_openai_streaming import EVENTS, chunk

CATALOG = ModelCatalog.default()


def request(model: str | ModelProfile = "openai:gpt-4.1", **overrides: Any) -> GenerationRequest:
    profile = CATALOG.get(model) if isinstance(model, str) else model
    data: dict[str, Any] = {
        "model": profile,
        "messages": [Message(role="system", content="Be brief."), Message(role="user", content="Count to ten.")],
        "max_output_tokens": 100,
    }
    data.update(overrides)
    return GenerationRequest(**data)


def provider_on(server: MockServer) -> OpenAIProvider:
    return OpenAIProvider(api_key="sk-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport()))


OK = Reply(200, json=chat_completion(Usage(input_tokens=10, output_tokens=5), text="1, 2, 3 STOP 4"))
STREAMED = Reply(200, content=b"".join(EVENTS), headers={"content-type": "text/event-stream"})


async def test_auto_api_uses_responses_for_responses_only_models() -> None:
    assert "gpt-5-pro" in responses_only_models()
    assert "gpt-4.1" not in responses_only_models() and "gpt-5" not in responses_only_models()
    pro = ModelProfile(name="openai:gpt-5-pro", input_cost_per_1k=0.015, output_cost_per_1k=0.12)
    server = MockServer(
        Reply(200, json=responses_object(Usage(input_tokens=9, output_tokens=30, reasoning_tokens=20), text="ten"))
    )
    server.queue(OK)
    provider = provider_on(server)
    generation = await provider.generate(request(pro))
    assert server.requests[0].url.endswith("/v1/responses")
    assert generation.usage == Usage(input_tokens=9, output_tokens=30, reasoning_tokens=20)
    await provider.generate(request())
    assert server.requests[1].url.endswith("/v1/chat/completions")


async def test_reasoning_models_get_no_temperature_or_stop_and_stop_is_applied_to_the_text() -> None:
    assert is_reasoning_model("gpt-5-mini") and is_reasoning_model("o3") and not is_reasoning_model("gpt-4.1")
    assert is_reasoning_model("gpt-6.2-sol") and is_reasoning_model("gpt-6-luna")
    assert not is_reasoning_model("gpt-5-chat-latest")
    server = MockServer(OK)
    generation = await provider_on(server).generate(request("openai:gpt-6.2-sol", temperature=0.3, stop=["STOP"]))
    body = server.requests[0].json
    assert "temperature" not in body and "stop" not in body
    assert body["max_completion_tokens"] == 100
    assert generation.text == "1, 2, 3 "
    assert generation.finish_reason == "stop"


async def test_injected_sdk_client_has_its_retries_switched_off() -> None:
    server = MockServer().always(Reply(500, json={"error": {"message": "boom", "type": "server_error"}}))
    http = httpx2.AsyncClient(transport=server.httpx2_transport())
    client = openai.AsyncOpenAI(api_key="sk-test", max_retries=5, http_client=http)
    provider = OpenAIProvider(client=client)
    with pytest.raises(ProviderServerError):
        await provider.generate(request())
    assert len(server.requests) == 1
    await provider.aclose()
    assert not http.is_closed  # never closes what it did not open
    await client.close()


def test_bad_arguments_are_user_errors() -> None:
    client = openai.AsyncOpenAI(api_key="sk-test")
    with pytest.raises(UserError, match="either client"):
        OpenAIProvider(api_key="sk-other", client=client)
    with pytest.raises(UserError, match="api must be"):
        OpenAIProvider(api_key="sk-test", api="completions")  # type: ignore[arg-type]


async def test_owned_client_is_closed() -> None:
    provider = OpenAIProvider(api_key="sk-test")
    client = provider._client  # the running loop's
    await provider.aclose()
    assert client.is_closed()


def test_from_env_reads_key_and_base_url() -> None:
    provider = OpenAIProvider.from_env({"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "https://proxy.example/v1"})
    assert provider.base_url == "https://proxy.example/v1/"
    assert OpenAIProvider.from_env({"OPENAI_API_KEY": "sk-env"}).base_url == "https://api.openai.com/v1/"


def test_openai_base_url_alone_configures_a_keyless_local_server() -> None:
    assert OpenAIProvider.is_configured({"OPENAI_BASE_URL": "http://localhost:11434/v1"})
    assert not OpenAIProvider.is_configured({"OPENAI_BASE_URL": "https://api.openai.com/v1"})
    provider = OpenAIProvider.from_env({"OPENAI_BASE_URL": "http://localhost:11434/v1"})
    assert provider.base_url == "http://localhost:11434/v1/"
    with pytest.raises(ProviderNotConfigured, match="OPENAI_API_KEY"):
        OpenAIProvider(api_key=None, base_url="https://api.openai.com/v1/")


@pytest.mark.parametrize(
    ("base_url", "sent", "stream"),
    [
        (None, "max_completion_tokens", False),
        ("https://api.openai.com/v1", "max_completion_tokens", True),
        ("https://eu.api.openai.com/v1", "max_completion_tokens", False),
        ("http://localhost:11434/v1", "max_tokens", False),
        ("http://localhost:11434/v1", "max_tokens", True),
        ("https://litellm.internal.example/v1", "max_tokens", False),
    ],
)
async def test_the_output_limit_is_max_tokens_on_any_server_but_openai_s_own(
    base_url: str | None, sent: str, stream: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if base_url is not None:
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)  # how the docs point the `openai` provider elsewhere
    server = MockServer(STREAMED if stream else OK)
    provider = provider_on(server)
    if stream:

        async def ignore(text: str) -> None:
            return None

        await provider.generate_stream(request(), ignore)
    else:
        await provider.generate(request())
    body = server.requests[0].json
    other = {"max_tokens", "max_completion_tokens"} - {sent}
    assert body[sent] == 100 and not other & set(body), body
    assert provider.output_limit_param == sent


def test_a_class_that_names_its_output_limit_parameter_keeps_it() -> None:
    class Pinned(OpenAIProvider):
        max_tokens_param = "max_completion_tokens"

    assert (
        Pinned(api_key="sk", base_url="https://azure.example/openai/v1").output_limit_param == "max_completion_tokens"
    )


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (
            429,
            {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"},
            ProviderHTTPError,
        ),
        (
            400,
            {
                "message": "Your request was rejected by our safety system",
                "type": "invalid_request_error",
                "code": "content_policy_violation",
            },
            ContentFiltered,
        ),
        (503, {"message": "The engine is currently overloaded", "type": "server_error"}, ProviderServerError),
        (  # where the request comes from, not the key (was an AuthenticationError saying to set a valid key)
            403,
            {
                "code": "unsupported_country_region_territory",
                "message": "Country, region, or territory not supported",
                "param": None,
                "type": "request_forbidden",
            },
            ProviderHTTPError,
        ),
        (  # a model the key's project may not use: the key is good for the others
            403,
            {
                "message": "Project `proj_Fk3lD` does not have access to model `o3-pro`",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            },
            ProviderHTTPError,
        ),
        (  # the request alone is larger than the organization's per-minute limit: every attempt gets it (was retried)
            429,
            {
                "message": "Request too large for gpt-4o in organization org-2itOgSdqw0DhUYp0QyLhttLL on tokens per min"
                " (TPM): Limit 30000, Requested 36278. The input or output tokens must be reduced in order to run"
                " successfully. Visit https://platform.openai.com/account/rate-limits to learn more.",
                "type": "tokens",
                "param": None,
                "code": "rate_limit_exceeded",
            },
            ProviderHTTPError,
        ),
        (  # a model the server does not serve (retired, mistyped in a catalog): not retried, the next model answers
            404,
            {"message": "The model `gpt-9` does not exist", "type": "invalid_request_error", "code": "model_not_found"},
            ModelNotFound,
        ),
    ],
)
async def test_more_error_bodies(status: int, error: dict[str, object], expected: type[Exception]) -> None:
    server = MockServer(Reply(status, json={"error": error}))
    with pytest.raises(ProviderHTTPError) as info:
        await provider_on(server).generate(request())
    assert type(info.value) is expected
    assert not isinstance(info.value, RateLimited)
    assert len(server.requests) == 1


async def test_refusal_is_content_filtered() -> None:
    body = chat_completion(Usage(input_tokens=10, output_tokens=5), text="")
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    with pytest.raises(ContentFiltered, match="can't help") as refused:
        await provider_on(MockServer(Reply(200, json=body))).generate(request())
    # (billed as any answer: the orchestrator counts what the usage costs)
    assert refused.value.usage == Usage(input_tokens=10, output_tokens=5)


async def test_an_answer_the_content_filter_withheld_carries_its_usage_streamed_or_not() -> None:
    body = chat_completion(Usage(input_tokens=30, output_tokens=12), text="", finish="content_filter")
    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({}, finish="content_filter"),
        chunk({}, usage=Usage(input_tokens=30, output_tokens=12)),
        b"data: [DONE]\n\n",
    ]
    server = MockServer(Reply(200, json=body))
    server.queue(Reply(200, content=b"".join(events), headers={"content-type": "text/event-stream"}))
    provider = provider_on(server)
    with pytest.raises(ContentFiltered) as withheld:
        await provider.generate(request())
    assert withheld.value.usage == Usage(input_tokens=30, output_tokens=12)

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ContentFiltered) as streamed:
        await provider.generate_stream(request(), on_text)
    assert streamed.value.usage == Usage(input_tokens=30, output_tokens=12)


async def test_missing_usage_is_malformed() -> None:
    body = chat_completion(Usage(input_tokens=10, output_tokens=5), text="hi")
    del body["usage"]
    with pytest.raises(MalformedResponse):
        await provider_on(MockServer(Reply(200, json=body))).generate(request())


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after_seconds({"retry-after": later}) or 0) <= 30
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def responses_provider(server: MockServer) -> OpenAIProvider:
    return OpenAIProvider(
        api_key="sk-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport()), api="responses"
    )


async def test_responses_refusal_is_content_filtered() -> None:
    body = responses_object(Usage(input_tokens=10, output_tokens=5), text="")
    body["output"][0]["content"] = [{"type": "refusal", "refusal": "I can't help with that."}]
    with pytest.raises(ContentFiltered, match="can't help") as refused:
        await responses_provider(MockServer(Reply(200, json=body))).generate(request())
    assert refused.value.usage == Usage(input_tokens=10, output_tokens=5)


async def test_failed_response_is_a_server_error() -> None:
    body = responses_object(Usage(input_tokens=10, output_tokens=0), text="")
    body.update(status="failed", error={"code": "server_error", "message": "The model failed."}, output=[])
    with pytest.raises(ProviderServerError, match="model failed"):
        await responses_provider(MockServer(Reply(200, json=body))).generate(request())


async def test_the_model_that_answered_is_the_one_the_response_names() -> None:
    """`gen_ai.response.model` of a trace is the model the provider says answered (a dated snapshot of the one asked
    for, the model `openrouter/auto` picked): it was the catalog's model id, the one asked for, whatever answered."""
    usage = Usage(input_tokens=10, output_tokens=5)
    server = MockServer(Reply(200, json=chat_completion(usage, text="ten", model="gpt-4.1-2025-04-14")))
    server.queue(STREAMED, Reply(200, json=chat_completion(usage, text="ten", model="")))
    provider = provider_on(server)
    assert (await provider.generate(request())).response_model == "gpt-4.1-2025-04-14"

    async def on_text(text: str) -> None:
        return None

    assert (await provider.generate_stream(request(), on_text)).response_model == "gpt-4.1"  # (each chunk's `model`)
    assert (await provider.generate(request())).response_model is None  # (a server that names none)
    pro = ModelProfile(name="openai:gpt-5-pro", input_cost_per_1k=0.015, output_cost_per_1k=0.12)
    server = MockServer(Reply(200, json=responses_object(Usage(input_tokens=9, output_tokens=30), text="ten")))
    assert (await provider_on(server).generate(request(pro))).response_model == "gpt-5-pro-2025-10-06"


def test_the_sdk_s_sync_client_is_refused_before_any_request() -> None:
    """`OpenAIProvider(client=openai.OpenAI(...))` (the sync client, an easy slip for `AsyncOpenAI`) was taken: each
    call was made and paid for, blocking the event loop, then failed with `TypeError: object ChatCompletion can't be
    used in 'await' expression` and its answer was lost. It is refused when the provider is made."""
    server = MockServer(Reply(200, json={}))
    sync = openai.OpenAI(api_key="sk-test", http_client=httpx2.Client(transport=server.httpx2_transport()))
    with pytest.raises(
        UserError, match=r"client= takes an openai\.AsyncOpenAI .*, not openai\..*OpenAI \(the SDK's sync"
    ):
        OpenAIProvider(client=sync)  # type: ignore[arg-type]
    assert server.requests == []


async def test_a_tracing_wrapper_of_the_async_client_is_still_taken() -> None:
    """Only the SDK's sync client is refused: a library's wrapper of the async client that is no subclass of it (a
    tracing proxy forwarding every attribute) works as before."""

    class Traced:
        def __init__(self, wrapped: openai.AsyncOpenAI) -> None:
            self._wrapped = wrapped

        def __getattr__(self, name: str) -> Any:
            return getattr(self._wrapped, name)

    server = MockServer(Reply(200, json=chat_completion(Usage(input_tokens=5, output_tokens=2), text="Hi.")))
    client = openai.AsyncOpenAI(api_key="sk-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport()))
    provider = OpenAIProvider(client=Traced(client))  # type: ignore[arg-type]
    assert (await provider.generate(request())).text == "Hi."


TOKENS_LIMITED = {
    "error": {
        "message": "Rate limit reached for gpt-4.1 in organization org-abc on tokens per min (TPM): Limit 30000, Used"
        " 29500, Requested 1200. Please try again in 1.4s. Visit https://platform.openai.com/account/rate-limits to"
        " learn more.",
        "type": "tokens",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"x-ratelimit-reset-tokens": "6m0s", "x-ratelimit-reset-requests": "120ms"}, 360.0),
        ({"x-ratelimit-reset-tokens": "1.4s"}, 1.4),
        ({"x-ratelimit-reset-tokens": "1h2m3.5s"}, 3723.5),
        ({"x-ratelimit-reset-tokens": "6m0s", "retry-after": "2"}, 2.0),  # (retry-after, when sent, says it)
        ({"x-ratelimit-reset-tokens": "soon"}, None),
    ],
)
async def test_a_429_without_retry_after_waits_what_openai_s_reset_headers_say(
    headers: dict[str, str], wait: float | None
) -> None:
    """OpenAI's 429 for a limit of tokens (or requests) says when it lifts in `x-ratelimit-reset-tokens` (or
    `-requests`), often without `retry-after`: the wait was then a short backoff, each retry refused alike while the
    limit lasted, rather than the reset's wait (or, for one past the retries' reach, the next model at once)."""
    server = MockServer(Reply(429, json=TOKENS_LIMITED, headers=headers))
    with pytest.raises(RateLimited) as raised:
        await provider_on(server).generate(request())
    assert raised.value.retry_after == pytest.approx(wait) if wait is not None else raised.value.retry_after is None


def test_a_run_goes_on_with_the_next_model_at_once_when_the_tokens_reset_in_minutes() -> None:
    from orchestratex import BayesianRouter, Orchestrator

    asked: list[str] = []

    def openai_api(req: httpx2.Request) -> httpx2.Response:
        body = json.loads(req.content)
        asked.append(body["model"])
        if body["model"] == "gpt-4.1":
            return httpx2.Response(429, json=TOKENS_LIMITED, headers={"x-ratelimit-reset-tokens": "6m0s"})
        text = '{"score": 9, "feedback": "ok"}' if "response_format" in body else "Four."
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=9, output_tokens=3), text=text))

    provider = OpenAIProvider(
        api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(openai_api))
    )
    models = ModelCatalog(
        [
            ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9),
            ModelProfile(name="openai:gpt-4.1-mini", input_cost_per_1k=0.0004, output_cost_per_1k=0.0016, quality=7),
            ModelProfile(name="openai:gpt-4.1-nano", input_cost_per_1k=0.0001, output_cost_per_1k=0.0004, quality=5),
        ]
    )
    with Orchestrator(catalog=models, providers=[provider], router=BayesianRouter(explore=False)) as orchestrator:
        result = orchestrator.run_sync("2+2?", max_iterations=1)
    assert result.status == "completed" and result.final_response == "Four.", result.error
    assert asked[0] == "gpt-4.1" and asked.count("gpt-4.1") == 1, asked  # (not retried: back in six minutes)
