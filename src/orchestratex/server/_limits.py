"""The spec's limits, counted in the store so they hold across server processes sharing it.

- Rate: `rate_limit` requests per session per fixed window of `rate_window_s` seconds, and
  `user_rate_limit` requests per user (every route) → 429 with `Retry-After`. Answers of requests counted
  against a session carry `RateLimit-Policy` (both policies, `"session"` and `"user"`) and `RateLimit` (the
  one of them closest to being reached), in the structured-field syntax of the IETF draft
  (draft-ietf-httpapi-ratelimit-headers-08 and later); so does a 429 of either limit, and an answer on `/api` or
  `/v1` of a request counted against its user alone names the user's.
- Concurrency: `max_concurrent` orchestrations `pending` or `running` per user → 429.
- Size: bodies over `max_body_bytes` → 413, refused from `Content-Length` or while streaming, never
  read whole.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from typing import Any, NoReturn

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..exceptions import StoreUnavailable
from ..stores import Store
from ._errors import ApiError, error_response, note_limit, note_rate, note_user_rate, rate_headers, user_rate
from ._openai_shape import openai_error_object, under_v1
from ._paths import route_path

logger = logging.getLogger("orchestratex.server")

__all__ = ["BodySizeLimit", "ConcurrencyLimiter", "RateAnnouncing", "RateLimiter", "StreamLimit"]


def _item(policy: str, remaining: int, reset: int) -> str:
    """A `RateLimit` header's item: what is left of `policy` (`"session"` or `"user"`) and for how many seconds."""
    return f'"{policy}";r={remaining};t={reset}'


