"""Anthropic-specific behaviour beyond the shared contract: injected clients, overload, cache tokens, thinking."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest

from orchestratex.catalog import ModelCatalog
from orchestratex.exceptions import ContentFiltered, ModelNotFound, ProviderHTTPError, ProviderServerError, UserError
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_anthropic import AnthropicProvider
from orchestratex_anthropic._errors import retry_after_seconds

MODEL = ModelCatalog.default().get("anthropic:claude-haiku-5-5")


def request(**overrides: Any) -> GenerationRequest:
    data: dict[str, Any] = {
        "model": MODEL,
        "messages": [Message(role="user", content="Hello")],
        "max_output_tokens": 64,
    }
    data.update(overrides)
    return GenerationRequest(**data)


def provider_on(server: MockServer) -> AnthropicProvider:
    return AnthropicProvider(api_key="sk-ant-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport()))


def message_body(usage: dict[str, Any], content: list[dict[str, Any]], stop_reason: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


async def test_cache_reads_and_writes_count_as_input_and_thinking_as_output() -> None:
    usage = {
        "input_tokens": 50,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 200,
        "output_tokens": 300,
        "output_tokens_details": {"thinking_tokens": 120},
    }
    content = [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
        {"type": "text", "text": "Hello "},
        {"type": "text", "text": "there."},
    ]
    server = MockServer(Reply(200, json=message_body(usage, content)))
    generation = await provider_on(server).generate(request())
    assert generation.text == "Hello there."
    assert generation.usage == Usage(
        input_tokens=1250, output_tokens=300, cached_input_tokens=1000, reasoning_tokens=120
    )
    assert generation.cost == MODEL.cost(generation.usage)


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [("stop_sequence", "stop"), ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls")],
)
async def test_stop_reasons(stop_reason: str, finish: str) -> None:
    body = message_body({"input_tokens": 5, "output_tokens": 2}, [{"type": "text", "text": "ok"}], stop_reason)
    generation = await provider_on(MockServer(Reply(200, json=body))).generate(request())
    assert generation.finish_reason == finish


async def test_overloaded_529_is_a_server_error() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server = MockServer(Reply(529, json=body))
    with pytest.raises(ProviderServerError) as info:
        await provider_on(server).generate(request())
    assert info.value.status_code == 529 and info.value.retryable
    assert len(server.requests) == 1


async def test_other_invalid_requests_are_not_retryable() -> None:
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: must be positive"}}
    with pytest.raises(ProviderHTTPError) as info:
        await provider_on(MockServer(Reply(400, json=body))).generate(request())
    assert type(info.value) is ProviderHTTPError and not info.value.retryable


async def test_injected_sdk_client_has_its_retries_switched_off() -> None:
    server = MockServer().always(Reply(500, json={"type": "error", "error": {"type": "api_error", "message": "x"}}))
    http = httpx2.AsyncClient(transport=server.httpx2_transport())
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test", max_retries=4, http_client=http)
    provider = AnthropicProvider(client=client)
    with pytest.raises(ProviderServerError):
        await provider.generate(request())
    assert len(server.requests) == 1
    await provider.aclose()
    assert not http.is_closed
    await client.close()


def test_bad_arguments_are_user_errors() -> None:
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test")
    with pytest.raises(UserError, match="either client"):
        AnthropicProvider(api_key="sk-ant-other", client=client)


@pytest.mark.parametrize(
    "messages",
    [
        [Message(role="system", content="Be brief.")],
        [Message(role="system", content="Be brief."), Message(role="assistant", content="Hello!")],  # no user turn
    ],
)
async def test_a_request_without_a_user_message_is_a_user_error(messages: list[Message]) -> None:
    """As docs/providers/anthropic.md says: an assistant turn alone was sent, and answered 400 after routing."""
    server = MockServer()
    with pytest.raises(UserError, match="user message"):
        await provider_on(server).generate(request(messages=messages))
    assert server.requests == []


def test_from_env_reads_the_base_url() -> None:
    provider = AnthropicProvider.from_env(
        {"ANTHROPIC_API_KEY": "sk-ant-env", "ANTHROPIC_BASE_URL": "https://gateway.example"}
    )
    assert provider.base_url.startswith("https://gateway.example")


async def test_owned_client_is_closed() -> None:
    provider = AnthropicProvider(api_key="sk-ant-test")
    client = provider._client  # the running loop's
    await provider.aclose()
    assert client.is_closed()


async def test_whitespace_stop_sequences_are_applied_to_the_text() -> None:
    body = message_body({"input_tokens": 5, "output_tokens": 9}, [{"type": "text", "text": "line one\nline two"}])
    server = MockServer(Reply(200, json=body))
    generation = await provider_on(server).generate(request(stop=["\n", "END"]))
    assert server.requests[0].json["stop_sequences"] == ["END"]
    assert generation.text == "line one"
    assert generation.finish_reason == "stop"


async def test_output_blocked_error_is_content_filtered() -> None:
    body = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "Output blocked by content filtering policy"},
    }
    with pytest.raises(ContentFiltered):
        await provider_on(MockServer(Reply(400, json=body))).generate(request())


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds({"retry-after-ms": "oops", "retry-after": "4"}) == 4.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert retry_after_seconds({"retry-after": "later"}) is None


async def test_a_404_for_a_model_anthropic_does_not_serve_is_model_not_found() -> None:
    """A retired or mistyped model (Anthropic's 404 `not_found_error`, "model: …") was a plain `ProviderHTTPError`:
    `/v1` answered a call naming it 502. It is `ModelNotFound` (not retried; the next model answers)."""
    error = {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-3-7-sonnet-latest"}}
    server = MockServer(Reply(404, json=error))
    with pytest.raises(ModelNotFound, match="model: claude-3-7-sonnet-latest") as raised:
        await provider_on(server).generate(request())
    assert not raised.value.retryable and len(server.requests) == 1


async def test_a_base_url_ending_in_v1_is_named_in_the_404() -> None:
    error = {"type": "error", "error": {"type": "not_found_error", "message": "Not Found"}}
    server = MockServer(Reply(404, json=error))
    provider = AnthropicProvider(
        api_key="sk-ant-test",
        base_url="https://llm-proxy.example/v1",
        http_client=httpx2.AsyncClient(transport=server.httpx2_transport()),
    )
    with pytest.raises(ProviderHTTPError, match="must not end in /v1") as raised:
        await provider.generate(request())
    assert server.requests[0].url == "https://llm-proxy.example/v1/v1/messages"
    assert "ANTHROPIC_BASE_URL" in str(raised.value) and not raised.value.retryable
    right = AnthropicProvider(
        api_key="sk-ant-test",
        base_url="https://llm-proxy.example",
        http_client=httpx2.AsyncClient(transport=MockServer(Reply(404, json=error)).httpx2_transport()),
    )
    with pytest.raises(ProviderHTTPError) as other:
        await right.generate(request())
    assert "/v1" not in str(other.value)


async def test_the_model_that_answered_is_the_one_the_message_names() -> None:
    """The message's `model` is the model that answered (`gen_ai.response.model` in traces), not only the one asked."""
    usage = {"input_tokens": 5, "output_tokens": 2}
    server = MockServer(Reply(200, json=message_body(usage, [{"type": "text", "text": "Hi"}])))
    assert (await provider_on(server).generate(request())).response_model == "claude-sonnet-4-5"


def test_the_sdk_s_sync_client_is_refused_before_any_request() -> None:
    """`AnthropicProvider(client=anthropic.Anthropic(...))` (the sync client) was taken: each call was made and paid
    for, blocking the event loop, then failed with `TypeError: object Message can't be used in 'await' expression`."""
    server = MockServer(Reply(200, json={}))
    sync = anthropic.Anthropic(api_key="sk-ant-test", http_client=httpx2.Client(transport=server.httpx2_transport()))
    with pytest.raises(UserError, match=r"client= takes an anthropic\.AsyncAnthropic, not anthropic\..*Anthropic \("):
        AnthropicProvider(client=sync)  # type: ignore[arg-type]
    assert server.requests == []
