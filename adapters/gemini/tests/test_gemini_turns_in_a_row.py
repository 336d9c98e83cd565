"""Turns of one role in a row: Gemini's API takes only turns that alternate between `user` and `model`, and answers
400 `INVALID_ARGUMENT` ("Please ensure that multiturn requests alternate between user and model.") to two in a row.
A conversation brings them: an OpenAI client's (`/v1`) context and question sent as two user messages, or a thread whose
last answer was empty, left out (it says nothing) between the user turns around it. Every such call failed, not
retried, and the run fell back to another model or failed. Such turns now go as one turn of several parts, in order."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex_gemini import GeminiProvider

MODEL = ModelProfile(name="gemini:gemini-4-hydrogen", input_cost_per_1k=0.0005, output_cost_per_1k=0.003, quality=9)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)


class AlternatingGemini:
    """Gemini as it checks a request's turns: a 400 to two turns of one role in a row, or to a model turn first, else
    an answer."""

    def __init__(self) -> None:
        self.contents: list[list[dict[str, Any]]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        contents = json.loads(request.content)["contents"]
        self.contents.append(contents)
        roles = [c["role"] for c in contents]
        if roles[0] != "user" or any(a == b for a, b in itertools.pairwise(roles)):
            error = {
                "code": 400,
                "message": "Please ensure that multiturn requests alternate between user and model.",
                "status": "INVALID_ARGUMENT",
            }
            return httpx2.Response(400, json={"error": error})
        candidate = {"content": {"role": "model", "parts": [{"text": "Paris."}]}, "finishReason": "STOP"}
        usage = {"promptTokenCount": 20, "candidatesTokenCount": 2, "totalTokenCount": 22}
        return httpx2.Response(200, json={"candidates": [candidate], "usageMetadata": usage})


def _provider(server: AlternatingGemini) -> GeminiProvider:
    return GeminiProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))


async def test_user_turns_in_a_row_go_as_one_turn_of_parts() -> None:
    server = AlternatingGemini()
    request = GenerationRequest(
        model=MODEL,
        messages=[
            Message(role="system", content="Be terse."),
            Message(role="user", content="Context: a trip to France."),
            Message(role="user", content="What is the capital?"),
        ],
        max_output_tokens=32,
    )
    generation = await _provider(server).generate(request)
    assert generation.text == "Paris."
    assert server.contents == [
        [{"role": "user", "parts": [{"text": "Context: a trip to France."}, {"text": "What is the capital?"}]}]
    ]


async def test_a_run_of_a_conversation_with_user_turns_in_a_row_is_answered() -> None:
    server = AlternatingGemini()
    orchestrator = Orchestrator(
        providers=[_provider(server), FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "Right."}))],
        catalog=ModelCatalog([MODEL, JUDGE]),
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
    )
    conversation = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "I am planning a trip to France."},
        {"role": "user", "content": "What is its capital?"},
    ]
    result = await orchestrator.run(conversation, max_iterations=1)
    await orchestrator.aclose()
    assert result.status == "completed" and result.final_response == "Paris.", result.orchestration.iterations
    assert [c["role"] for c in server.contents[0]] == ["user", "model", "user"]
    assert [p["text"] for p in server.contents[0][2]["parts"]] == [
        "I am planning a trip to France.",
        "What is its capital?",
    ]


async def test_a_conversation_opening_with_the_assistant_is_answered() -> None:
    """A chat whose greeting comes first ("Hi! Which city…?", a `model` turn first) failed every call with that 400,
    not retried, and the run with it when no other model was left. A user turn now goes first."""
    server = AlternatingGemini()
    orchestrator = Orchestrator(
        providers=[_provider(server), FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "Right."}))],
        catalog=ModelCatalog([MODEL, JUDGE]),
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
    )
    conversation = [
        {"role": "assistant", "content": "Hi! Which city are you asking about?"},
        {"role": "user", "content": "The capital of France."},
    ]
    result = await orchestrator.run(conversation, max_iterations=1)
    await orchestrator.aclose()
    assert result.status == "completed" and result.final_response == "Paris.", result.orchestration.iterations
    assert server.contents == [
        [
            {"role": "user", "parts": [{"text": "."}]},
            {"role": "model", "parts": [{"text": "Hi! Which city are you asking about?"}]},
            {"role": "user", "parts": [{"text": "The capital of France."}]},
        ]
    ]
