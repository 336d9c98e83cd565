"""User ids: each must be reachable as one path segment (`/api/sessions/user/{user_id}`, `/api/analytics/user/…`).

A `/` would split it in two, a control character is refused in any path (`_paths`), and `.` or `..` are
resolved away by clients and browsers before the request is sent; a user id holding any of them could be
given sessions and keys that no list route can ever name, so it is refused where a user id is taken.

An id that would look like another user's is refused too: one holding an invisible character (Unicode's
format characters: zero-width spaces and joiners, bidirectional overrides such as U+202E, which reverses
the text shown after it; C1 control characters; line and paragraph separators) or beginning or ending with
white space (`alice\u200b`, `alice ` and `alice` read the same in `keys list`, the console and logs). Other
look-alikes (`ａｌｉｃｅ`, Cyrillic letters) are distinct ids, as in any system that takes Unicode names: only an
admin gives out ids.

Canonically equivalent ids are one user: `zoë` typed composed (NFC, one code point for `ë`) or decomposed (NFD, `e`
and a combining diaeresis, as macOS file names and some input methods give it) read the same, so they are compared in
NFC (`same_user`), a key is given its user's id in NFC (`issue_api_key`), and a caller naming its own user in another
form is taken as its key's id (`Principal.own`), which is how its records are stored (a key stored before in another
form keeps its sessions).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from .._user_ids import MAX_USER_ID_CHARS, same_user, user_id_problem

__all__ = ["MAX_USER_ID_CHARS", "PathUserId", "UserId", "same_user", "user_id_problem"]


def _checked(user_id: str) -> str:
    problem = user_id_problem(user_id)
    if problem is not None:
        raise PydanticCustomError("user_id", problem)
    return user_id


UserId = Annotated[str, Field(min_length=1, max_length=MAX_USER_ID_CHARS), AfterValidator(_checked)]
"""A user id in a request body: one that the routes naming a user can reach (else 422 saying why)."""

PathUserId = Annotated[str, Path(max_length=MAX_USER_ID_CHARS), AfterValidator(_checked)]
"""A user id in a route's path (`/api/sessions/user/{user_id}`, `/api/analytics/user/…`): one that no user can have —
over the longest a user id may be, or one `user_id_problem` refuses (`alice ` copied with a table's padding, `..`) — is
answered 422 saying why, as the admin API's `?user_id=`: an admin got `[]` or empty analytics, read as "alice has no
sessions", and a user "no user 'alice '"."""
