"""OpenAI's own models under another base URL: Azure OpenAI, and proxies or gateways that pass requests on to OpenAI.

OpenAI's reasoning models (`gpt-5`, `o3`, …) refuse `max_tokens` with a 400 asking for `max_completion_tokens`;
the adapter sends `max_tokens` to any server but OpenAI's, as compatible servers want.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import openai
import pytest

from orchestratex import BayesianRouter, FunctionProvider, MemoryStore, Orchestrator, RunResult
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ConfigurationError
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion, responses_object
from .test_openai_streaming import chunk

GPT5 = ModelProfile(name="openai:gpt-5", input_cost_per_1k=0.00125, output_cost_per_1k=0.01, quality=9)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)
REFUSAL = {  # OpenAI's (and Azure OpenAI's) answer to `max_tokens` for a reasoning model
    "error": {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model."
        " Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }
}


class OpenAIBehind:
    """A stand-in for OpenAI behind a gateway: answers as OpenAI does, refusing `max_tokens` for `gpt-5`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.urls: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        self.urls.append(str(request.url))
        if "max_tokens" in body:
            return httpx2.Response(400, json=REFUSAL)
        usage = Usage(input_tokens=12, output_tokens=30, reasoning_tokens=20)
        if body.get("stream"):
            events = [chunk({"content": "Four."}), chunk({}, finish="stop"), chunk({}, usage=usage)]
            content = b"".join(events) + b"data: [DONE]\n\n"
            return httpx2.Response(200, content=content, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=chat_completion(usage, text="Four.", model="gpt-5"))

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self))


def ask() -> GenerationRequest:
    return GenerationRequest(model=GPT5, messages=[Message(role="user", content="2+2?")], max_output_tokens=64)


async def test_an_azure_openai_client_gets_max_completion_tokens() -> None:
    server = OpenAIBehind()
    azure = openai.AsyncAzureOpenAI(
        api_key="azure-key",
        azure_endpoint="https://my-resource.openai.azure.com",
        api_version="2025-04-01-preview",
        http_client=server.client(),
    )
    provider = OpenAIProvider(client=azure)
    generation = await provider.generate(ask())
    assert generation.text == "Four." and generation.usage.reasoning_tokens == 20
    assert len(server.bodies) == 1 and server.bodies[0]["max_completion_tokens"] == 64, server.bodies
    assert "/openai/deployments/gpt-5/chat/completions" in server.urls[0]


async def test_azure_s_v1_base_url_gets_max_completion_tokens() -> None:
    server = OpenAIBehind()
    provider = OpenAIProvider(
        api_key="azure-key", base_url="https://my-resource.openai.azure.com/openai/v1/", http_client=server.client()
    )
    await provider.generate(ask())
    assert len(server.bodies) == 1 and server.bodies[0]["max_completion_tokens"] == 64, server.bodies


async def test_a_gateway_that_refuses_max_tokens_is_asked_again_and_then_sent_max_completion_tokens() -> None:
    server = OpenAIBehind()
    provider = OpenAIProvider(api_key="sk-test", base_url="https://gateway.example/v1", http_client=server.client())
    assert (await provider.generate(ask())).text == "Four."
    assert [sorted(set(b) & {"max_tokens", "max_completion_tokens"}) for b in server.bodies] == [
        ["max_tokens"],
        ["max_completion_tokens"],
    ]
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    generation = await provider.generate_stream(ask(), collect)  # the next call, streamed: asked once
    assert generation.text == "Four." and pieces == ["Four."] and len(server.bodies) == 3
    assert server.bodies[2]["max_completion_tokens"] == 64 and "max_tokens" not in server.bodies[2]


async def test_a_streamed_call_through_a_gateway_is_asked_again_too() -> None:
    server = OpenAIBehind()
    provider = OpenAIProvider(api_key="sk-test", base_url="https://gateway.example/v1", http_client=server.client())

    async def ignore(text: str) -> None:
        return None

    generation = await provider.generate_stream(ask(), ignore)
    assert generation.text == "Four." and generation.usage.output_tokens == 30
    assert "max_completion_tokens" in server.bodies[-1] and len(server.bodies) == 2


