"""The setting a misspelt name was meant for (`max_attempt` for `max_attempts`), for errors that say which.

`refuse_misspelt` is what the `__setattr__` of a part a user configures by assignment calls (the orchestrator, the
learning routers, the judge, the function provider): `router.explor = False` made an attribute nothing read, and the
router went on exploring without a word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .exceptions import UserError

__all__ = ["meant", "refuse_misspelt", "settings"]


def meant(name: str, known: Iterable[str]) -> str | None:
    """The one of `known` that `name` is a typo of (close enough not to be a name of its own), or None."""
    import difflib  # (only for a name that is not a setting: not at import)

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
    return close[0] if close else None


def refuse_misspelt(
    obj: object,
    name: str,
    *,
    hints: Mapping[str, str] | None = None,
    known: Iterable[str] | None = None,
    error: type[UserError] = UserError,
) -> None:
    """`error` for a public name `obj` has no attribute of that is close to one of its settings (`known`, or by
    default `settings(obj)`), or that `hints` says what to write instead of. Other new names are left alone."""
    if name.startswith("_") or name in vars(obj) or hasattr(type(obj), name):
        return
    kind = type(obj).__name__
    if hints is not None and name in hints:
        raise error(f"{kind} has no setting {name!r}: {hints[name]}")
    close = meant(name, settings(obj) if known is None else known)
    if close is not None:
        raise error(f"{kind} has no setting {name!r}: did you mean {close!r}?")


def settings(obj: object) -> list[str]:
    """The public names of `obj`'s attributes and of its class's settable properties and descriptors (a router's
    `Knob`s)."""
    names = [n for n in vars(obj) if not n.startswith("_")]
    for cls in type(obj).__mro__:
        for n, v in vars(cls).items():
            settable = v.fset is not None if isinstance(v, property) else hasattr(type(v), "__set__")
            if settable and not n.startswith("_") and not isinstance(v, type):
                names.append(n)
    return names
