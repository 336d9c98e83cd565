"""Token usage of one model call, and exact cost arithmetic.

Money is exact to the pico-dollar (1e-12 $): inside, amounts are integers of pico-dollars; at the
edges they are floats, each the float nearest to its exact decimal value (what
`float(Decimal(...).quantize(Decimal("1e-12")))` gives), so the arithmetic never drifts.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

__all__ = ["MAX_AMOUNT", "PICO", "Usage", "add_costs", "exact_pico", "from_pico"]

PICO = 10**12
"""Pico-dollars in a US dollar."""
MAX_AMOUNT = 1_000_000.0
"""The most a budget or any one amount may be (US dollars): stores keep sums in 64-bit pico-dollars, up to about
9.2 million."""
_COST_PLACES = Decimal("1e-12")
_FAST_LIMIT = 1024.0  # below this, distinct multiples of 1e-12 are distinct floats (spacing <= 2.3e-13)


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
        """`input_tokens + output_tokens`."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )

    def __radd__(self, other: int) -> Usage:
        """`0 + usage`, so `sum(it.usage for it in result.orchestration.iterations)` adds them up (it failed with
        "unsupported operand type(s) for +: 'int' and 'Usage'", `sum` starting from 0)."""
        if type(other) is int and other == 0:
            return self
        return NotImplemented


def exact_pico(amount: float) -> int | None:
    """`amount` US dollars as exact integer pico-dollars, when its decimal value (its shortest `repr`) is a
    whole number of them and it is below $1,024 in size; None otherwise (then use `Decimal(repr(amount))`)."""
    if not -_FAST_LIMIT < amount < _FAST_LIMIT:  # also rejects NaN
        return None
    pico = round(amount * 1e12)
    # the float nearest to pico * 1e-12 is `amount` itself: then that decimal is `amount`'s shortest repr
    return pico if pico / 1e12 == amount else None


def from_pico(pico: int) -> float:
    """Integer pico-dollars as the float nearest to their exact value (int / int rounds correctly)."""
    return pico / PICO


def add_costs(*costs: float) -> float:
    """Add US-dollar amounts exactly (to 1e-12 $), without binary floating-point drift: the exact decimal
    sum of the amounts (as written, their shortest `repr`), rounded half-even to the pico-dollar."""
    total = 0
    for cost in costs:
        pico = exact_pico(cost)
        if pico is None:  # more than 12 decimals, large, or not finite: exact decimal arithmetic
            exact = sum((Decimal(repr(float(c))) for c in costs), Decimal(0))  # (numpy's repr: np.float64(...))
            return float(exact.quantize(_COST_PLACES))
        total += pico
    return total / PICO