def test_runs_through_a_gateway_complete() -> None:
    server = OpenAIBehind()
    provider = OpenAIProvider(api_key="sk-test", base_url="https://gateway.example/v1", http_client=server.client())
    judge = FunctionProvider(lambda request: '{"score": 9, "feedback": "right"}', name="function")
    with Orchestrator(
        catalog=ModelCatalog([GPT5, JUDGE]), providers=[provider, judge], router=BayesianRouter(explore=False)
    ) as orchestrator:
        for _ in range(2):  # a second run on the same orchestrator, as a user does
            result = orchestrator.run_sync("2+2?", preferred_models=["openai:gpt-5"], max_iterations=1)
            assert result.status == "completed" and result.final_response == "Four.", result.error
    assert len(server.bodies) == 3  # the first call asked again once; the second sent the right parameter at once


class Recorder:
    """A stand-in server answering every chat completion, recording each request's URL."""

    def __init__(self) -> None:
        self.urls: list[httpx2.URL] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.urls.append(request.url)
        if not request.url.path.endswith("/chat/completions"):
            return httpx2.Response(404, text="404 page not found")
        text = '{"score": 9, "feedback": "ok"}' if b"response_format" in request.content else "Hi!"
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=5, output_tokens=2), text=text))


def test_a_base_url_with_a_query_string_keeps_it_on_every_request() -> None:
    """An Azure-style gateway URL (`…/deployments/NAME?api-version=…`): the query went before the endpoint's path."""
    server = Recorder()
    base = "https://gateway.example/openai/deployments/gpt-4o?api-version=2024-10-21"
    provider = OpenAIProvider(
        api_key="k", base_url=base, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    )
    models = ModelCatalog(
        [
            ModelProfile(name="openai:gpt-4o", cost_per_1k_tokens=0.001, quality=9),
            ModelProfile(name="openai:gpt-4o-mini", cost_per_1k_tokens=0.0005, quality=6),
        ]
    )
    with Orchestrator(catalog=models, providers=[provider], router=BayesianRouter(explore=False)) as orchestrator:
        result = orchestrator.run_sync("Hello", preferred_models=["openai:gpt-4o"], max_iterations=1)
    assert result.status == "completed" and result.final_response == "Hi!", result.error
    assert len(server.urls) >= 2  # the answer and its judge
    for url in server.urls:
        assert url.path == "/openai/deployments/gpt-4o/chat/completions", url
        assert url.params["api-version"] == "2024-10-21", url
    assert provider.base_url == "https://gateway.example/openai/deployments/gpt-4o/"


TEMPERATURE_REFUSAL = {  # OpenAI's (and Azure OpenAI's) answer to a temperature for a reasoning model
    "error": {
        "message": "Unsupported value: 'temperature' does not support 0.0 with this model. Only the default (1) value"
        " is supported.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "unsupported_value",
    }
}


def test_a_reasoning_deployment_under_its_own_name_judges_without_a_temperature() -> None:
    """Azure deployments are named as their owner likes (`prod-reasoner` for an o4-mini): the adapter cannot tell a
    reasoning model by that name and sends a judge's `temperature=0.0`, which such a model refuses with a 400; every
    judge call of that model failed. The model is now asked again without it, and sent none from then on."""
    bodies: list[dict[str, Any]] = []

    def azure(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if "prod-reasoner" in str(request.url) and "temperature" in body:
            return httpx2.Response(400, json=TEMPERATURE_REFUSAL)
        judging = "response_format" in body
        text = '{"score": 9, "feedback": "clear"}' if judging else "Four."
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=12, output_tokens=6), text=text))

    client = openai.AsyncAzureOpenAI(
        api_key="azure-key",
        azure_endpoint="https://my-resource.openai.azure.com",
        api_version="2025-04-01-preview",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(azure)),
    )
    writer = ModelProfile(name="openai:prod-writer", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9)
    reasoner = ModelProfile(name="openai:prod-reasoner", input_cost_per_1k=0.001, output_cost_per_1k=0.004, quality=6)
    with Orchestrator(
        catalog=ModelCatalog([writer, reasoner]),
        providers=[OpenAIProvider(client=client)],
        router=BayesianRouter(explore=False),
    ) as orchestrator:
        for _ in range(2):
            result = orchestrator.run_sync("2+2?", preferred_models=["openai:prod-writer"], max_iterations=1)
            assert result.status == "completed" and result.final_score == 9, result.error
    judged = [b for b in bodies if b["model"] == "prod-reasoner"]
    assert ["temperature" in b for b in judged] == [True, False, False], judged  # refused once, then never sent


