"""User ids: the one rule of what a user id may be, for the Python API as for the server (`server/_users` says why
each is refused), and ids in either Unicode form: `zoë` typed composed (NFC, one code point for `ë`) or decomposed (`e`
and a combining diaeresis, as macOS file names and some input methods give it) is one user, whose keys the server names
in NFC."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from ._unseen import unseen

if TYPE_CHECKING:
    from .stores import Store

__all__ = ["MAX_USER_ID_CHARS", "new_session_user_id", "same_user", "user_id_problem"]

MAX_USER_ID_CHARS = 200
"""The longest user id, in characters: what the routes taking a user id (a session's owner, the admin API's
`?user_id=`) accept, so a key is never given to a user those routes cannot name."""

_UNREACHABLE = re.compile(r"[/\x00-\x1f\x7f]")


def user_id_problem(user_id: str) -> str | None:
    """Why `user_id` cannot be a user id (one line saying what to change), or None when it can. The server's rule
    (`server/_users`), which the library applies too: a session made through the library for `alice ` or `a/b` was
    stored, and no key of the server could ever reach it (`keys create` refused the id, or made `alice`'s)."""
    if not user_id.strip():
        return "a user id must not be empty or blank"
    if len(user_id) > MAX_USER_ID_CHARS:
        return f"a user id must be at most {MAX_USER_ID_CHARS} characters, not {len(user_id)}: give a shorter one"
    found = _UNREACHABLE.search(user_id)
    if found is not None:
        what = "'/'" if found.group() == "/" else f"the control character {found.group()!r}"
        return f"a user id must not hold {what}: it names the user in paths such as /api/sessions/user/{{user_id}}"
    if user_id != user_id.strip():
        return f"a user id must not begin or end with white space ({user_id!r}): it would read as another user's id"
    invisible = next((c for c in user_id if unseen(c)), None)
    if invisible is not None:
        name = unicodedata.name(invisible, "a control character")
        return (
            f"a user id must not hold the invisible character U+{ord(invisible):04X} ({name}):"
            " it would read as another user's id"
        )
    if user_id in (".", ".."):
        return f"a user id must not be {user_id!r}: clients resolve it away in paths such as /api/sessions/user/…"
    return None


def same_user(one: str, other: str) -> bool:
    """Whether two user ids name one user: equal, or equal in NFC."""
    return one == other or unicodedata.normalize("NFC", one) == unicodedata.normalize("NFC", other)


async def new_session_user_id(store: Store, user_id: str) -> str:
    """The id a new session of `user_id` is stored under: NFC, as the server gives its users' keys and makes their
    sessions, unless `store` holds sessions or API keys of `user_id` as given (made before: that user's records are
    kept under that form, and the server names a key's user by the id it holds). Reads the store only for an id not
    in NFC."""
    composed = unicodedata.normalize("NFC", user_id)
    if composed == user_id or await store.list_sessions(user_id, limit=1):
        return user_id
    try:
        keys = await store.list_api_keys(user_id)
    except NotImplementedError:  # (a store of one's own without keys)
        keys = []
    return user_id if keys else composed
