"""A prompt too long for the model, as hosted OpenAI-compatible APIs say it in their own words (no
`context_length_exceeded` code): xAI's "This model's maximum prompt length is 131072 but the request contains 136973
tokens.", Anthropic's OpenAI SDK compatibility endpoint's "prompt is too long: 215378 tokens > 200000 maximum" (and
"input length and `max_tokens` exceed context limit"), Gemini's OpenAI compatibility endpoint's "The input token count
(1200000) exceeds the maximum number of tokens allowed (1048576).".

Each was a plain `ProviderHTTPError`: counted toward the model's circuit (a few long prompts in a row kept every run
from a healthy model), and the run's fallback could pick a model with a window as small. They are now
`ContextLengthExceeded`, as OpenAI's own code is: the next model has a larger window."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ContextLengthExceeded, ProviderHTTPError
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion

XAI = (
    "https://api.x.ai/v1",
    {
        "code": "Client specified an invalid argument",
        "error": "This model's maximum prompt length is 131072 but the request contains 136973 tokens.",
    },
)
ANTHROPIC = (
    "https://api.anthropic.com/v1/",
    {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "prompt is too long: 215378 tokens > 200000 maximum"},
    },
)
ANTHROPIC_WITH_CAP = (
    "https://api.anthropic.com/v1/",
    {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "input length and `max_tokens` exceed context limit: 178959 + 64000 > 200000, decrease input"
            " length or `max_tokens` and try again",
        },
    },
)
GEMINI = (
    "https://generativelanguage.googleapis.com/v1beta/openai/",
    [
        {
            "error": {
                "code": 400,
                "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                "status": "INVALID_ARGUMENT",
            }
        }
    ],
)
MODEL = ModelProfile(name="openai:grok-4", input_cost_per_1k=0.003, output_cost_per_1k=0.015, context_window=131072)


def _request() -> GenerationRequest:
    return GenerationRequest(model=MODEL, messages=[Message(role="user", content="A long one.")], max_output_tokens=50)


@pytest.mark.parametrize(("base_url", "body"), [XAI, ANTHROPIC, ANTHROPIC_WITH_CAP, GEMINI])
async def test_a_hosted_servers_words_for_a_prompt_too_long_are_context_length_exceeded(
    base_url: str, body: Any
) -> None:
    server = MockServer(Reply(400, json=body))
    provider = OpenAIProvider(
        api_key="k", base_url=base_url, http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    with pytest.raises(ContextLengthExceeded, match="prompt too long") as raised:
        await provider.generate(_request())
    assert raised.value.status_code == 400 and not raised.value.retryable


async def test_xai_context_error_sends_the_run_to_a_model_with_a_larger_window() -> None:
    small = ModelProfile(
        name="xai:grok-3-mini", input_cost_per_1k=0.0003, output_cost_per_1k=0.0005, quality=9, context_window=131072
    )
    large = ModelProfile(
        name="xai:grok-4-fast", input_cost_per_1k=0.0002, output_cost_per_1k=0.0005, quality=7, context_window=2_000_000
    )
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)
    sent: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        model = json.loads(request.content)["model"]
        sent.append(model)
        if model == "grok-3-mini":
            return httpx2.Response(400, json=XAI[1])
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=30, output_tokens=2), text="Hello"))

    provider = OpenAIProvider.from_config(name="xai", base_url="https://api.x.ai/v1", api_key="k")
    provider = type(provider)(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    orchestrator = Orchestrator(
        providers=[provider, FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))],
        catalog=ModelCatalog([small, large, judge]),
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0),
        judges=[judge.name],
    )
    result = await orchestrator.run("hi", preferred_models=[small.name, large.name], max_iterations=1)
    assert result.status == "completed" and result.final_response == "Hello"
    assert sent == ["grok-3-mini", "grok-4-fast"]
    assert any("ContextLengthExceeded" in e for e in result.orchestration.iterations[0].errors)
    assert orchestrator.circuit.quiet  # (a prompt too long is no failure of the model)


async def test_an_error_body_that_is_a_list_is_quoted() -> None:
    # (Gemini's OpenAI compatibility endpoint answers its errors as a one-element list: the message said only
    # "Error code: 400", Gemini's words left out)
    base_url, body = GEMINI
    error = {**body[0]["error"], "message": "API key not valid. Please pass a valid API key."}
    server = MockServer(Reply(400, json=[{"error": error}]))
    provider = OpenAIProvider(
        api_key="k", base_url=base_url, http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    with pytest.raises(ProviderHTTPError, match=r"\(400\): API key not valid\. Please pass a valid API key\.$"):
        await provider.generate(_request())