def test_run_stream_on_an_azure_api_version_without_stream_options_answers_unstreamed() -> None:
    """Azure OpenAI's API versions before 2024-09-01-preview (2024-06-01 is a GA version many pin) answer a stream
    asking for its usage (`stream_options`) with a 400 "Unrecognized request argument supplied: stream_options":
    every streamed call of `run_stream` (and of `/v1`'s live streams) failed. Such a server streams no usage, without
    which an answer cannot be priced: the call is made unstreamed, its text handed on in one piece, and no stream is
    asked of that server again."""
    from orchestratex import AnswerDelta

    bodies: list[dict[str, Any]] = []

    def azure(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if "stream_options" in body:
            error = {
                "message": "Unrecognized request argument supplied: stream_options",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
            return httpx2.Response(400, json={"error": error})
        judging = "response_format" in body
        text = '{"score": 9, "feedback": "clear"}' if judging else "Four."
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=12, output_tokens=6), text=text))

    client = openai.AsyncAzureOpenAI(
        api_key="azure-key",
        azure_endpoint="https://my-resource.openai.azure.com",
        api_version="2024-06-01",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(azure)),
    )
    writer = ModelProfile(name="openai:gpt-4o", input_cost_per_1k=0.0025, output_cost_per_1k=0.01, quality=9)
    judge = ModelProfile(name="openai:gpt-4o-mini", input_cost_per_1k=0.00015, output_cost_per_1k=0.0006, quality=6)
    orchestrator = Orchestrator(
        catalog=ModelCatalog([writer, judge]),
        providers=[OpenAIProvider(client=client)],
        router=BayesianRouter(explore=False),
    )

    async def streamed() -> tuple[list[str], str | None]:
        pieces: list[str] = []
        async with orchestrator.run_stream("2+2?", preferred_models=["openai:gpt-4o"], max_iterations=1) as stream:
            async for item in stream:
                if isinstance(item, AnswerDelta):
                    pieces.append(item.text)
        assert stream.result.status == "completed", stream.result.error
        return pieces, stream.result.final_response

    async def twice() -> None:
        assert await streamed() == (["Four."], "Four.")
        asked = len(bodies)
        assert await streamed() == (["Four."], "Four.")
        assert not any("stream" in body for body in bodies[asked:]), "no stream asked of that server again"
        await orchestrator.aclose()

    asyncio.run(twice())


def test_run_stream_on_mistral_s_api_which_refuses_stream_options_with_a_422_answers_unstreamed() -> None:
    """Mistral's API (`OPENAI_BASE_URL=https://api.mistral.ai/v1`, or a catalog file's endpoint) refuses any field it
    does not know, `stream_options` too, with a 422 `extra_forbidden`: every streamed call (`run_stream`, `/v1`'s live
    streams) failed as a ProviderHTTPError and the run fell back to other models. It is answered as the 400 of an old
    Azure API version is: unstreamed, handed on in one piece, and no stream asked of that server again."""
    from orchestratex import AnswerDelta

    bodies: list[dict[str, Any]] = []

    def mistral(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if "stream_options" in body:
            detail = {
                "type": "extra_forbidden",
                "loc": ["body", "stream_options"],
                "msg": "Extra inputs are not permitted",
                "input": {"include_usage": True},
            }
            error = {"object": "error", "message": {"detail": [detail]}, "type": "invalid_request_error"}
            return httpx2.Response(422, json={**error, "param": None, "code": None})
        judging = "response_format" in body
        text = '{"score": 9, "feedback": "clear"}' if judging else "Four."
        usage = Usage(input_tokens=12, output_tokens=6)
        return httpx2.Response(200, json=chat_completion(usage, text=text, model=body["model"]))

    provider = OpenAIProvider(
        api_key="mistral-key",
        base_url="https://api.mistral.ai/v1",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(mistral)),
    )
    writer = ModelProfile(name="openai:mistral-large-latest", input_cost_per_1k=0.002, output_cost_per_1k=0.006)
    judge = ModelProfile(name="openai:mistral-small-latest", input_cost_per_1k=0.0001, output_cost_per_1k=0.0003)
    orchestrator = Orchestrator(
        catalog=ModelCatalog([writer, judge]), providers=[provider], router=BayesianRouter(explore=False)
    )

    async def streamed() -> tuple[list[str], str | None]:
        pieces: list[str] = []
        prefer = ["openai:mistral-large-latest"]
        async with orchestrator.run_stream("2+2?", preferred_models=prefer, max_iterations=1) as stream:
            async for item in stream:
                if isinstance(item, AnswerDelta):
                    pieces.append(item.text)
        assert stream.result.status == "completed", stream.result.error
        assert stream.result.final_model == "openai:mistral-large-latest"
        return pieces, stream.result.final_response

    async def twice() -> None:
        assert await streamed() == (["Four."], "Four.")
        asked = len(bodies)
        assert await streamed() == (["Four."], "Four.")
        assert not any("stream" in body for body in bodies[asked:]), "no stream asked of that server again"
        await orchestrator.aclose()

    asyncio.run(twice())


