"""API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>` (a WebSocket also the subprotocols `orchestratex,
bearer.<key>`, which a browser can send, or `?token=<key>`, kept for the clients that use it).

Keys are stored only as their SHA-256 hash, each bound to a user id (or admin). A caller sees only
its own user's sessions, threads, orchestrations, analytics and streams; anything else answers 404.

Revocation: a key is looked up in the store on every request (reads of one key are coalesced: a
request shares a read that started after it arrived, never an older one), so a key revoked by any
process sharing the store — `orchestratex keys revoke`, another server — is refused on its next
request. `auth_cache_s` > 0 trades that for fewer reads: a verified key is then trusted for that
long in this process, except that a revocation through this process's admin API drops it at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .._ids import utcnow
from ..exceptions import NotFound, OrchestrateXError, StoreUnavailable, UserError
from ..records import ApiKey
from ..stores import Store
from ._auth_limit import FailedAuthLimit, client_address
from ._errors import ApiError, error_response, library_response
from ._limits import RateLimiter
from ._paths import route_path
from ._users import same_user, user_id_problem

__all__ = [
    "KEY_PREFIX",
    "SECURITY_SCHEMES",
    "UNKNOWN_KEY",
    "USER_LIMIT_DEFERRED",
    "WS_SUBPROTOCOL",
    "AuthMiddleware",
    "Authenticator",
    "Principal",
    "ensure_owner",
    "hash_key",
    "issue_api_key",
    "named_user",
    "no_key_reason",
    "principal_of",
    "unknown_key_reason",
    "ws_subprotocol",
]

KEY_PREFIX = "ox_"
"""Every key starts with this, so a leaked key is easy to recognise."""

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}

MISSING_KEY = "missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user an API key is bound to, and whether it may see every user's data."""

    user_id: str
    admin: bool = False
    key_id: str | None = None
    """The id of the API key the caller authenticated with."""

    def may_see(self, user_id: str) -> bool:
        return self.admin or same_user(user_id, self.user_id)

    def own(self, user_id: str) -> str:
        """`user_id` as the records of this caller's user hold it: its key's id when `user_id` names that user in
        another Unicode form (`same_user`), else `user_id` as given."""
        return self.user_id if user_id != self.user_id and same_user(user_id, self.user_id) else user_id


