"""CORS (`ORCHESTRATEX_CORS_ORIGINS`): which request headers a browser's preflight may ask for, and which
answer headers its scripts may read.

Allowed: what the server reads (`Authorization`, `X-API-Key`, `Content-Type`, `traceparent`,
`tracestate`, and `Idempotency-Key` for `POST /api/orchestration/start` and `POST /v1/chat/completions`, the routes
that read it) and what the
official OpenAI JavaScript SDK sends from a browser (`User-Agent`,
`OpenAI-Organization`, `OpenAI-Project`, `OpenAI-Beta` and its `X-Stainless-*` headers, whose set grows
with the SDK: any header of that prefix is allowed). A preflight asking for any other header is refused,
as before. Exposed: the rate-limit headers and `x-should-retry`, which the SDK reads to know that a failed
call must not be retried (it ran and may have spent): hidden from it, the SDK would retry and pay again; `/v1`'s
`x-request-id`, which the SDK reads (`_request_id`) for its callers to log; and `Idempotent-Replayed`, which says that
a start or a chat completion answered the orchestration an earlier one stored with its `Idempotency-Key`.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import error_response, quoted

__all__ = ["ALLOW_HEADERS", "ALLOW_METHODS", "EXPOSE_HEADERS", "NULL_ORIGIN", "ApiCors", "CorsOff"]

ALLOW_HEADERS = (
    "Authorization",
    "X-API-Key",
    "Content-Type",
    "traceparent",
    "tracestate",
    "User-Agent",
    "OpenAI-Organization",
    "OpenAI-Project",
    "OpenAI-Beta",
)
ALLOW_METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS")
"""`HEAD` too: every `GET` route answers it, and a browser asks before a `HEAD` that carries a key."""
EXPOSE_HEADERS = (
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "x-request-id",
    "x-should-retry",
    "Idempotent-Replayed",
)
_SDK_PREFIX = "x-stainless-"
_KEY = "idempotency-key"
_KEYED = ("/api/orchestration/start", "/v1/chat/completions")
"""The routes that read `Idempotency-Key` (a call sent again answers the orchestration the first one stored)."""
NULL_ORIGIN = (
    "a page opened from a file or in a sandboxed frame has the origin 'null', which no setting can allow (any other"
    " page could claim it): serve the page over http:// or https://"
)
"""Why a preflight from the origin `null` is refused (ORCHESTRATEX_CORS_ORIGINS refuses `null`)."""


class ApiCors(CORSMiddleware):
    """Starlette's CORS middleware with the headers above, and any `X-Stainless-*` header allowed too."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=list(ALLOW_METHODS),
            allow_headers=list(ALLOW_HEADERS),
            expose_headers=list(EXPOSE_HEADERS),
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":  # (a preflight's answer depends on its path)
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                keyed = scope["path"].rstrip("/").endswith(_KEYED)
                await self.preflight_response(headers, keyed=keyed)(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers, *, keyed: bool = False) -> Response:
        """The answer to a preflight; `keyed`: one for a route that reads `Idempotency-Key` (the start of an
        orchestration, a chat completion), which may ask for it."""
        response = self._preflight(request_headers, keyed)
        if response.status_code != 400:
            return response
        # (Starlette's refusal is the text "Disallowed CORS headers": neither the API's error body nor which one)
        kept = {k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")}
        return error_response(400, self._refusal(request_headers, keyed), kept)

    def _refusal(self, request_headers: Headers, keyed: bool) -> str:
        """What a refused preflight asked for that is not allowed."""
        reasons = []
        origin = request_headers["origin"]
        if origin == "null":
            reasons.append(NULL_ORIGIN)
        elif not self.is_allowed_origin(origin=origin):
            reasons.append(
                f"the origin {quoted(origin)} may not call this API from a browser (the server allows the origins"
                " of ORCHESTRATEX_CORS_ORIGINS)"
            )
        method = request_headers["access-control-request-method"]
        if method not in self.allow_methods:
            methods = ", ".join(m for m in ALLOW_METHODS if m != "OPTIONS")
            reasons.append(f"the method {quoted(method)} is not one of the API's ({methods})")
        requested = request_headers.get("access-control-request-headers")
        if requested is not None:
            refused = [h.strip() for h in requested.split(",") if h.strip().lower() not in self.allow_headers]
            refused = [h for h in refused if not _also_allowed(h.lower(), keyed)]
            if refused:
                names = ", ".join(quoted(h) for h in refused)
                reasons.append(
                    f"the server does not read the header{'s' if len(refused) > 1 else ''} {names} (a browser may"
                    f" send {', '.join(ALLOW_HEADERS[:5])} and the OpenAI SDK's headers)"
                )
        if request_headers.get("access-control-request-private-network") is not None:
            reasons.append("a request from a public site to this server's private network address is not allowed")
        return "CORS preflight refused: " + ("; ".join(reasons) or "the request is not allowed from a browser")

    def _preflight(self, request_headers: Headers, keyed: bool) -> Response:
        requested = request_headers.get("access-control-request-headers")
        if requested is None:
            return super().preflight_response(request_headers)
        names = [h.strip().lower() for h in requested.split(",")]
        extra = [n for n in names if _also_allowed(n, keyed)]
        if not extra:
            return super().preflight_response(request_headers)
        rest = ", ".join(n for n in names if n not in extra)
        raw = [(k, v) for k, v in request_headers.raw if k != b"access-control-request-headers"]
        if rest:
            raw.append((b"access-control-request-headers", rest.encode("latin-1")))
        response = super().preflight_response(Headers(raw=raw))
        if response.status_code == 200:
            allowed = response.headers.get("access-control-allow-headers", "")
            response.headers["Access-Control-Allow-Headers"] = ", ".join([*filter(None, [allowed]), *extra])
        return response


def _sdk_header(name: str) -> bool:
    """Whether `name` (lowercase) is one of the OpenAI SDK's `X-Stainless-*` headers."""
    return name.startswith(_SDK_PREFIX) and len(name) > len(_SDK_PREFIX)


def _also_allowed(name: str, keyed: bool) -> bool:
    """Whether `name` (lowercase), not in `ALLOW_HEADERS`, is allowed in a preflight: an `X-Stainless-*` header, or
    `Idempotency-Key` in one for a route that reads it (`keyed`: the start of an orchestration, a chat completion)."""
    return _sdk_header(name) or (keyed and name == _KEY)


class CorsOff:
    """ASGI middleware of a server allowing no browser origin (`ORCHESTRATEX_CORS_ORIGINS` empty): a browser's
    preflight is answered 403 saying that, and what to set. It went on to the routes, which answered it as any
    request: `/api/…` 401 "missing API key" (a preflight carries no key: the page's developer was sent after a key
    the page does send) and counted it as a failed key check against the address, others 405 "Method Not
    Allowed"."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and "access-control-request-method" in headers:
                detail = "this server allows no cross-origin requests from a browser: " + (
                    NULL_ORIGIN
                    if origin == "null"
                    else f"to call it from a page of {quoted(origin)}, set ORCHESTRATEX_CORS_ORIGINS to that origin"
                    " (comma-separated for several)"
                )
                await error_response(403, detail, {"Vary": "Origin"})(scope, receive, send)
                return
        await self.app(scope, receive, send)
