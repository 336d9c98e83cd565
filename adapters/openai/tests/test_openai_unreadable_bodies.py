"""An answer whose fields are not of the types the API documents (a gateway's translation): the SDK does not validate
it, so reading it failed with a bare TypeError, out of `Orchestrator.run` itself; it is a `MalformedResponse` and the
run goes on with the next model. An error of the caller's `on_text` is raised as it is."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import MalformedResponse
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion, responses_object

RESPONSES = ModelProfile(name="openai:gpt-5-pro", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9)
CHAT = ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9)
OTHER = ModelProfile(name="function:other", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=1)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=1)
USAGE = Usage(input_tokens=10, output_tokens=5)
SSE = {"content-type": "text/event-stream"}


def null_content() -> dict[str, Any]:
    """A Responses API answer whose message item has `content: null`."""
    body = responses_object(USAGE, text="Hello")
    body["output"][0]["content"] = None
    return body


def response_with(**fields: object) -> dict[str, Any]:
    """A Responses API answer ("Hello") with `fields` set (a field given `...` left out), or its message item's
    `content` when given as `content`."""
    body = responses_object(USAGE, text="Hello")
    if "content" in fields:
        body["output"][0]["content"] = fields.pop("content")
    for name, value in fields.items():
        if value is ...:
            del body[name]
        else:
            body[name] = value
    return body


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


COMPLETED = sse({"type": "response.completed", "sequence_number": 1, "response": null_content()})
NOT_A_LIST = sse({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1", "choices": 5})


def with_message(message: object) -> dict[str, Any]:
    """A chat completion whose choice's `message` is `message` (left out for `...`), as a local server sent it."""
    body = chat_completion(USAGE, text="Hello")
    if message is ...:
        del body["choices"][0]["message"]
    else:
        body["choices"][0]["message"] = message
    return body


def chunk(delta: object, finish: object = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1", "choices": [choice]}


USAGE_CHUNK = {**chunk({}), "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
NUMBER_CONTENT = sse(chunk({"role": "assistant", "content": 5}), chunk({}, "stop"))
NUMBER_DELTA = sse(chunk({"content": "Hel"}), chunk(5), chunk({"content": "lo"}, "stop"), USAGE_CHUNK)
NUMBER_FINISH = sse(chunk({"content": "Hello"}), chunk({}, 5), USAGE_CHUNK)


def provider_on(server: MockServer, api: str = "auto") -> OpenAIProvider:
    client = httpx2.AsyncClient(transport=server.httpx2_transport())
    return OpenAIProvider(api_key="sk-test", http_client=client, api=api)  # type: ignore[arg-type]


def request(model: ModelProfile) -> GenerationRequest:
    return GenerationRequest(model=model, messages=[Message(role="user", content="Hi")], max_output_tokens=50)


async def ignore(text: str) -> None:
    return None


async def test_a_response_message_without_content_is_malformed() -> None:
    provider = provider_on(MockServer().always(Reply(200, json=null_content())), api="responses")
    with pytest.raises(MalformedResponse, match=r"its SDK \(openai\) could not read.*TypeError") as raised:
        await provider.generate(request(RESPONSES))
    assert raised.value.model == RESPONSES.name


async def test_a_streamed_response_whose_final_message_has_no_content_is_malformed() -> None:
    server = MockServer().always(Reply(200, headers=SSE, content=COMPLETED))
    with pytest.raises(MalformedResponse, match=r"its SDK \(openai\) could not read"):
        await provider_on(server, api="responses").generate_stream(request(RESPONSES), ignore)


@pytest.mark.parametrize("choices", [5, "abc", {"0": {}}], ids=["number", "string", "object"])
async def test_a_chat_completion_whose_choices_are_not_a_list_is_malformed(choices: object) -> None:
    body = chat_completion(USAGE, text="Hello")
    body["choices"] = choices
    with pytest.raises(MalformedResponse, match="choices are not a list"):
        await provider_on(MockServer().always(Reply(200, json=body))).generate(request(CHAT))


async def test_a_chunk_whose_choices_are_not_a_list_is_malformed() -> None:
    server = MockServer().always(Reply(200, headers=SSE, content=NOT_A_LIST))
    with pytest.raises(MalformedResponse, match="chunk whose choices are not a list: 5"):
        await provider_on(server).generate_stream(request(CHAT), ignore)


@pytest.mark.parametrize(
    "message",
    [5, None, "Hello", [], ..., {"role": "assistant", "content": [5]}],
    ids=["a-number", "null", "a-string", "a-list", "left-out", "content-a-list-of-numbers"],
)
async def test_a_chat_completion_whose_message_is_not_a_message_is_malformed(message: object) -> None:
    """It was read as an empty answer (finish `stop`, its usage billed), which the judges then scored."""
    provider = provider_on(MockServer().always(Reply(200, json=with_message(message))))
    with pytest.raises(MalformedResponse, match="chat completion choice without a"):
        await provider.generate(request(CHAT))


async def test_a_chunk_whose_content_is_not_text_is_malformed() -> None:
    provider = provider_on(MockServer().always(Reply(200, headers=SSE, content=NUMBER_CONTENT)))
    with pytest.raises(MalformedResponse, match="content is not text: 5"):
        await provider.generate_stream(request(CHAT), ignore)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (response_with(content=5), "output item whose content is not a list: 5"),
        (response_with(status=5), "status is not a string: 5"),
    ],
    ids=["content-a-number", "status-a-number"],
)
async def test_a_response_whose_content_or_status_is_not_one_is_malformed(body: dict[str, Any], said: str) -> None:
    """`"content": 5` failed the run with a bare TypeError (the adapter's own loop over it); a status that is not a
    string became the finish reason ("5")."""
    provider = provider_on(MockServer().always(Reply(200, json=body)), api="responses")
    with pytest.raises(MalformedResponse, match=said):
        await provider.generate(request(RESPONSES))