def test_a_reasoning_deployment_on_the_responses_api_judges_without_a_temperature() -> None:
    """The same deployment (`prod-reasoner`, an o4-mini) through the Responses API (`api="responses"`, or a catalog
    file's `api = "responses"`): every judge call sent `temperature=0.0` and was refused with a 400, because only
    Chat Completions calls were asked again without it; the model could never judge. Responses API calls are now
    asked again without it too, and that model is sent none from then on."""
    bodies: list[dict[str, Any]] = []

    def azure(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        assert request.url.path.endswith("/responses"), request.url
        if body["model"] == "prod-reasoner" and "temperature" in body:
            return httpx2.Response(400, json=TEMPERATURE_REFUSAL)
        judging = "text" in body  # (JSON mode: `text.format`)
        text = '{"score": 9, "feedback": "clear"}' if judging else "Four."
        return httpx2.Response(200, json=responses_object(Usage(input_tokens=12, output_tokens=6), text=text))

    provider = OpenAIProvider(
        api_key="azure-key",
        base_url="https://my-resource.openai.azure.com/openai/v1",
        api="responses",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(azure)),
    )
    writer = ModelProfile(name="openai:prod-writer", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9)
    reasoner = ModelProfile(name="openai:prod-reasoner", input_cost_per_1k=0.001, output_cost_per_1k=0.004, quality=6)
    with Orchestrator(
        catalog=ModelCatalog([writer, reasoner]), providers=[provider], router=BayesianRouter(explore=False)
    ) as orchestrator:
        for _ in range(2):
            result = orchestrator.run_sync("2+2?", preferred_models=["openai:prod-writer"], max_iterations=1)
            assert result.status == "completed" and result.final_score == 9, result.error
    judged = [b for b in bodies if b["model"] == "prod-reasoner"]
    assert ["temperature" in b for b in judged] == [True, False, False], judged  # refused once, then never sent


