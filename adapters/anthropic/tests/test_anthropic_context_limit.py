"""Anthropic's 400 for a prompt that, with the answer's `max_tokens`, does not fit the model's context window.

Anthropic validates input plus `max_tokens` against the window and answers "input length and `max_tokens` exceed
context limit: …"; that was a plain `ProviderHTTPError` (a failure of the model, counted towards its circuit) where
"prompt is too long" is `ContextLengthExceeded` (the prompt goes to a model with room).
"""

from __future__ import annotations

import json

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ContextLengthExceeded
from orchestratex.providers import GenerationRequest, Message
from orchestratex_anthropic import AnthropicProvider

LIMIT = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "input length and `max_tokens` exceed context limit: 178959 + 64000 > 200000, decrease input"
        " length or `max_tokens` and try again",
    },
    "request_id": "req_011CUB2XUHWkFnQzxcKBbjpF",
}
SMALL = ModelProfile(
    name="anthropic:claude-haiku-4-5",
    input_cost_per_1k=0.001,
    output_cost_per_1k=0.005,
    quality=9,
    context_window=200_000,
)
LARGE = ModelProfile(
    name="anthropic:claude-sonnet-5-5",
    input_cost_per_1k=0.003,
    output_cost_per_1k=0.015,
    quality=6,
    context_window=1_000_000,
)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)


def anthropic(request: httpx2.Request) -> httpx2.Response:
    if json.loads(request.content)["model"] == SMALL.version:
        return httpx2.Response(400, json=LIMIT)
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": LARGE.version,
        "content": [{"type": "text", "text": "A summary."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 20, "output_tokens": 4},
    }
    return httpx2.Response(200, json=message)


def provider() -> AnthropicProvider:
    return AnthropicProvider(
        api_key="sk-ant-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(anthropic))
    )


async def test_the_context_limit_400_is_context_length_exceeded() -> None:
    request = GenerationRequest(model=SMALL, messages=[Message(role="user", content="Summarise this.")])
    with pytest.raises(ContextLengthExceeded) as info:
        await provider().generate(request)
    assert info.value.status_code == 400 and not info.value.retryable
    assert "exceed context limit: 178959 + 64000 > 200000" in str(info.value)


def test_a_run_moves_on_to_a_model_with_room() -> None:
    judge = FunctionProvider(lambda request: '{"score": 9, "feedback": "fine"}', name="function")
    catalog = ModelCatalog([SMALL, LARGE, JUDGE])
    with Orchestrator(catalog=catalog, providers=[provider(), judge], router=BayesianRouter(explore=False)) as orch:
        result = orch.run_sync(
            "Summarise this.", preferred_models=[SMALL.name, LARGE.name], max_iterations=2, evaluation_threshold=8
        )
    assert result.status == "completed" and result.final_response == "A summary.", result.error
    failed = [e for it in result.orchestration.iterations for e in it.errors]
    assert any(": ContextLengthExceeded: " in e for e in failed), failed
