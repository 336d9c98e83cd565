"""W3C trace context from HTTP requests (`traceparent`, `tracestate`), so an orchestration started by a
request is traced as a child of the caller's span — also while it runs on in the background (its task
copies the request's context)."""

from __future__ import annotations

import sys

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["TraceContextMiddleware"]


class TraceContextMiddleware:
    """Attach the request's remote span context, when OpenTelemetry is in use and no server span (from an
    ASGI instrumentation) is current already. Without OpenTelemetry imported, it only passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "opentelemetry.trace" not in sys.modules:
            await self.app(scope, receive, send)
            return
        traceparent = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                traceparent = value
                break
        if traceparent is None:
            await self.app(scope, receive, send)
            return
        from opentelemetry import context, propagate, trace

        if trace.get_current_span().get_span_context().is_valid:
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        token = context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
