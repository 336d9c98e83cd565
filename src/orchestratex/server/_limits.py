"""The spec's limits, counted in the store so they hold across server processes sharing it.

- Rate: `rate_limit` requests per session per fixed window of `rate_window_s` seconds → 429 with
  `Retry-After`, `RateLimit` and `RateLimit-Policy` (IETF draft structured-field syntax).
- Concurrency: `max_concurrent` orchestrations running per user → 429.
- Size: bodies over `max_body_bytes` → 413, refused from `Content-Length` or while streaming, never
  read whole.
"""

from __future__ import annotations

import math
import time

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..stores import Store
from ._errors import ApiError, error_response

__all__ = ["BodySizeLimit", "ConcurrencyLimiter", "RateLimiter"]


class RateLimiter:
    """Fixed windows per session, in store counters (`ratelimit:<session>:<window>`)."""

    def __init__(self, store: Store, limit: int, window_s: int) -> None:
        self.store = store
        self.limit = limit
        self.window_s = window_s
        self.policy = f'"session";q={limit};w={window_s}'

    async def hit(self, session_id: str) -> dict[str, str]:
        """Count one request against `session_id`; raise 429 past the limit, else return the `RateLimit` headers."""
        now = time.time()
        window = int(now // self.window_s)
        reset = max(1, math.ceil((window + 1) * self.window_s - now))
        count = await self.store.incr(f"ratelimit:{session_id}:{window}", 1, ttl_s=reset + 1)
        remaining = max(0, self.limit - count)
        headers = {"RateLimit-Policy": self.policy, "RateLimit": f'"session";r={remaining};t={reset}'}
        if count > self.limit:
            headers["Retry-After"] = str(reset)
            raise ApiError(
                429,
                f"rate limit reached: {self.limit} requests per {self.window_s} s for session {session_id};"
                f" retry in {reset} s",
                headers,
            )
        return headers


class ConcurrencyLimiter:
    """Running orchestrations per user, in store counters.

    `acquire` adds one to `running:<user>` (refusing past the limit); `mark` records that an
    orchestration holds a slot (`running-orchestration:<id>`); `settle` gives the slot back exactly
    once, whichever process finishes the orchestration (a resumed one included).
    """

    _MARK_TTL_S = 7 * 24 * 3600.0

    def __init__(self, store: Store, limit: int) -> None:
        self.store = store
        self.limit = limit

    async def acquire(self, user_id: str) -> None:
        key = f"running:{user_id}"
        count = await self.store.incr(key, 1)
        if count > self.limit:
            await self.store.incr(key, -1)
            raise ApiError(
                429,
                f"user {user_id} already has {self.limit} orchestrations running (the limit): wait for one to end",
            )

    async def release(self, user_id: str) -> None:
        await self.store.incr(f"running:{user_id}", -1)

    async def mark(self, orchestration_id: str) -> None:
        await self.store.incr(f"running-orchestration:{orchestration_id}", 1, ttl_s=self._MARK_TTL_S)

    async def settle(self, orchestration_id: str, user_id: str) -> None:
        """The orchestration ended: free its user's slot if it held one and nobody freed it yet."""
        if await self.store.incr(f"running-orchestration:{orchestration_id}", -1, ttl_s=self._MARK_TTL_S) == 0:
            await self.release(user_id)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


class _Guard:
    """Counts the bytes of one request's body; past the limit, answers 413 and cuts the app off."""

    def __init__(self, limit: BodySizeLimit, scope: Scope, receive: Receive, send: Send) -> None:
        self.limit, self.scope, self._receive, self._send = limit, scope, receive, send
        self.read = 0
        self.refused = False
        self.started = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            if self.read > self.limit.max_bytes:
                self.refused = True
                if not self.started:
                    self.started = True
                    await self.limit.refusal()(self.scope, self._receive, self._send)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the 413 went out already; the app's own answer is dropped
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class BodySizeLimit:
    """ASGI middleware answering 413 for bodies over `max_bytes`, without reading them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def refusal(self) -> Response:
        mb = self.max_bytes / (1024 * 1024)
        size = f"{self.max_bytes} bytes" + (f" ({mb:g} MB)" if mb >= 1 else "")
        return error_response(413, f"request body too large: the limit is {size}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await self.refusal()(scope, receive, send)
            return
        guard = _Guard(self, scope, receive, send)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.refused:
                raise
            # the app failed on the cut-off body after the 413 was sent: nothing more to answer
