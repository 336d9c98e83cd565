"""Streamed answers (`generate_content_stream`) whose body is not Gemini's stream of JSON chunks."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import MalformedResponse
from orchestratex.providers import GenerationRequest, Message
from orchestratex_gemini import GeminiProvider

MODEL = ModelCatalog.default().get("gemini:gemini-4-hydrogen")
PAGE = b"<html><body>" + b"<p>Sorry, the proxy could not reach the upstream server.</p>" * 40 + b"</body></html>"


def serving(body: bytes, content_type: str) -> httpx2.AsyncClient:
    reply = httpx2.Response(200, headers={"content-type": content_type}, content=body)
    return httpx2.AsyncClient(transport=httpx2.MockTransport(lambda request: reply))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (PAGE, "text/html"),  # (a proxy's page, with a 200)
        (b"data: [DONE]\n\n", "text/event-stream"),  # (a gateway translating to OpenAI's stream)
        (b'data: {"candidates": [{"content": {"parts": [{"te\n\n', "text/event-stream"),  # (cut by a reset)
    ],
)
async def test_a_stream_chunk_that_is_not_json_is_a_malformed_response(body: bytes, content_type: str) -> None:
    """google-genai raises its own `UnknownApiResponseError` ("Failed to parse response as JSON. Raw response: …")
    for a streamed chunk that is not JSON, where an unstreamed body gives a `json.JSONDecodeError`: it escaped the
    adapter, and `run_stream` crashed ("failed unexpectedly", a traceback). It is a `MalformedResponse` now, its quote
    of the body cut to 300 characters."""
    provider = GeminiProvider(api_key="k", http_client=serving(body, content_type))
    request = GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hello")], max_output_tokens=64)

    async def on_text(text: str) -> None:
        raise AssertionError("no text came")

    with pytest.raises(MalformedResponse, match="answered with a body that is not a valid response") as raised:
        await provider.generate_stream(request, on_text)
    assert raised.value.model == MODEL.name and len(str(raised.value)) < 400


def test_run_stream_records_the_malformed_answer_instead_of_crashing() -> None:
    writer = ModelProfile(name="function:writer", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)
    other = FunctionProvider(lambda r: '{"score": 9, "feedback": "fine"}' if r.purpose == "judge" else "Hi.")
    provider = GeminiProvider(api_key="k", http_client=serving(PAGE, "text/html"))
    orchestrator = Orchestrator(
        catalog=ModelCatalog([MODEL, writer]), providers=[provider, other], judges=["function:writer"]
    )

    async def streamed() -> None:
        async with orchestrator.run_stream("Hello", preferred_models=[MODEL.name], max_iterations=1) as stream:
            async for _ in stream:
                pass
        done = stream.result.orchestration
        errors = [error for iteration in done.iterations for error in iteration.errors]
        assert any(error.startswith("gemini:gemini-4-hydrogen: MalformedResponse") for error in errors), errors
        assert done.stop_reason == "error" and "MalformedResponse" in str(done.error), done.error

    asyncio.run(streamed())


@pytest.mark.parametrize(
    "error",
    [
        b'{"error": {"message": "upstream request timed out"}}',  # (a gateway's error chunk, without Google's code)
        b'{"error": "upstream request timed out"}',
    ],
    ids=["without-code", "a-string"],
)
async def test_an_error_chunk_google_genai_cannot_read_is_a_malformed_response(error: bytes) -> None:
    """google-genai reads an error chunk's `code` as a number: one without it (a gateway's) made it fail with a bare
    TypeError (AttributeError for a string error), which came out of `Orchestrator.run` itself, no other model tried."""
    body = b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]}\n\ndata: ' + error
    provider = GeminiProvider(api_key="k", http_client=serving(body + b"\n\n", "text/event-stream"))
    request = GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hello")], max_output_tokens=64)
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    with pytest.raises(MalformedResponse, match=r"its SDK \(google.genai\) could not read") as raised:
        await provider.generate_stream(request, on_text)
    assert pieces == ["Hel"] and raised.value.model == MODEL.name
