"""Gemini 4's long decode: an answer that reaches the per-request output limit (32,768 tokens unstreamed) before the
request's `maxOutputTokens` ends with finish reason `CONTINUATION` and a `continuationToken`, from which another request
continues it, re-reading the prompt and all the answer so far (billed as input again).

google-genai 3 follows those tokens itself by default (`automatic_continuation`): one `generate` was two or more
requests, each billed, the input of each counted, so a call could cost more than the worst case the budget reserved
for it (its prompt once, and its output cap); and a stream whose connection dropped after a checkpoint token was
resumed by the SDK, a retry of its own. Each call is now one request (`automatic_continuation=False`), as the
orchestrator is the one retry owner, and an answer cut at the per-request limit is `length`, as an answer cut at its
cap is."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx2
from google.genai import types

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import MalformedResponse
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage
from orchestratex_gemini import GeminiProvider

NEON = ModelCatalog.default().get("gemini:gemini-4-neon")
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)
TOKEN = base64.b64encode(b"checkpoint-1").decode()
PER_REQUEST = 32_768
"""Gemini 4's per-request output limit, unstreamed."""


class LongDecodingGemini:
    """Gemini 4 writing a long answer: its first request stops at the per-request limit with a continuation token, a
    request carrying the token writes the rest (its prompt re-read with the answer so far)."""

    def __init__(self, *, streamed_cut: bool = False) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.streamed_cut = streamed_cut

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        streamed = ":streamGenerateContent" in request.url.path
        if "continuationToken" in body:  # (the rest of the answer: billed again for the prompt and the answer so far)
            candidate = {"content": {"role": "model", "parts": [{"text": " The end."}]}, "finishReason": "STOP"}
            usage = {"promptTokenCount": 1_000 + PER_REQUEST, "candidatesTokenCount": 900}
        elif streamed and self.streamed_cut:  # (a checkpoint, then the connection drops: no finish reason)
            candidate = {"content": {"role": "model", "parts": [{"text": "Chapter one."}]}, "continuationToken": TOKEN}
            usage = {"promptTokenCount": 1_000, "candidatesTokenCount": 4_000}
        else:
            candidate = {
                "content": {"role": "model", "parts": [{"text": "Chapter one."}]},
                "finishReason": "CONTINUATION",
                "continuationToken": TOKEN,
            }
            usage = {"promptTokenCount": 1_000, "candidatesTokenCount": PER_REQUEST}
        answer = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-4-neon"}
        if streamed:
            content = f"data: {json.dumps(answer)}\r\n\r\n".encode()
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=content)
        return httpx2.Response(200, json=answer)


def _provider(server: LongDecodingGemini) -> GeminiProvider:
    return GeminiProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))


def _request() -> GenerationRequest:
    return GenerationRequest(
        model=NEON, messages=[Message(role="user", content="Write the whole saga.")], max_output_tokens=60_000
    )


async def test_an_answer_cut_at_the_per_request_limit_is_one_request_and_length() -> None:
    server = LongDecodingGemini()
    generation = await _provider(server).generate(_request())
    assert len(server.bodies) == 1
    assert (generation.text, generation.finish_reason) == ("Chapter one.", "length")
    assert generation.usage == Usage(input_tokens=1_000, output_tokens=PER_REQUEST)


async def test_a_streamed_answer_cut_at_the_per_request_limit_is_one_request_and_length() -> None:
    server = LongDecodingGemini()
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    generation = await _provider(server).generate_stream(_request(), on_text)
    assert len(server.bodies) == 1
    assert pieces == ["Chapter one."] and generation.finish_reason == "length"


async def test_a_stream_cut_after_a_checkpoint_is_not_resumed_by_the_sdk() -> None:
    server = LongDecodingGemini(streamed_cut=True)

    async def on_text(text: str) -> None:
        pass

    try:
        await _provider(server).generate_stream(_request(), on_text)
    except MalformedResponse as exc:
        assert "without a finish reason" in str(exc)
    else:  # pragma: no cover - the assertion below says what happened
        raise AssertionError("a stream cut before its finish reason was taken as an answer")
    assert len(server.bodies) == 1  # (the orchestrator's retry starts the answer again, once, on its own terms)


async def test_a_run_pays_for_one_request_of_a_long_answer() -> None:
    server = LongDecodingGemini()
    orchestrator = Orchestrator(
        providers=[_provider(server), FunctionProvider(lambda r: json.dumps({"score": 8, "feedback": "Long."}))],
        catalog=ModelCatalog([NEON, JUDGE]),
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
        max_output_tokens=60_000,
    )
    result = await orchestrator.run("Write the whole saga.", max_iterations=1, preferred_models=[NEON.name])
    assert result.status == "completed", result.orchestration.iterations
    iteration = result.orchestration.iterations[0]
    assert (iteration.model_name, iteration.finish_reason) == (NEON.name, "length")
    assert len(server.bodies) == 1
    assert iteration.cost == NEON.cost(Usage(input_tokens=1_000, output_tokens=PER_REQUEST))


def test_the_sdk_field_exists_where_it_is_turned_off() -> None:
    # (google-genai before automatic continuation has no such field, and follows no token: nothing to turn off)
    if "automatic_continuation" in types.GenerateContentConfig.model_fields:
        from orchestratex_gemini._mapping import generate_content_args

        assert generate_content_args(_request())["config"].automatic_continuation is False
