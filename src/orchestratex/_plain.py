"""Numbers as Python's own: numpy's integers and floats (a notebook's `np.arange`, a dataframe's cells) taken where an
`int` or a `float` is, and kept as the `int` or `float` they are worth."""

from __future__ import annotations

import numbers
import operator
from typing import cast

__all__ = ["as_count", "is_real", "is_whole", "plain"]


def is_whole(value: object) -> bool:
    """Whether `value` is a whole number: an `int` or numpy's integers, never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def as_count(value: object) -> int | None:
    """`value` as a count, an `int` >= 0 (numpy's integers too), or None for anything else: a negative number, a
    float (3.5, and 3.0 too), a bool, a string, None."""
    if type(value) is int:
        return value if value >= 0 else None
    if not is_whole(value):
        return None
    count = operator.index(cast(numbers.Integral, value))
    return count if count >= 0 else None


def is_real(value: object) -> bool:
    """Whether `value` is a real number: an `int`, a `float`, numpy's (`np.float32` too), never a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def plain(value: object) -> object:
    """`value` as Python's own `int` or `float` when it is a number of another type (`np.int64(3)` is `3`); anything
    else as it is."""
    if type(value) in (int, float) or not is_real(value):
        return value
    if is_whole(value):
        return operator.index(cast(numbers.Integral, value))
    return float(cast(numbers.Real, value))
