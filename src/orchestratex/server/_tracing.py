"""The request's part in tracing, in one pass-through ASGI layer: the keys out of its server span's URL
(`_redact`), the caller's trace context (`_propagation`) and the name of a refused request's span (`_span_route`).

They were three layers, each on every request even with nothing traced; without OpenTelemetry imported this one only
passes the request on.
"""

from __future__ import annotations

import sys

from starlette.types import ASGIApp, Receive, Scope, Send

from ._propagation import attach_remote_parent
from ._redact import redact_span_url
from ._span_route import naming_refusals

__all__ = ["RequestTracing"]


class RequestTracing:
    """For an HTTP request or a WebSocket, once OpenTelemetry is imported: hide the API keys of its URL in the current
    server span; for an HTTP request also attach the caller's `traceparent` (when no server span is current), and
    name the server span of a request refused before routing after its route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or "opentelemetry.trace" not in sys.modules:
            await self.app(scope, receive, send)
            return
        redact_span_url(scope)
        if kind != "http":
            await self.app(scope, receive, send)
            return
        token = attach_remote_parent(scope)
        try:
            await self.app(scope, receive, naming_refusals(scope, send))
        finally:
            if token is not None:
                from opentelemetry import context

                context.detach(token)  # type: ignore[arg-type]
