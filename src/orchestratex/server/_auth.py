"""API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>` (WebSocket also `?token=<key>`).

Keys are stored only as their SHA-256 hash, each bound to a user id (or admin). A caller sees only
its own user's sessions, threads, orchestrations, analytics and streams; anything else answers 404.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..exceptions import NotFound, OrchestrateXError
from ..records import ApiKey
from ..stores import Store
from ._errors import ApiError, error_response, library_response
from ._limits import RateLimiter

__all__ = [
    "KEY_PREFIX",
    "SECURITY_SCHEMES",
    "AuthMiddleware",
    "Authenticator",
    "Principal",
    "ensure_owner",
    "hash_key",
    "issue_api_key",
    "principal_of",
]

KEY_PREFIX = "ox_"
"""Every key starts with this, so a leaked key is easy to recognise."""

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


_SCOPE_KEY = "orchestratex.principal"


class AuthMiddleware:
    """Authenticates every `/api/` request before routing (so 401 comes before validation errors), and counts
    it against its user's request limit."""

    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, rate: RateLimiter | None = None, prefix: str = "/api/"
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.rate = rate
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            try:
                principal = await self.authenticator.principal(key_of(HTTPConnection(scope)))
                if self.rate is not None:
                    await self.rate.hit_user(principal.user_id)  # the per-user limit, on every route
                scope[_SCOPE_KEY] = principal
            except ApiError as exc:
                await error_response(exc.status_code, str(exc.detail), exc.headers)(scope, receive, send)
                return
            except OrchestrateXError as exc:
                await library_response(exc, scope["method"], scope["path"])(scope, receive, send)
                return
        await self.app(scope, receive, send)


def principal_of(request: Request) -> Principal:
    """The caller of a REST request, as `AuthMiddleware` authenticated it."""
    principal: Principal = request.scope[_SCOPE_KEY]
    return principal


SECURITY_SCHEMES: dict[str, Any] = {
    "HTTPBearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`"},
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "`X-API-Key: <key>`"},
}
"""How the OpenAPI schema documents the two ways to send a key (checked in code, not by FastAPI dependencies,
which would cost a third of a request's time)."""


def ensure_owner(principal: Principal, user_id: str, kind: str, ident: str) -> None:
    """404 (exactly as for a missing record) unless `principal` may see `user_id`'s data."""
    if not principal.may_see(user_id):
        raise NotFound(f"no {kind} {ident!r}")
