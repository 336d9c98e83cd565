"""Token usage of one model call, and exact cost arithmetic."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

__all__ = ["Usage", "add_costs"]

_COST_PLACES = Decimal("1e-12")


class Usage(BaseModel):
    """Tokens one model call consumed, as the provider reported them."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    input_tokens: int = 0
    """Prompt tokens, including cached ones."""
    output_tokens: int = 0
    """Completion tokens, including reasoning tokens."""
    cached_input_tokens: int = 0
    """The part of `input_tokens` served from the provider's prompt cache (billed at the cached price)."""
    reasoning_tokens: int = 0
    """The part of `output_tokens` spent on hidden reasoning."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


def add_costs(*costs: float) -> float:
    """Add US-dollar amounts exactly (to 1e-12 $), without binary floating-point drift."""
    total = sum((Decimal(repr(c)) for c in costs), Decimal(0))
    return float(total.quantize(_COST_PLACES))
