"""Simulated token counts and latencies: per-domain answer lengths, price-derived speed."""

from __future__ import annotations

import math
from typing import Final

from ...catalog import ModelProfile
from ._random import Draws

__all__ = ["JUDGE_OUTPUT_TOKENS", "OUTPUT_TOKENS", "input_tokens", "latency_ms", "output_tokens"]

OUTPUT_TOKENS: Final[dict[str, int]] = {
    "coding": 350,
    "writing": 450,
    "math": 250,
    "science": 300,
    "analysis": 400,
    "general": 250,
}
"""Mean output tokens of an answer, per domain (other domains use `general`)."""
JUDGE_OUTPUT_TOKENS: Final = 60
"""Mean output tokens of a judge's verdict."""

_TOKENS_SIGMA: Final = 0.3
_LATENCY_SIGMA: Final = 0.25
_PRICEY_OUTPUT_PER_1K: Final = 0.075  # the most expensive current models: slowest
_UNPRICED_OUTPUT_PER_1K: Final = 0.01


def input_tokens(chars: int) -> int:
    """About four characters per token (never more than `estimate_input_tokens`, which counts UTF-8 bytes)."""
    return (chars + 3) // 4


def output_tokens(mean: int, draws: Draws) -> int:
    """A lognormal count around `mean` (at least 8)."""
    return max(8, round(mean * math.exp(draws.normal(-(_TOKENS_SIGMA**2) / 2, _TOKENS_SIGMA))))


def latency_ms(model: ModelProfile, tokens: int, draws: Draws) -> float:
    """Time to answer: a per-model base and per-token time, both growing with the output price, lognormal noise.

    Cheap models are fast (gpt-5-nano answers 350 tokens in about 1.4 s), expensive ones slow
    (claude-opus about 6 s).
    """
    price = model.output_cost_per_1k if model.output_cost_per_1k is not None else _UNPRICED_OUTPUT_PER_1K
    slowness = math.sqrt(min(1.0, price / _PRICEY_OUTPUT_PER_1K))
    median = 300.0 + 2500.0 * slowness + tokens * (2.0 + 10.0 * slowness)
    return median * math.exp(draws.normal(0.0, _LATENCY_SIGMA))
