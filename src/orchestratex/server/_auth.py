"""API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>` (WebSocket also `?token=<key>`).

Keys are stored only as their SHA-256 hash, each bound to a user id (or admin). A caller sees only
its own user's sessions, threads, orchestrations, analytics and streams; anything else answers 404.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from ..exceptions import NotFound
from ..records import ApiKey
from ..stores import Store
from ._errors import ApiError

__all__ = [
    "KEY_PREFIX",
    "Authenticator",
    "CurrentUser",
    "Principal",
    "current_user",
    "ensure_owner",
    "hash_key",
    "issue_api_key",
]

KEY_PREFIX = "ox_"
"""Every key starts with this, so a leaked key is easy to recognise."""

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <key>`")
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user an API key is bound to, and whether it may see every user's data."""

    user_id: str
    admin: bool = False

    def may_see(self, user_id: str) -> bool:
        return self.admin or user_id == self.user_id


def hash_key(key: str) -> str:
    """The SHA-256 hex digest stored for `key`."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def issue_api_key(store: Store, user_id: str, *, admin: bool = False, label: str | None = None) -> str:
    """Create a key for `user_id` and return it; only its hash is stored, so it cannot be shown again."""
    user_id = user_id.strip()
    if not user_id:
        from ..exceptions import UserError

        raise UserError("the user id is empty: give the user the key is for")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await store.create_api_key(ApiKey(key_hash=hash_key(key), user_id=user_id, admin=admin, label=label))
    return key


class Authenticator:
    """Checks keys against the store, remembering verified ones for `cache_s` seconds."""

    def __init__(self, store: Store, cache_s: float = 60.0) -> None:
        self.store = store
        self.cache_s = cache_s
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def principal(self, key: str | None) -> Principal:
        if not key:
            raise ApiError(
                401, "missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`", _UNAUTHORIZED
            )
        digest = hash_key(key)
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        record = await self.store.get_api_key(digest)
        if record is None:
            raise ApiError(401, "unknown API key (create one with `orchestratex keys create USER_ID`)", _UNAUTHORIZED)
        principal = Principal(record.user_id, record.admin)
        if self.cache_s > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (principal, now + self.cache_s)
        return principal


def key_of(connection: HTTPConnection) -> str | None:
    """The key a request or WebSocket carries (header first, then `?token=` for WebSockets only)."""
    headers = connection.headers
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    if connection.scope["type"] == "websocket":
        return connection.query_params.get("token")
    return None


async def current_user(
    request: Request,
    _bearer_doc: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _header_doc: Annotated[str | None, Depends(_header)],
) -> Principal:
    """The dependency every REST route uses (the two security schemes appear in the OpenAPI schema)."""
    authenticator: Authenticator = request.app.state.auth
    return await authenticator.principal(key_of(request))


CurrentUser = Annotated[Principal, Depends(current_user)]


def ensure_owner(principal: Principal, user_id: str, kind: str, ident: str) -> None:
    """404 (exactly as for a missing record) unless `principal` may see `user_id`'s data."""
    if not principal.may_see(user_id):
        raise NotFound(f"no {kind} {ident!r}")
