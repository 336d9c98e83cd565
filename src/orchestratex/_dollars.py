"""Amounts of money as people read them: `$0.001200`, and `$0.0000004` rather than `$0.000000`."""

from __future__ import annotations

__all__ = ["dollars"]


def dollars(amount: float) -> str:
    """`amount` in US dollars with six decimals, or as many more as show a cost below a millionth of a dollar
    (`$0.0000004`, not `$0.000000`)."""
    digits = 6
    while digits < 12 and amount and round(amount, digits) == 0:
        digits += 1
    return f"${amount:.{digits}f}"
