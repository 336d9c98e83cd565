"""The API keys of a user named in either Unicode form (`keys list --user`, the admin API's `?user_id=`)."""

from __future__ import annotations

import unicodedata

from .records import ApiKey
from .stores import Store

__all__ = ["user_keys"]


async def user_keys(store: Store, user_id: str | None) -> list[ApiKey]:
    """Every key of `user_id` (every key when None), as `Store.list_api_keys`; a user id given decomposed (`zoe` and
    U+0308) whose keys are stored composed (NFC, as `keys create` stores them) finds them: one read more, only for an
    id that is not NFC and has no keys as given."""
    keys = await store.list_api_keys(user_id)
    if keys or user_id is None:
        return keys
    composed = unicodedata.normalize("NFC", user_id)
    return await store.list_api_keys(composed) if composed != user_id else keys
