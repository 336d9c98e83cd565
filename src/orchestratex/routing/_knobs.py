"""`Knob`: a router setting checked whenever it is set, in the constructor or later, and read as a plain attribute."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..exceptions import UserError

T = TypeVar("T")


class Knob(Generic[T]):
    """A data descriptor with a `__set__` and no `__get__`: assignment runs `check(name, value)` and stores what
    it returns in the instance's `__dict__`; a read finds the value there, as for any plain attribute (no call on
    the hot path of `select` and `observe`)."""

    def __init__(self, check: Callable[[str, Any], T]) -> None:
        self._check = check
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __set__(self, obj: object, value: T) -> None:
        obj.__dict__[self._name] = self._check(self._name, value)

    if TYPE_CHECKING:  # reads never reach the descriptor at run time (no __get__): this only types them

        def __get__(self, obj: object, owner: type | None = None) -> T: ...


def number(what: str, *, positive: bool = False) -> Callable[[str, Any], float]:
    """A check refusing anything but a finite number >= 0 (> 0 when `positive`), saying what to write."""

    def check(name: str, value: Any) -> float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)  # (numpy's numbers too: a sweep's)
        if not ok or not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise UserError(f"{name} must be a finite number {'> 0' if positive else '>= 0'} ({what}); got {value!r}")
        return plain(value)

    return check


def fraction(what: str) -> Callable[[str, Any], float]:
    """A check refusing anything but a number between 0 and 1."""

    def check(name: str, value: Any) -> float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not ok or not 0 <= value <= 1:
            raise UserError(f"{name} {what}: between 0 and 1; got {value!r}")
        return plain(value)

    return check


def optional(check: Callable[[str, Any], T]) -> Callable[[str, Any], T | None]:
    """`check`, letting None through."""
    return lambda name, value: None if value is None else check(name, value)


def whole(minimum: int, what: str, example: int) -> Callable[[str, Any], int]:
    """A check refusing anything but a whole number >= `minimum`."""

    def check(name: str, value: Any) -> int:
        if not is_whole(value) or value < minimum:
            raise UserError(f"{name} is a whole number {what} >= {minimum}, e.g. {name}={example}; got {value!r}")
        return int(value)

    return check


def is_whole(value: object) -> bool:
    """Whether `value` is a whole number: an `int` or numpy's integers (`np.arange`'s), never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def plain(value: Any) -> float:
    """A real number as Python's own `int` or `float` (numpy's `np.int64(10)` is `10.0`), so that it is saved to
    JSON and compared as any other."""
    return value if type(value) in (int, float) else float(value)


def seeded(seed: object) -> random.Random:
    """A router's random generator for `seed`: None (unseeded) or a whole number, numpy's integers too (a study's
    `for seed in np.arange(5)`, which `random.Random` refuses with a TypeError); anything else is a `UserError`."""
    if seed is None or (isinstance(seed, int | float | str | bytes | bytearray) and not isinstance(seed, bool)):
        return random.Random(seed)
    if is_whole(seed):
        return random.Random(int(seed))  # type: ignore[call-overload]
    raise UserError(f"seed is a whole number (or None: unseeded), e.g. seed=7; got {seed!r}")


def router_name(name: object) -> str | None:
    """A learning router's `name=` (what the store keeps its statistics under): None or a string; anything else is
    a `UserError` (a list failed at the first run with "SQLite error: Error binding parameter 1", after the run was
    stored; a number was stored as given, a key other stores read apart)."""
    if name is None or isinstance(name, str):
        return name
    raise UserError(
        f"name is the router's name in the store, a string (e.g. name='bayesian-eu'), not {type(name).__name__} "
        f"{name!r:.60}"
    )


def flag(what: str) -> Callable[[str, Any], bool]:
    """A check refusing anything but True or False (a string such as "no" would otherwise read as True)."""

    def check(name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise UserError(f"{name} is True or False ({what}); got {value!r}")
        return value

    return check


def knob_settings(obj: object) -> str:
    """`, name=value` for each `Knob` of `obj`'s class (base classes' first), for a `__repr__`."""
    names = [n for k in reversed(type(obj).__mro__) for n, v in vars(k).items() if isinstance(v, Knob)]
    values = vars(obj)
    return "".join(f", {n}={values[n]!r}" for n in dict.fromkeys(names) if n in values)