def test_a_server_that_ignores_stream_options_is_answered_unstreamed_after_its_first_unpriced_stream() -> None:
    """A gateway (or an older OpenAI-compatible server) that ignores `stream_options` silently streams no usage: the
    priced model's answer cannot be priced (a cost is never guessed). It failed (`NoStreamedUsage`) and was counted at
    $0, though the server billed it and its text had been streamed to the user; another model was then paid to answer
    again. The answer is now kept, counted at the call's reserved worst case (its input bound and output cap at the
    model's prices: the most the server can have billed, so the budget holds), and that server is asked for no stream
    again: its unstreamed answers carry their usage."""
    from orchestratex import AnswerDelta

    bodies: list[dict[str, Any]] = []

    def gateway(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        judging = "response_format" in body
        text = '{"score": 9, "feedback": "clear"}' if judging else "Four."
        if body.get("stream"):  # stream_options ignored: no usage chunk
            events = [chunk({"content": text}), chunk({}, finish="stop")]
            content = b"".join(events) + b"data: [DONE]\n\n"
            return httpx2.Response(200, content=content, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=12, output_tokens=6), text=text))

    provider = OpenAIProvider(
        api_key="gateway-key",
        base_url="https://gateway.example/v1",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(gateway)),
    )
    writer = ModelProfile(name="openai:gpt-4o", input_cost_per_1k=0.0025, output_cost_per_1k=0.01, quality=9)
    other = ModelProfile(name="openai:gpt-4o-mini", input_cost_per_1k=0.00015, output_cost_per_1k=0.0006, quality=6)
    store = MemoryStore()
    orchestrator = Orchestrator(
        catalog=ModelCatalog([writer, other]),
        providers=[provider],
        router=BayesianRouter(explore=False),
        judging="when_needed",  # (one iteration: its answer is returned unjudged)
        store=store,
    )

    async def streamed() -> tuple[RunResult, list[str]]:
        pieces: list[str] = []
        async with orchestrator.run_stream("2+2?", max_iterations=1, cost_limit=1.0) as stream:
            async for item in stream:
                if isinstance(item, AnswerDelta):
                    pieces.append(item.text)
        assert stream.result is not None
        return stream.result, pieces

    async def twice() -> None:
        result, pieces = await streamed()
        errors = [e for it in result.orchestration.iterations for e in it.errors]
        assert (result.status, result.final_model, pieces, errors) == ("completed", "openai:gpt-4o", ["Four."], [])
        [sent] = bodies
        assert sent["stream"] is True
        # the worst case reserved: every byte of the messages sent a token (plus 8 a message and 8 more), and the cap
        input_bound = sum(len(m["content"]) + 8 for m in sent["messages"]) + 8
        cap = sent.get("max_completion_tokens") or sent["max_tokens"]
        worst = round(input_bound * 0.0025 / 1000 + cap * 0.01 / 1000, 12)
        assert result.total_cost == worst and result.overage_cost == 0.0
        session = await store.get_session(result.orchestration.session_id)
        assert (session.total_cost, session.reserved_cost) == (worst, 0.0)
        second, _ = await streamed()
        assert (second.status, second.final_model) == ("completed", "openai:gpt-4o")
        assert not any(body.get("stream") for body in bodies[1:]), "no stream asked of that server again"
        assert second.total_cost == round(12 * 0.0025 / 1000 + 6 * 0.01 / 1000, 12)  # its usage, as reported
        await orchestrator.aclose()

    asyncio.run(twice())


class AzureDeployments:
    """A stand-in for Azure OpenAI's classic deployments API: the key in `api-key` only; a key sent as a bearer token is
    read as a Microsoft Entra ID token, and refused 401 as Azure words it."""

    def __init__(self) -> None:
        self.headers: list[httpx2.Headers] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.headers.append(request.headers)
        if request.headers.get("api-key") != "azure-key":
            return httpx2.Response(
                401,
                json={
                    "error": {
                        "code": "401",
                        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to"
                        " provide a valid key for an active subscription and use a correct regional API endpoint for"
                        " your resource.",
                    }
                },
            )
        assert request.url.path == "/openai/deployments/gpt-4o/chat/completions", request.url
        assert request.url.params["api-version"] == "2024-10-21", request.url
        if json.loads(request.content).get("stream"):
            usage = Usage(input_tokens=5, output_tokens=2)
            events = [chunk({"content": "Hi!"}), chunk({}, finish="stop"), chunk({}, usage=usage)]
            content = b"".join(events) + b"data: [DONE]\n\n"
            return httpx2.Response(200, content=content, headers={"content-type": "text/event-stream"})
        text = '{"score": 9, "feedback": "ok"}' if b"response_format" in request.content else "Hi!"
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=5, output_tokens=2), text=text))


def test_azure_s_deployments_url_with_api_key_sends_the_key_as_azure_documents() -> None:
    """`base_url="https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT?api-version=…"` with `api_key=`: the key
    went as `Authorization: Bearer`, which that API refuses 401, so every call failed "invalid subscription key"."""
    server = AzureDeployments()
    base = "https://contoso.openai.azure.com/openai/deployments/gpt-4o?api-version=2024-10-21"
    provider = OpenAIProvider(
        api_key="azure-key", base_url=base, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    )
    models = ModelCatalog(
        [
            ModelProfile(name="openai:gpt-4o", cost_per_1k_tokens=0.001, quality=9),
            ModelProfile(name="openai:gpt-4o-mini", cost_per_1k_tokens=0.0005, quality=6),
        ]
    )
    with Orchestrator(catalog=models, providers=[provider], router=BayesianRouter(explore=False)) as orchestrator:
        result = orchestrator.run_sync("Hello", preferred_models=["openai:gpt-4o"], max_iterations=1)
        assert result.status == "completed" and result.final_response == "Hi!", result.error
    pieces: list[str] = []

    async def streamed() -> str:
        async def collect(text: str) -> None:
            pieces.append(text)

        request = GenerationRequest(model=models.get("openai:gpt-4o"), messages=[Message(role="user", content="Hi")])
        generation = await provider.generate_stream(request, collect)
        await provider.aclose()
        return generation.text

    assert asyncio.run(streamed()) == "Hi!" and pieces == ["Hi!"]
    for headers in server.headers:
        assert headers["api-key"] == "azure-key" and "authorization" not in headers, headers


