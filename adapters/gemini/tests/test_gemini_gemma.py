"""Gemma models on the Gemini API (`gemma-3-27b-it`, …), which refuse a system instruction and JSON mode.

Google answers a request carrying `systemInstruction` with a 400 "Developer instruction is not enabled for
models/gemma-3-27b-it", and one carrying `responseMimeType: application/json` with a 400 "JSON mode is not enabled
for models/gemma-3-27b-it": every call with a system message, and every judge call, failed (not retried), so a Gemma
model could neither answer a conversation with a system prompt nor judge. The adapter now asks again without what the
model refused, and leaves it out for that model from then on: the system text goes at the start of the first user
message, and the judge's JSON is read from the answer's text.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2

from orchestratex import BayesianRouter, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex_gemini import GeminiProvider

GEMMA = ModelProfile(name="gemini:gemma-3-27b-it", cost_per_1k_tokens=0, quality=7)
OTHER = ModelProfile(name="gemini:gemma-3-12b-it", cost_per_1k_tokens=0, quality=6)


def refusal(what: str, model: str) -> httpx2.Response:
    error = {"code": 400, "message": f"{what} is not enabled for models/{model}", "status": "INVALID_ARGUMENT"}
    return httpx2.Response(400, json={"error": error})


class GemmaServer:
    """The Gemini API serving Gemma: no system instruction, no JSON mode."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        model = request.url.path.rsplit("/", 1)[-1].split(":")[0]
        if "systemInstruction" in body:
            return refusal("Developer instruction", model)
        if "responseMimeType" in body.get("generationConfig", {}):
            return refusal("JSON mode", model)
        said = body["contents"][0]["parts"][0]["text"]
        text = 'Sure: {"score": 9, "feedback": "clear"}' if "JSON" in json.dumps(body) else f"Ahoy! ({len(said)})"
        answer = {
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 5, "totalTokenCount": 25},
        }
        if request.url.path.endswith(":streamGenerateContent"):
            return httpx2.Response(
                200,
                content=b"data: " + json.dumps(answer).encode() + b"\r\n\r\n",
                headers={"content-type": "text/event-stream"},
            )
        return httpx2.Response(200, json=answer)

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self))


def conversation() -> list[Message]:
    return [Message(role="system", content="Talk like a pirate."), Message(role="user", content="Hello")]


async def test_a_system_message_goes_in_the_first_user_message_of_a_model_that_refuses_it() -> None:
    server = GemmaServer()
    provider = GeminiProvider(api_key="k", http_client=server.client())
    request = GenerationRequest(model=GEMMA, messages=conversation())
    assert (await provider.generate(request)).text == "Ahoy! (26)"  # "Talk like a pirate.\n\nHello"
    first = server.bodies[-1]["contents"][0]["parts"][0]["text"]
    assert first == "Talk like a pirate.\n\nHello" and "systemInstruction" not in server.bodies[-1]
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    asked = len(server.bodies)
    assert (await provider.generate_stream(request, collect)).text == "Ahoy! (26)" and pieces == ["Ahoy! (26)"]
    assert len(server.bodies) == asked + 1, "asked at once without the system instruction"


def test_runs_with_gemma_models_answer_and_judge() -> None:
    server = GemmaServer()
    provider = GeminiProvider(api_key="k", http_client=server.client())
    with Orchestrator(
        catalog=ModelCatalog([GEMMA, OTHER]), providers=[provider], router=BayesianRouter(explore=False)
    ) as orchestrator:
        for _ in range(2):
            result = orchestrator.run_sync(
                [{"role": "system", "content": "Talk like a pirate."}, {"role": "user", "content": "Hello"}],
                preferred_models=["gemini:gemma-3-27b-it"],
                max_iterations=1,
                evaluation_threshold=8,
            )
            assert result.status == "completed" and result.final_response == "Ahoy! (26)", result.error
            assert result.final_score == 9


async def test_calls_made_at_once_are_each_asked_again() -> None:
    """Two calls at once (a judge panel, concurrent runs) both carried the system instruction: the one refused second
    found the model already known to refuse it, and failed."""
    import asyncio

    server = GemmaServer()
    both_sent = asyncio.Event()
    first: list[httpx2.Request] = []

    async def together(request: httpx2.Request) -> httpx2.Response:
        if len(first) < 2:
            first.append(request)
            if len(first) == 2:
                both_sent.set()
            await both_sent.wait()  # (both refused only once both were sent)
        return server(request)

    provider = GeminiProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(together)))
    request = GenerationRequest(model=GEMMA, messages=conversation())
    answers = await asyncio.gather(provider.generate(request), provider.generate(request))
    assert [a.text for a in answers] == ["Ahoy! (26)", "Ahoy! (26)"]