async def test_a_response_without_its_status_finishes_as_its_usage_says() -> None:
    """A server leaving the status out had its answer finish with the reason "None" (a string)."""
    provider = provider_on(MockServer().always(Reply(200, json=response_with(status=...))), api="responses")
    generation = await provider.generate(request(RESPONSES))
    assert (generation.text, generation.finish_reason) == ("Hello", "stop")


@pytest.mark.parametrize(
    ("stream", "said"),
    [(NUMBER_DELTA, "delta is not an object: 5"), (NUMBER_FINISH, "finish_reason is not a string: 5")],
    ids=["delta-a-number", "finish-reason-a-number"],
)
async def test_a_chunk_whose_delta_or_finish_reason_is_not_one_is_malformed(stream: bytes, said: str) -> None:
    """A delta that is not an object was left out, the answer judged without its piece ("Hello" as "lo"); a
    finish reason that is not a string failed as "1 validation error for Generation"."""
    provider = provider_on(MockServer().always(Reply(200, headers=SSE, content=stream)))
    with pytest.raises(MalformedResponse, match=said):
        await provider.generate_stream(request(CHAT), ignore)


@pytest.mark.parametrize(
    ("model", "reply", "api", "streamed"),
    [
        (RESPONSES, Reply(200, json=null_content()), "responses", False),
        (RESPONSES, Reply(200, headers=SSE, content=COMPLETED), "responses", True),
        (CHAT, Reply(200, headers=SSE, content=NOT_A_LIST), "auto", True),
        (RESPONSES, Reply(200, json=response_with(content=5)), "responses", False),
        (CHAT, Reply(200, json=with_message(5)), "auto", False),
        (CHAT, Reply(200, headers=SSE, content=NUMBER_CONTENT), "auto", True),
    ],
    ids=[
        "response-content-null",
        "streamed-response-content-null",
        "chunk-choices-a-number",
        "response-content-a-number",
        "message-a-number",
        "chunk-content-a-number",
    ],
)
async def test_the_run_goes_on_with_the_next_model(model: ModelProfile, reply: Reply, api: str, streamed: bool) -> None:
    """Each came out of `Orchestrator.run` (`run_stream`) as a bare TypeError, or (a message or content that is not
    one) as an empty answer the judges scored: the run failed, or kept it, no other model tried."""
    openai = provider_on(MockServer().always(reply), api=api)
    function = FunctionProvider(lambda r: '{"score": 9, "feedback": "ok"}' if r.purpose == "judge" else "Hello.")
    catalog = ModelCatalog([model, OTHER, JUDGE])
    router = BayesianRouter(explore=False)  # (the OpenAI model first, as preferred)
    async with Orchestrator(
        providers=[openai, function], catalog=catalog, router=router, judges=[JUDGE.name]
    ) as orchestrator:
        if streamed:
            async with orchestrator.run_stream("Hi", preferred_models=[model.name, OTHER.name]) as stream:
                async for _ in stream:
                    pass
            result = stream.result
        else:
            result = await orchestrator.run("Hi", preferred_models=[model.name, OTHER.name])
    assert result is not None and result.final_model == OTHER.name, result
    assert "MalformedResponse" in result.orchestration.iterations[0].errors[0]


async def test_a_type_error_of_the_callers_on_text_is_raised_as_it_is() -> None:
    events = [
        {"type": "response.output_text.delta", "sequence_number": 1, "delta": "Hel", "item_id": "m", "output_index": 0},
        {"type": "response.completed", "sequence_number": 2, "response": responses_object(USAGE, text="Hel")},
    ]
    server = MockServer().always(Reply(200, headers=SSE, content=sse(*events)))

    async def on_text(text: str) -> None:
        raise TypeError(f"the caller did not expect {text!r}")

    with pytest.raises(TypeError, match="the caller did not expect 'Hel'"):
        await provider_on(server, api="responses").generate_stream(request(RESPONSES), on_text)