def hash_key(key: str) -> str:
    """The SHA-256 hex digest stored for `key`."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def issue_api_key(store: Store, user_id: str, *, admin: bool = False, label: str | None = None) -> str:
    """Create a key for `user_id` and return it; only its hash is stored, so it cannot be shown again. The id is
    stored in NFC (see `_users`), unless the store holds keys of `user_id` as given (made before: their user's
    records are stored so)."""
    user_id = user_id.strip()
    if not user_id:
        raise UserError("the user id is empty: give the user the key is for")
    problem = user_id_problem(user_id)
    if problem is not None:
        raise UserError(problem)
    composed = unicodedata.normalize("NFC", user_id)
    if composed != user_id and not await _has_keys(store, user_id):
        problem = user_id_problem(composed)  # (NFC may lengthen an id: U+0958 is two code points in it)
        if problem is not None:
            raise UserError(problem)
        user_id = composed
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await store.create_api_key(ApiKey(key_hash=hash_key(key), user_id=user_id, admin=admin, label=label))
    return key


async def named_user(store: Store, principal: Principal, user_id: str) -> str:
    """`user_id`, which `principal` may see, as its user's records hold it: the caller's own id however it is typed
    (`Principal.own`); another user's (an admin's request) in NFC, as ids are given out, unless given in another form
    that has sessions stored (made before). Only that last case reads the store (one session)."""
    own = principal.own(user_id)
    if own != user_id or own == principal.user_id:
        return own
    composed = unicodedata.normalize("NFC", user_id)
    if composed == user_id:
        return user_id
    return user_id if await store.list_sessions(user_id, limit=1) else composed


async def _has_keys(store: Store, user_id: str) -> bool:
    """Whether the store holds keys of `user_id` (False for a store that cannot list them)."""
    try:
        return bool(await store.list_api_keys(user_id))
    except NotImplementedError:
        return False


class CoalescedReads:
    """Reads of one key by concurrent callers, shared: a caller joins a read that has not started yet (so
    it started after the caller arrived), else waits for the running one and shares the next."""

    def __init__(self, read: Callable[[str], Awaitable[ApiKey | None]]) -> None:
        self.read = read
        self._next: dict[str, asyncio.Future[ApiKey | None]] = {}
        self._running: dict[str, asyncio.Future[ApiKey | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, digest: str) -> ApiKey | None:
        pending = self._next.get(digest)
        if pending is None:
            pending = self._next[digest] = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._run(digest, pending, self._running.get(digest)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(pending)

    async def _run(
        self, digest: str, future: asyncio.Future[ApiKey | None], previous: asyncio.Future[ApiKey | None] | None
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # one read of a key at a time: whoever arrives meanwhile shares the next
        if self._next.get(digest) is future:
            del self._next[digest]
        self._running[digest] = future
        try:
            future.set_result(await self.read(digest))
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: every caller may have gone
        finally:
            if self._running.get(digest) is future:
                del self._running[digest]


_TOUCH_EVERY_S = 60.0


class Authenticator:
    """Checks keys against the store on every request (see the module's docstring), or trusts a verified
    key for `cache_s` seconds when that is > 0."""

    def __init__(self, store: Store, cache_s: float = 0.0, failures: FailedAuthLimit | None = None) -> None:
        self.store = store
        self.cache_s = cache_s
        self.failures = failures
        """Failed checks per client address (`principal(key, address)`); None: no limit."""
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._reads = CoalescedReads(store.get_api_key)
        self._touched: dict[str, float] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._standing: dict[str, Principal] = {}
        """The keys `standing_principal` verified, by digest."""
        self._in_memory = _in_memory(store)
        """Whether the store lives in this process's memory, which `orchestratex keys create` cannot reach."""

    async def principal(self, key: str | None, address: str | None = None, *, missing: str = MISSING_KEY) -> Principal:
        """The caller `key` authenticates, or 401 (`missing` when there is no key: see `no_key_reason`). With the
        client's `address`, a refusal counts against it, and an address past its failed checks (`failures`) is
        answered 429 before its key is looked at."""
        if address is None or self.failures is None:
            return await self._principal(key, missing)
        self.failures.check(address)
        try:
            return await self._principal(key, missing)
        except ApiError as exc:
            if exc.status_code == 401:
                self.failures.fail(address)
            raise

    async def _principal(self, key: str | None, missing: str) -> Principal:
        if not key:
            raise ApiError(401, missing, _UNAUTHORIZED)
        digest = hash_key(key)
        now = time.monotonic()
        if self.cache_s > 0:
            cached = self._cache.get(digest)
            if cached is not None and cached[1] > now:
                return cached[0]
        record = await self._reads.get(digest)
        if record is None:
            raise ApiError(401, unknown_key_reason(key, in_memory=self._in_memory), _UNAUTHORIZED)
        if record.revoked_at is not None:
            self._cache.pop(digest, None)
            raise ApiError(401, "this API key was revoked: ask for a new one", _UNAUTHORIZED)
        principal = Principal(record.user_id, record.admin, record.id)
        if self.cache_s > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (principal, now + self.cache_s)
        if now - self._touched.get(record.id, -_TOUCH_EVERY_S) >= _TOUCH_EVERY_S:
            self._touch(record.id, now)
        return principal

    async def standing_principal(
        self, key: str | None, address: str | None = None, *, missing: str = MISSING_KEY
    ) -> Principal:
        """`principal`, for the reader of `/metrics`, which is how an outage of the store is watched: while the store
        cannot be asked (`StoreUnavailable`), a key this process verified for it before is taken as it was then. A
        Prometheus scrape was refused 503 for as long as the store was down, so the outage looked like the server
        being down and its errors were seen only once the store was back. A key revoked through this server is
        forgotten at once (`forget`)."""
        try:
            principal = await self.principal(key, address, missing=missing)
        except StoreUnavailable:
            known = self._standing.get(hash_key(key)) if key else None
            if known is None:
                raise
            return known
        if key:
            if len(self._standing) >= 1000:
                self._standing.clear()
            self._standing[hash_key(key)] = principal
        return principal

    def forget(self, key_id: str) -> None:
        """Drop what this process remembers of key `key_id` (it was revoked)."""
        for digest, (principal, _) in list(self._cache.items()):
            if principal.key_id == key_id:
                del self._cache[digest]
        for digest, principal in list(self._standing.items()):
            if principal.key_id == key_id:
                del self._standing[digest]

    def _touch(self, key_id: str, now: float) -> None:
        """Record the key's use in the store, at most once a minute per key, without holding up the request."""
        if len(self._touched) > 10_000:
            self._touched.clear()
        self._touched[key_id] = now

        async def touch() -> None:
            try:
                await self.store.touch_api_key(key_id, utcnow())
            except Exception:  # best effort: `last used` is informative only
                return

        task = asyncio.create_task(touch())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


UNKNOWN_KEY = "unknown API key (create one with `orchestratex keys create USER_ID`)"


IN_MEMORY_STORE = (
    "this server's store lives in its memory, which `orchestratex keys create` cannot reach: serve a store that lasts"
    " (`orchestratex serve --store sqlite:///…`, `create_app(store_url=…)`) and create the key in it (`orchestratex"
    " keys create USER_ID --store sqlite:///…`)"
)
"""What a 401 of a server whose store is in its memory (`serve --store memory://`, an app given no store) says instead
of "create one with `orchestratex keys create`", a command that refuses such a store (no other process reaches it)."""


def _in_memory(store: Store) -> bool:
    from ..stores.memory import MemoryStore

    return isinstance(store, MemoryStore) or getattr(store, "path", None) == ":memory:"  # (`sqlite://`)


def unknown_key_reason(key: str, *, in_memory: bool = False) -> str:
    """Why `key` is no key, for its 401: a key wrapped in what belongs around it — quotes kept from an env file
    (`KEY="ox_…"`), `Bearer ` sent twice (an SDK adds its own to a key given as `Bearer ox_…`) or in `X-API-Key` —
    is named as such (never what it holds), as "unknown" sends the user to create a key they already have. With
    `in_memory` (the server's store lives in its memory), where to create a key is `IN_MEMORY_STORE`."""
    if key[:1] in ("'", '"') or key[-1:] in ("'", '"'):
        return "unknown API key: it is in quotes (as an env file may keep them): send the key without them"
    if key.partition(" ")[0].lower() == "bearer":
        return (
            "unknown API key: it begins with `Bearer`, which goes only once, before the key, in `Authorization:"
            " Bearer <key>` (`X-API-Key` and an SDK's api_key take the key alone)"
        )
    vendor = next((name for prefix, name in _VENDOR_KEYS if key.startswith(prefix)), None)
    if vendor is not None:  # (OPENAI_BASE_URL pointed here, OPENAI_API_KEY left as it was: "unknown" said nothing)
        created = f"; {IN_MEMORY_STORE}" if in_memory else ", created with `orchestratex keys create USER_ID`"
        return (
            f"unknown API key: it looks like {vendor} API key, not one of this server's (they begin with"
            f" `{KEY_PREFIX}`): give the client a key of this server (OPENAI_API_KEY, or its api_key){created}"
        )
    return f"unknown API key: {IN_MEMORY_STORE}" if in_memory else UNKNOWN_KEY


_VENDOR_KEYS = (("sk-ant-", "an Anthropic"), ("sk-or-", "an OpenRouter"), ("sk-", "an OpenAI"), ("AIza", "a Google"))
"""How other services' keys begin (the first that matches names it), for the 401 of a client that sent one here."""


WS_SUBPROTOCOL = "orchestratex"
"""The subprotocol a WebSocket offers beside `bearer.<key>` (`Sec-WebSocket-Protocol: orchestratex, bearer.<key>`), and
the one the server answers with: never the key. A browser's WebSocket can set no other header (`new WebSocket(url,
["orchestratex", "bearer." + key])`), and `?token=<key>` put the key in its URL, which Chromium writes to the devtools
console on every failed attempt, and which proxies log. Keys (`ox_` and URL-safe base64) are subprotocol tokens as
they are."""

_BEARER = "bearer."


def _subprotocol_keys(connection: HTTPConnection) -> list[str]:
    """The keys a WebSocket offers as `bearer.<key>` subprotocols (none for an HTTP request)."""
    offered: list[str] = connection.scope.get("subprotocols") or []
    return [name[len(_BEARER) :] for name in offered if name.startswith(_BEARER)]


def ws_subprotocol(connection: HTTPConnection) -> str | None:
    """The subprotocol to accept a WebSocket with: `WS_SUBPROTOCOL` when it offered it, else None. 400 for a key offered
    as `bearer.<key>` without it: the server could answer only with the key, which it never echoes, and a browser
    fails a connection answered with none of the subprotocols it offered."""
    offered = connection.scope.get("subprotocols") or []
    if WS_SUBPROTOCOL in offered:
        return WS_SUBPROTOCOL
    if _subprotocol_keys(connection):
        raise ApiError(
            400,
            f"the key is offered as the `bearer.<key>` subprotocol without `{WS_SUBPROTOCOL}`: offer both"
            f" (`Sec-WebSocket-Protocol: {WS_SUBPROTOCOL}, bearer.<key>`), and the server answers `{WS_SUBPROTOCOL}`",
        )
    return None


def key_of(connection: HTTPConnection) -> str | None:
    """The key a request or WebSocket carries (header first, then, for WebSockets only, the `bearer.<key>` subprotocol,
    then `?token=`): `Authorization: Bearer`, else `X-API-Key`, else the subprotocol, else `?token=`; the latter
    three also win over a bearer token that is no key of this server (a gateway's). 400 when it carries two
    different keys of this server (see `_one_key`)."""
    _one_key(connection)
    headers = connection.headers
    auth = headers.get("authorization")
    key = headers.get("x-api-key")
    token = None
    if connection.scope["type"] == "websocket":
        token = next(iter(_subprotocol_keys(connection)), None) or connection.query_params.get("token")
    if auth:
        scheme, _, value = auth.partition(" ")
        value = value.strip()
        # a bearer token that is no key of this server beside an `X-API-Key` (or a WebSocket's subprotocol or
        # `?token=`) is for something in front of it (an API gateway, an identity-aware proxy passing its
        # `Authorization` on)
        if scheme.lower() == "bearer" and value and (value.startswith(KEY_PREFIX) or not (key or token)):
            return value
    if key:
        return key.strip()
    return token.strip() if token else token  # (a key read from a file with its line's end: `%0A`, as headers drop it)


def _one_key(connection: HTTPConnection) -> None:
    """400 when a request carries two different keys of this server (values beginning `ox_`): in `Authorization:
    Bearer` and `X-API-Key`, in either header given twice, or in a header and a WebSocket's `bearer.<key>` subprotocol
    or `?token=`. Which one it acts as is not for the server to guess (it took the first silently: alice's key and
    bob's acted as alice), and no key is looked at, so the answer tells nothing of either. A value of another service
    (a gateway's bearer token, an API gateway's `x-api-key`) beside the key is left alone."""
    headers = connection.headers
    found: dict[str, str] = {}
    for value in headers.getlist("authorization"):
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "bearer":
            found.setdefault(rest.strip(), "`Authorization: Bearer`")
    for value in headers.getlist("x-api-key"):
        found.setdefault(value.strip(), "`X-API-Key`")
    if connection.scope["type"] == "websocket":
        for value in _subprotocol_keys(connection):
            found.setdefault(value.strip(), "`Sec-WebSocket-Protocol: bearer.<key>`")
        for value in connection.query_params.getlist("token"):
            found.setdefault(value.strip(), "`?token=`")
    keys = {key: where for key, where in found.items() if key.startswith(KEY_PREFIX)}
    if len(keys) > 1:
        places = sorted(set(keys.values()))
        named = f"in {places[0]} and {places[1]}" if len(places) > 1 else f"in {places[0]}, given twice"
        raise ApiError(
            400,
            f"the request carries two different API keys ({named}): send one key, so that it is clear whose"
            " request it is",
        )


def no_key_reason(connection: HTTPConnection) -> str:
    """Why `key_of(connection)` found no key, for its 401: an `Authorization` header that is not `Bearer <key>` is
    named (never what it holds, which may be the key), as "missing" would puzzle a client that did send one; a
    WebSocket is told of the `bearer.<key>` subprotocol (a browser's can send no other header), and of a `bearer.` or
    `token` given empty."""
    auth = connection.headers.get("authorization")
    if not auth or connection.headers.get("x-api-key"):
        if connection.scope["type"] != "websocket":
            in_url = _key_in_url(connection)
            if in_url is not None:  # (`?token=<key>`, as a WebSocket sends it: "missing" would puzzle the client)
                return (
                    f"missing API key: the key in the URL ({in_url}) is not read here, only a WebSocket reads"
                    " `?token=<key>`: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
                )
            return MISSING_KEY
        if _subprotocol_keys(connection):  # (`bearer.`: a variable that held nothing)
            return f"the `bearer.` subprotocol holds no key: offer `{WS_SUBPROTOCOL}` and `bearer.<key>`"
        if "token" in connection.query_params:  # (`?token=`: a variable that held nothing)
            return "the `token` query parameter is empty: give the key (`?token=<key>`)"
        # a browser's WebSocket can send no header but its subprotocols: not `?token=`, as the URL is logged
        return (
            f"missing API key: offer the subprotocols `{WS_SUBPROTOCOL}` and `bearer.<key>` (a browser: `new"
            f' WebSocket(url, ["{WS_SUBPROTOCOL}", "bearer." + key])`), or send `Authorization: Bearer <key>` or'
            " `X-API-Key: <key>`"
        )
    scheme = auth.strip().partition(" ")[0]
    if scheme.lower() == "bearer":
        return "the Authorization header says `Bearer` but holds no key: send `Authorization: Bearer <key>`"
    if scheme.startswith(KEY_PREFIX):
        return "the Authorization header holds a key without its scheme: send `Authorization: Bearer <key>`"
    named = f"the {scheme!r} scheme" if _SCHEME.fullmatch(scheme) else "another scheme"
    return (
        f"the Authorization header uses {named}, not `Bearer`: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
    )


def _key_in_url(connection: HTTPConnection) -> str | None:
    """How an HTTP request's URL carries what looks like its key (`?token=`, or a query parameter holding a value that
    begins `ox_`), named without the value; None when it carries none."""
    for name, value in connection.query_params.multi_items():
        if name == "token" or value.strip().startswith(KEY_PREFIX):
            return f"`?{name}=`" if _PARAMETER.fullmatch(name) else "a query parameter"
    return None


_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,39}")
"""A query parameter's name short enough to quote (`token`, `api_key`)."""

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,19}")
"""An authentication scheme's name short enough to quote (`Basic`, `Token`, `Digest`)."""