def test_an_azure_api_version_before_max_completion_tokens_is_sent_max_tokens() -> None:
    """Azure OpenAI's API versions before 2024-09-01-preview (2024-06-01 and 2024-02-01 are GA versions many pin) do not
    know `max_completion_tokens`, which the adapter sends to Azure hosts: every call failed with a non-retried 400
    "Unrecognized request argument supplied: max_completion_tokens". Such a server is asked again with `max_tokens`,
    and sent it from then on."""
    bodies: list[dict[str, Any]] = []

    def azure(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        for unknown in ("max_completion_tokens", "stream_options"):
            if unknown in body:
                error = {
                    "message": f"Unrecognized request argument supplied: {unknown}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
                return httpx2.Response(400, json={"error": error})
        text = '{"score": 9, "feedback": "clear"}' if "response_format" in body else "Four."
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=12, output_tokens=6), text=text))

    base = "https://my-resource.openai.azure.com/openai/deployments/gpt-4o?api-version=2024-06-01"
    provider = OpenAIProvider(
        api_key="azure-key", base_url=base, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(azure))
    )
    writer = ModelProfile(name="openai:gpt-4o", input_cost_per_1k=0.0025, output_cost_per_1k=0.01, quality=9)
    judge = ModelProfile(name="openai:gpt-4o-mini", input_cost_per_1k=0.00015, output_cost_per_1k=0.0006, quality=6)
    with Orchestrator(
        catalog=ModelCatalog([writer, judge]), providers=[provider], router=BayesianRouter(explore=False)
    ) as orchestrator:
        for _ in range(2):
            result = orchestrator.run_sync("2+2?", preferred_models=["openai:gpt-4o"], max_iterations=1)
            assert result.status == "completed" and result.final_response == "Four.", result.error
    assert sum("max_completion_tokens" in body for body in bodies) == 1, "asked once, then sent max_tokens"
    assert all("max_tokens" in body for body in bodies[1:]), bodies


async def test_an_entra_id_token_given_as_the_key_of_an_azure_host_stays_a_bearer_token() -> None:
    headers: list[httpx2.Headers] = []

    def azure(request: httpx2.Request) -> httpx2.Response:
        headers.append(request.headers)
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=5, output_tokens=2), text="Hi!"))

    token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzLmF6dXJlLmNvbSJ9.c2ln"
    provider = OpenAIProvider(
        api_key=token,
        base_url="https://my-resource.openai.azure.com/openai/v1/",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(azure)),
    )
    model = ModelProfile(name="openai:gpt-4o", cost_per_1k_tokens=0.001)
    await provider.generate(GenerationRequest(model=model, messages=[Message(role="user", content="Hi")]))
    assert headers[0]["authorization"] == f"Bearer {token}" and "api-key" not in headers[0]


@pytest.mark.parametrize(
    "base_url", ["https://contoso.openai.azure.com/", "https://contoso.cognitiveservices.azure.com"]
)
def test_an_azure_resource_s_endpoint_without_the_api_path_is_refused_saying_what_to_write(base_url: str) -> None:
    """The endpoint Azure's portal shows for a resource (`https://NAME.openai.azure.com/`) was taken as the API root:
    every call went to `/chat/completions`, which Azure answers 404 "Resource not found", saying nothing of the path."""
    with pytest.raises(ConfigurationError) as raised:
        OpenAIProvider(api_key="azure-key", base_url=base_url)
    host = base_url.split("//")[1].strip("/")
    assert f"write https://{host}/openai/v1 (Azure's v1 API)" in str(raised.value), str(raised.value)
    assert "azure-key" not in str(raised.value)
