"""Clear errors for an assignment to a frozen settings dataclass with slots (`RetryPolicy().max_attempt = 3`).

`@dataclass(frozen=True, slots=True)` makes a new class for the slots, but the `__setattr__` it generated still names
the first one: assigning a name that is no field (a typo) failed, on CPython 3.11 to 3.13, with "TypeError: super(type,
obj): obj must be an instance or subtype of type", which says nothing of the class nor of the field meant. The slots
are kept (the policies are read on every call); only the two methods are replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError, fields
from typing import Any, NoReturn, TypeVar

from ._misspelt import meant

__all__ = ["frozen_errors"]

T = TypeVar("T", bound=type)


def frozen_errors(where: str) -> Callable[[T], T]:
    """Make assigning or deleting any attribute of the decorated class (a frozen dataclass) a `FrozenInstanceError`
    that names the field, says how to change it (`dataclasses.replace`, then set `where`, as `orchestrator.retry`),
    and for a name that is no field, the field meant."""
    return lambda cls: _refusing(cls, where)


def _refusing(cls: T, where: str) -> T:
    kind = cls.__name__
    names = [f.name for f in fields(cls)]

    def refuse(name: str, doing: str) -> NoReturn:
        if name in names:
            message = f"{kind} is frozen: cannot {doing} its field {name!r};"
            example = name
        else:
            close = meant(name, names)
            hint = f"did you mean {close!r}?" if close else f"its fields are {', '.join(names)}."
            message = f"{kind} has no field {name!r}: {hint} It is frozen:"
            example = close or names[0]
        raise FrozenInstanceError(
            f"{message} make a new one, dataclasses.replace(policy, {example}=...), and set it in the old one's place "
            f"({where} = ...)"
        )

    def __setattr__(self: object, name: str, value: Any) -> None:
        refuse(name, "assign")

    def __delattr__(self: object, name: str) -> None:
        refuse(name, "delete")

    __setattr__.__qualname__ = f"{cls.__qualname__}.__setattr__"
    __delattr__.__qualname__ = f"{cls.__qualname__}.__delattr__"
    cls.__setattr__ = __setattr__  # type: ignore[assignment]
    cls.__delattr__ = __delattr__  # type: ignore[assignment]
    return cls