class RateLimiter:
    """Fixed windows per session (`ratelimit:<session>:<window>`) and per user (`userrate:<user>:<window>`), in
    store counters.

    Counting must not make a request wait for the store: when a counter write takes longer than
    `store_timeout_s` or the store is unavailable (another process holding SQLite's write lock, say),
    this process counts in its own memory for `degraded_s` seconds instead — the limits still hold,
    per process — so reads keep being answered while writes wait for the store.
    """

    def __init__(
        self,
        store: Store,
        limit: int,
        window_s: int,
        user_limit: int | None = None,
        *,
        store_timeout_s: float = 1.0,
        degraded_s: float = 5.0,
        user_sync_s: float = 0.5,
    ) -> None:
        self.store = store
        self.limit = limit
        self.window_s = window_s
        self.user_limit = user_limit
        self.store_timeout_s = store_timeout_s
        self.degraded_s = degraded_s
        self.user_sync_s = user_sync_s
        self._users: dict[str, list[Any]] = {}
        """Per user window: [count in the store when last synced, counted here since, last sync time, window]."""
        self.policy = f'"session";q={limit};w={window_s}' + (
            "" if user_limit is None else f', "user";q={user_limit};w={window_s}'
        )
        """`RateLimit-Policy`: every limit a request naming a session counts against."""
        self._local: dict[str, list[float]] = {}
        self._degraded_until = 0.0

    async def hit(self, session_id: str, *, refuse: bool = True) -> dict[str, str]:
        """Count one request against `session_id`; raise 429 past the limit (unless not `refuse`: see `hit_stop`),
        else return the `RateLimit` headers.

        `RateLimit` names the limit closest to being reached: the session's, or its user's when the request was
        counted against that (`hit_user`, earlier in the same request) and it has fewer requests left — a client
        pacing itself by the headers is then not refused by a limit they never announced."""
        count, reset = await self._count(f"ratelimit:{session_id}")
        remaining = max(0, self.limit - count)
        current = _item("session", remaining, reset)
        user = user_rate()
        if user is not None and user[0] < remaining:
            current = _item("user", *user)
        headers = {"RateLimit-Policy": self.policy, "RateLimit": current}
        note_rate(headers)  # (an error answered after this carries them too)
        if count > self.limit and refuse:
            headers["Retry-After"] = str(reset)
            raise ApiError(
                429,
                f"rate limit reached: {self.limit} requests per {self.window_s} s for session {session_id};"
                f" retry in {reset} s",
                headers,
                limit="rate",
            )
        return headers

    async def hit_stop(self, session_id: str, user_id: str, *, stops: bool, user_deferred: bool) -> dict[str, str]:
        """Count a request that may stop spending (cancelling a run, ending a session) against `session_id`. One
        that `stops` something is never refused for the rate: a client past the limit (polling its runs' status,
        say) could otherwise not stop them, and they would go on paying for up to a window. One that stops nothing
        is refused as any other request, for the session's rate and, when the middleware left that to the route
        (`user_deferred`), for its user's (`check_user`)."""
        if not stops and user_deferred:
            self.check_user(user_id)
        return await self.hit(session_id, refuse=not stops)

    async def hit_user(self, user_id: str, *, refuse: bool = True) -> None:
        """Count one request of `user_id` (any route); raise 429 past `user_limit` (unless not `refuse`: the
        route then decides, with `check_user`).

        Counted in this process and added to the store's counter in batches — at a user's first request
        in a window, then at most every `user_sync_s` — so that this second limit costs no store write per
        request. Processes sharing the store see each other's counts within `user_sync_s`: together they
        may pass the limit by what they serve in that time, no more.
        """
        if self.user_limit is None:
            return
        now = time.time()
        window = int(now // self.window_s)
        reset = max(1, math.ceil((window + 1) * self.window_s - now))
        key = f"userrate:{user_id}:{window}"
        entry = self._users.get(key)
        if entry is None:
            if len(self._users) > 10_000:
                self._users = {k: e for k, e in self._users.items() if e[3] >= window}
            entry = self._users[key] = [0, 0, float("-inf"), window]
        entry[1] += 1
        loop = asyncio.get_running_loop()
        if loop.time() - entry[2] >= self.user_sync_s:
            pending, entry[1], entry[2] = entry[1], 0, loop.time()
            try:
                entry[0] = max(entry[0], await self._add(key, pending, now, reset))
            except BaseException:
                entry[1] += pending  # counted next time
                raise
        note_user_rate(max(0, self.user_limit - entry[0] - entry[1]), reset)
        if refuse and entry[0] + entry[1] > self.user_limit:
            self._refuse_user(user_id, now, window)

    def announcing(self, send: Send) -> Send:
        """`send`, adding to an answer that carries no `RateLimit` the headers of its request as counted by the time
        the answer starts: the session's (`hit`), else the user's (`hit_user`) — a route that names no session
        (listing sessions, the catalog, `/v1/models`) said nothing of the limit its requests count against until its
        429. Read when the answer starts, so `send` may be wrapped before the route counts the request (`/v1`)."""

        async def send_announcing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"ratelimit" for name, _ in headers):
                    message = {**message, "headers": headers + self._counted()}
            await send(message)

        return send_announcing

    def _counted(self) -> list[tuple[bytes, bytes]]:
        """The `RateLimit` headers of the request being answered, as it was counted (none when it was not)."""
        user = user_rate()
        current = (rate_headers() or {}).get("RateLimit") or (None if user is None else _item("user", *user))
        if current is None:
            return []
        return [(b"ratelimit-policy", self.policy.encode()), (b"ratelimit", current.encode())]

    def check_user(self, user_id: str) -> None:
        """Raise 429 when `user_id` is past `user_limit` in the current window (counting nothing)."""
        if self.user_limit is None:
            return
        now = time.time()
        window = int(now // self.window_s)
        entry = self._users.get(f"userrate:{user_id}:{window}")
        if entry is not None and entry[0] + entry[1] > self.user_limit:
            self._refuse_user(user_id, now, window)

    def _refuse_user(self, user_id: str, now: float, window: int) -> NoReturn:
        reset = max(1, math.ceil((window + 1) * self.window_s - now))
        raise ApiError(
            429,
            f"rate limit reached: {self.user_limit} requests per {self.window_s} s for user {user_id};"
            f" retry in {reset} s",
            {"Retry-After": str(reset), "RateLimit-Policy": self.policy, "RateLimit": _item("user", 0, reset)},
            limit="user_rate",
        )

    async def _count(self, prefix: str) -> tuple[int, int]:
        """Add one to the current window of `prefix`; returns the new count and the seconds until the window ends."""
        now = time.time()
        window = int(now // self.window_s)
        reset = max(1, math.ceil((window + 1) * self.window_s - now))
        return await self._add(f"{prefix}:{window}", 1, now, reset), reset

    async def _add(self, key: str, amount: int, now: float, reset: int) -> int:
        """Add `amount` to the window counter `key` in the store, or in this process while the store is slow."""
        loop = asyncio.get_running_loop()
        if loop.time() >= self._degraded_until:
            try:
                async with asyncio.timeout(self.store_timeout_s):
                    count = await self.store.incr(key, amount, ttl_s=reset + 1)
                self._remember(key, count, now, reset)
                return count
            except (TimeoutError, StoreUnavailable) as exc:
                self._degraded_until = loop.time() + self.degraded_s
                logger.warning(
                    "rate-limit counters are slow or unavailable in the store (%s): counting in this process for %g s",
                    type(exc).__name__,
                    self.degraded_s,
                )
        return self._count_locally(key, amount, now, reset)

    def _remember(self, key: str, count: int, now: float, reset: int) -> None:
        """Keep the store's count of `key`, so that counting in this process (the store slow) goes on from it."""
        counter = self._local.get(key)
        if counter is None:
            self._make_room(now)
            self._local[key] = [count, now + reset + 1]
        else:
            counter[0] = max(counter[0], count)

    def _make_room(self, now: float) -> None:
        if len(self._local) >= 10_000:
            self._local = {k: c for k, c in self._local.items() if c[1] > now}
            if len(self._local) >= 5_000:  # (that many live windows: forget them rather than sift them each time)
                self._local = {}

    def _count_locally(self, key: str, amount: int, now: float, reset: int) -> int:
        counter = self._local.get(key)
        if counter is None or counter[1] <= now:
            self._make_room(now)
            counter = self._local[key] = [0, now + reset + 1]
        counter[0] += amount
        return int(counter[0])


CONCURRENCY_RETRY_AFTER_S = 1
"""`Retry-After` of the 429 for too many orchestrations running (the same on `/api` and `/v1`)."""


class RateAnnouncing:
    """Every HTTP answer of `app`, whose routes count their requests themselves (`/v1`), carries the `RateLimit`
    headers of its request as counted (`RateLimiter.announcing`), as `AuthMiddleware` gives `/api`'s."""

    def __init__(self, app: ASGIApp, rate: RateLimiter) -> None:
        self.app = app
        self.rate = rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, self.rate.announcing(send) if scope["type"] == "http" else send)


class ConcurrencyLimiter:
    """Orchestrations per user that are `pending` or `running`, counted from the store itself.

    A slot is held by an orchestration for as long as the store has it `pending` or `running`, so
    nothing has to give it back: a run that ends frees it, and a process that dies mid-run leaves
    it to whichever process resumes the run. `acquire`/`release` bracket the short time between
    the check and the orchestration being stored, as a counter of starts in flight, so that
    concurrent starts (in any process sharing the store) cannot exceed the limit together. That
    counter lives in fixed windows of `start_window_s` seconds: one a dying process leaves behind
    is gone within two windows.
    """

    def __init__(self, store: Store, limit: int, start_window_s: int = 30, settle_s: float = 5.0) -> None:
        self.store = store
        self.limit = limit
        self.start_window_s = start_window_s
        self.settle_s = settle_s

    def _starting_key(self, user_id: str, window: int) -> str:
        return f"starting:{user_id}:{window}"

    async def acquire(self, user_id: str) -> tuple[str, int]:
        """Admit one more orchestration of `user_id` or raise 429; returns the token `release` takes.

        A start is counted twice for a moment — once stored, until its `release` — so `running + starting`
        may exceed the limit although fewer runs exist. Only `running` (stored runs) alone at the limit is
        a sure refusal; otherwise the start steps back and tries again after a random pause (growing
        exponentially, as in Ethernet's backoff), for up to `settle_s` seconds, while the starts in flight
        finish. Never over the limit, and no refusal for a double count.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_s
        attempt = 0
        while True:
            token, running, starting = await self._try(user_id)
            if running + starting <= self.limit:
                return token
            await self.release(token)
            if running >= self.limit or loop.time() >= deadline:
                raise ApiError(
                    429,
                    f"user {user_id} already has {self.limit} orchestrations running (the limit): wait for one to end",
                    {"Retry-After": str(CONCURRENCY_RETRY_AFTER_S)},  # (when one ends is not known: a short wait)
                    limit="concurrency",
                )
            # starts contending for the last slots step back for random, growing pauses until one goes alone
            attempt += 1
            await asyncio.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))

    async def _try(self, user_id: str) -> tuple[tuple[str, int], int, int]:
        """Count this start in, then read how many starts are in flight and how many runs are stored."""
        window = int(time.time() // self.start_window_s)
        token = (self._starting_key(user_id, window), window)
        ttl = 2 * self.start_window_s
        # both counters in one round trip (a store that batches writes, as SQLite's, puts them in one transaction)
        counted, before = await asyncio.gather(
            self.store.incr(token[0], 1, ttl_s=ttl),
            self.store.incr(self._starting_key(user_id, window - 1), 0, ttl_s=ttl),
            return_exceptions=True,
        )
        if isinstance(counted, BaseException):
            raise counted
        try:
            if isinstance(before, BaseException):
                raise before
            running = await self.store.count_active_orchestrations(user_id)
        except BaseException:
            await self.release(token)
            raise
        return token, running, counted + before

    async def release(self, token: tuple[str, int]) -> None:
        """The start `acquire` admitted is over: its orchestration is stored (and counted), or was never made."""
        key, window = token
        if int(time.time() // self.start_window_s) - window < 2:  # later, the key is no longer counted (or kept)
            await self.store.incr(key, -1, ttl_s=2 * self.start_window_s)


STREAMS_RETRY_AFTER_S = 5
"""`Retry-After` of the 429 for too many WebSocket streams open."""


class StreamLimit:
    """WebSocket streams open per user in this process: `open` raises 429 past `limit`; `close` gives one back."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def open(self, user_id: str) -> None:
        count = self._open.get(user_id, 0)
        if count >= self.limit:
            raise ApiError(
                429,
                f"user {user_id} already has {self.limit} event streams open (the limit): close one",
                {"Retry-After": str(STREAMS_RETRY_AFTER_S)},  # (no time is known when one closes: a short wait)
                limit="streams",
            )
        self._open[user_id] = count + 1

    def close(self, user_id: str) -> None:
        count = self._open.get(user_id, 0) - 1
        if count > 0:
            self._open[user_id] = count
        else:
            self._open.pop(user_id, None)


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
        self.path = route_path(scope)
        """The request's path as sent: mounted apps (`/v1`) move the scope's `root_path` while they answer."""
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
                note_limit("body_size")
                if not self.started:
                    self.started = True
                    await self.limit.refusal(self.path)(self.scope, self._receive, self._send)
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

    def refusal(self, path: str) -> Response:
        """The 413 for a request to `path` (below the app's root path)."""
        mb = self.max_bytes / (1024 * 1024)
        size = f"{self.max_bytes} bytes" + (f" ({mb:g} MB)" if mb >= 1 else "")
        detail = f"request body too large: the limit is {size}"
        if under_v1(path):  # (with OpenAI's `error`, whose message the openai SDK shows)
            return error_response(413, detail, error=openai_error_object(detail, "request_too_large"))
        return error_response(413, detail)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            note_limit("body_size")
            await self.refusal(route_path(scope))(scope, receive, send)
            return
        guard = _Guard(self, scope, receive, send)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.refused:
                raise
            # the app failed on the cut-off body after the 413 was sent: nothing more to answer
