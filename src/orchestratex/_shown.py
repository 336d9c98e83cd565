"""URLs as messages and log lines may show them: the secrets they carry hidden."""

from __future__ import annotations

import re

__all__ = ["shown_url"]

_SCHEME_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:@/?#]*:)[^/?#]*@", re.IGNORECASE)
"""The password of a URL's user info, up to its last `@` before the path (a password may hold an unescaped `@`)."""
_BARE_PASSWORD = re.compile(r"(?P<head>^[^:@/?#\s]*:)[^/?#\s]*@")
"""The same in a URL written without its scheme (`ada:s3cr3t@proxy.example/v1`)."""
_SECRET_PARAM = re.compile(
    r"(?P<head>[?&](?:[^=&#]*(?:key|token|secret|sig|password)[^=&#]*|auth|authorization)=)[^&#]*", re.IGNORECASE
)
"""The value of a query parameter naming a key, token, secret, signature or password (`?api-key=…`), or `auth`
(MongoDB's `authSource`, a database's name, is no secret)."""


def shown_url(url: str) -> str:
    """`url` as a message or a log line may show it, also within a longer text (a URL in quotes): the password of its
    user info (`mongodb://app:***@db.example/ox`, `https://user:***@proxy/v1`) and the values of query parameters
    naming a key, token, secret, signature or password (`?api-key=***`) hidden."""
    url = _SCHEME_PASSWORD.sub(r"\g<head>***@", url, count=1)
    url = _BARE_PASSWORD.sub(r"\g<head>***@", url, count=1)
    return _SECRET_PARAM.sub(r"\g<head>***", url)
