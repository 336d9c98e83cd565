"""A Responses-only model (`gpt-5-pro`, …) through an Azure OpenAI deployments URL: Azure serves the Responses API
at the resource's `/openai/responses?api-version=…`, the deployment named by the body's `model`, never under
`/openai/deployments/NAME/` (as `openai.AsyncAzureOpenAI(azure_deployment=...)` sends it)."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion, responses_object

PRO = ModelProfile(name="openai:gpt-5-pro", input_cost_per_1k=0.015, output_cost_per_1k=0.12, quality=9)
GPT41 = ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=5)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)
BASE = "https://contoso.openai.azure.com/openai/deployments/prod%20pro?api-version=2025-04-01-preview"
USAGE = Usage(input_tokens=12, output_tokens=40, reasoning_tokens=30)
PIECES = ["Four,", " as", " 2+2."]


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def response_stream(pieces: list[str]) -> bytes:
    """A Responses API stream as documented: created, the text's deltas, completed."""
    done = {**responses_object(USAGE, text="".join(pieces)), "model": "prod pro"}
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    item = {"item_id": "msg_1", "output_index": 0, "content_index": 0, "logprobs": []}
    return sse(
        [
            {"type": "response.created", "sequence_number": 0, "response": started},
            *(
                {"type": "response.output_text.delta", "sequence_number": i + 1, "delta": piece, **item}
                for i, piece in enumerate(pieces)
            ),
            {"type": "response.completed", "sequence_number": 99, "response": done},
        ]
    )


class Azure:
    """A stand-in for an Azure OpenAI resource: deployments for Chat Completions, `/openai/responses` for Responses."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.calls.append((request.url.path, request.url.params["api-version"], body))
        assert request.headers["api-key"] == "azure-key"
        if request.url.path == "/openai/responses":
            if body["model"] != "prod pro":  # (Azure: the deployment named by `model`)
                return httpx2.Response(404, json={"error": {"code": "DeploymentNotFound", "message": "no deployment"}})
            if body.get("stream"):
                return httpx2.Response(
                    200, content=response_stream(PIECES), headers={"content-type": "text/event-stream"}
                )
            return httpx2.Response(200, json={**responses_object(USAGE, text="Four, as 2+2."), "model": "prod pro"})
        if request.url.path == "/openai/deployments/prod pro/chat/completions":
            return httpx2.Response(200, json=chat_completion(USAGE, text="Four."))
        return httpx2.Response(404, json={"error": {"code": "404", "message": "Resource not found"}})


def provider(server: Azure) -> OpenAIProvider:
    return OpenAIProvider(
        api_key="azure-key", base_url=BASE, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    )


async def test_a_responses_only_model_through_a_deployments_url_reaches_azure_s_responses_api() -> None:
    """It was posted to `/openai/deployments/NAME/responses`, which Azure answers 404 "Resource not found": every call
    of such a model failed, and a run on it ended with every model failed."""
    server = Azure()
    orchestrator = Orchestrator(
        providers=[provider(server), FunctionProvider(lambda r: '{"score": 9, "feedback": "ok"}')],
        catalog=ModelCatalog([PRO, JUDGE]),
    )
    result = await orchestrator.run("2+2?", preferred_models=["openai:gpt-5-pro"], max_iterations=1)
    assert (result.status, result.final_response) == ("completed", "Four, as 2+2."), result.error
    path, version, body = server.calls[0]
    assert (path, version, body["model"]) == ("/openai/responses", "2025-04-01-preview", "prod pro")
    assert result.total_cost >= PRO.cost(USAGE)
    await orchestrator.aclose()


async def test_streamed_and_chat_calls_of_the_same_deployments_url() -> None:
    server = Azure()
    azure = provider(server)
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    ask = GenerationRequest(model=PRO, messages=[Message(role="user", content="2+2?")], max_output_tokens=200)
    streamed = await azure.generate_stream(ask, on_text)
    assert streamed.text == "Four, as 2+2." and pieces == PIECES
    assert streamed.usage == USAGE and streamed.cost == PRO.cost(USAGE)
    chat = await azure.generate(ask.model_copy(update={"model": GPT41}))
    assert chat.text == "Four."
    assert [(path, body["model"]) for path, _, body in server.calls] == [
        ("/openai/responses", "prod pro"),
        ("/openai/deployments/prod pro/chat/completions", "gpt-4.1"),
    ]
    await azure.aclose()