_SCOPE_KEY = "orchestratex.principal"

USER_LIMIT_DEFERRED = "orchestratex.user_limit_deferred"
"""Scope key: True when `AuthMiddleware` counted the request against its user's limit but left refusing it to the
route (a request that may stop spending: see `RateLimiter.hit_stop`)."""

_STOP_REQUEST = re.compile(r"(?:POST /api/orchestration/[^/]+/cancel|PATCH /api/sessions/[^/]+/status)/?")
"""Requests that may stop spending: cancelling a run, ending a session."""


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
        if scope["type"] == "http" and route_path(scope).startswith(self.prefix):
            try:
                connection = HTTPConnection(scope)
                principal = await self.authenticator.principal(
                    key_of(connection), client_address(scope), missing=no_key_reason(connection)
                )
                if self.rate is not None:
                    # the per-user limit, on every route; a request that may stop spending is refused by its route
                    # only if it stops nothing (`RateLimiter.hit_stop`)
                    method = scope["method"]
                    stopping = (method == "POST" or method == "PATCH") and _STOP_REQUEST.fullmatch(
                        f"{method} {route_path(scope)}"
                    ) is not None
                    await self.rate.hit_user(principal.user_id, refuse=not stopping)
                    scope[USER_LIMIT_DEFERRED] = stopping
                    send = self.rate.announcing(send)  # (the user's `RateLimit` on an answer naming no session)
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
