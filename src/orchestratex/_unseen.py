"""Characters that show as nothing: what a name (a user id, a domain) must not hold and what a text of nothing else
does not say (a prompt, an answer)."""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["UNSEEN_CATEGORIES", "unseen"]

UNSEEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""Unicode categories of characters that show as nothing or break the line: control characters (a NUL, C1 such as
U+009B: `ali\x9bce` reads as `alice`), format characters (U+200B, U+202E…) and the line and paragraph separators
(U+2028, U+2029)."""

BLANK_LETTERS: Final = frozenset("\u115f\u1160\u3164\uffa0\u17b4\u17b5\u2800")
"""Characters of other categories that show as nothing (Unicode's default-ignorable Hangul fillers and Khmer
inherent vowels, and the blank braille pattern): `alice\u3164` reads as `alice`, as "invisible name" generators
use them."""


def unseen(c: str) -> bool:
    """Whether the character `c` shows as nothing (or breaks the line), white space aside."""
    return c in BLANK_LETTERS or unicodedata.category(c) in UNSEEN_CATEGORIES
