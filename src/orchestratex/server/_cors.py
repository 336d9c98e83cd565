"""CORS (`ORCHESTRATEX_CORS_ORIGINS`): which request headers a browser's preflight may ask for, and which
answer headers its scripts may read.

Allowed: what the server reads (`Authorization`, `X-API-Key`, `Content-Type`, `traceparent`,
`tracestate`) and what the official OpenAI JavaScript SDK sends from a browser (`User-Agent`,
`OpenAI-Organization`, `OpenAI-Project`, `OpenAI-Beta` and its `X-Stainless-*` headers, whose set grows
with the SDK: any header of that prefix is allowed). A preflight asking for any other header is refused,
as before. Exposed: the rate-limit headers and `x-should-retry`, which the SDK reads to know that a failed
call must not be retried (it ran and may have spent): hidden from it, the SDK would retry and pay again.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

__all__ = ["ALLOW_HEADERS", "ALLOW_METHODS", "EXPOSE_HEADERS", "ApiCors"]

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
ALLOW_METHODS = ("GET", "POST", "PATCH", "DELETE", "OPTIONS")
EXPOSE_HEADERS = ("RateLimit", "RateLimit-Policy", "Retry-After", "x-should-retry")
_SDK_PREFIX = "x-stainless-"


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

    def preflight_response(self, request_headers: Headers) -> Response:
        requested = request_headers.get("access-control-request-headers")
        if requested is None:
            return super().preflight_response(request_headers)
        names = [h.strip().lower() for h in requested.split(",")]
        sdk = [n for n in names if n.startswith(_SDK_PREFIX) and len(n) > len(_SDK_PREFIX)]
        if not sdk:
            return super().preflight_response(request_headers)
        rest = ", ".join(n for n in names if n not in sdk)
        raw = [(k, v) for k, v in request_headers.raw if k != b"access-control-request-headers"]
        if rest:
            raw.append((b"access-control-request-headers", rest.encode("latin-1")))
        response = super().preflight_response(Headers(raw=raw))
        if response.status_code == 200:
            allowed = response.headers.get("access-control-allow-headers", "")
            response.headers["Access-Control-Allow-Headers"] = ", ".join([*filter(None, [allowed]), *sdk])
        return response
