"""A run whose prompt fits no model's context window says so (and how long it is), not "no model is available"."""

from __future__ import annotations

import pytest

from orchestratex import Orchestrator
from orchestratex.stores import MemoryStore

SMALL = ["openai:gpt-4o", "openai:gpt-4o-mini"]  # windows of 128,000 tokens


@pytest.mark.parametrize(
    ("size", "said"),
    [
        (
            600_000,
            "the prompt is too long for every model's context window: about 150,023 tokens, and the largest, "
            "sim:gpt-4o's, is 128,000 tokens; shorten the prompt (or its context), or use a model with a larger window",
        ),
        (
            508_000,
            "the prompt (about 127,023 tokens) leaves no room for an answer of up to 2,048 tokens in any model's "
            "context window (the largest, sim:gpt-4o's, is 128,000 tokens): shorten the prompt, or lower "
            "max_output_tokens",
        ),
    ],
)
async def test_a_prompt_no_window_can_take(size: int, said: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    async with Orchestrator(store=MemoryStore(), simulate=True) as orchestrator:
        result = await orchestrator.run("w " * (size // 2), preferred_models=SMALL)
    assert (result.status, result.stop_reason, result.orchestration.error) == ("failed", "error", said)
    assert result.total_cost == 0 and result.iterations == 0


async def test_a_prompt_that_fits_is_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    async with Orchestrator(store=MemoryStore(), simulate=True) as orchestrator:
        result = await orchestrator.run("w " * 100_000, preferred_models=SMALL, max_iterations=1)
    assert result.final_response is not None


@pytest.mark.parametrize(
    ("size", "said"),
    [
        (
            600_000,
            "the prompt is too long for the model's context window: about 150,023 tokens, and sim:gpt-4o's is "
            "128,000 tokens; shorten the prompt (or its context), or use a model with a larger window",
        ),
        (
            508_000,
            "the prompt (about 127,023 tokens) leaves no room for an answer of up to 2,048 tokens in the model's "
            "context window (sim:gpt-4o's is 128,000 tokens): shorten the prompt, or lower max_output_tokens",
        ),
    ],
)
async def test_one_model_is_not_called_the_largest(size: int, said: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    async with Orchestrator(store=MemoryStore(), simulate=True) as orchestrator:
        result = await orchestrator.run("w " * (size // 2), preferred_models=["openai:gpt-4o"])
    assert (result.status, result.orchestration.error) == ("failed", said)
