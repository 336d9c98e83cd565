"""The setting a misspelt name was meant for (`max_attempt` for `max_attempts`), for errors that say which."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["meant"]


def meant(name: str, known: Iterable[str]) -> str | None:
    """The one of `known` that `name` is a typo of (close enough not to be a name of its own), or None."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
    return close[0] if close else None
