"""User ids in either Unicode form: `zoë` typed composed (NFC, one code point for `ë`) or decomposed (`e` and a
combining diaeresis, as macOS file names and some input methods give it) is one user, for the Python API as for the
server (`server/_users`), whose keys name their users in NFC."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stores import Store

__all__ = ["new_session_user_id", "same_user"]


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
