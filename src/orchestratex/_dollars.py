"""Amounts of money as people read them: `$0.001200`, and `$0.0000004` rather than `$0.000000`."""

from __future__ import annotations

import math

__all__ = ["dollars", "estimate"]


def dollars(amount: float) -> str:
    """`amount` in US dollars with six decimals, or as many more as show a cost below a millionth of a dollar
    (`$0.0000004`, not `$0.000000`)."""
    digits = 6
    while digits < 12 and amount and round(amount, digits) == 0:
        digits += 1
    return f"${amount:.{digits}f}"


def estimate(amount: float) -> str:
    """An estimated amount, without the `$`: to three significant digits and at least four decimals (`0.000152`,
    `0.00530`, `1.2500`), so that a cheap model's estimate does not read `0.0000`."""
    if not amount or not math.isfinite(amount) or amount < 0:
        return f"{amount:.4f}"
    digits = min(12, max(4, 2 - math.floor(math.log10(amount))))
    return f"{amount:.{digits}f}"
