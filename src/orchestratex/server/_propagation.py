"""W3C trace context from HTTP requests (`traceparent`, `tracestate`), so an orchestration started by a
request is traced as a child of the caller's span — also while it runs on in the background (its task
copies the request's context)."""

from __future__ import annotations

from starlette.types import Scope

__all__ = ["attach_remote_parent"]


def attach_remote_parent(scope: Scope) -> object | None:
    """Attach the HTTP request's remote span context when it carries a `traceparent` and no server span (FastAPI's
    own, an ASGI instrumentation's) is current already; the token to detach it with, else None. Call it only once
    OpenTelemetry is imported."""
    traceparent = None
    for name, value in scope["headers"]:
        if name == b"traceparent":
            traceparent = value
            break
    if traceparent is None:
        return None
    from opentelemetry import context, propagate, trace

    if trace.get_current_span().get_span_context().is_valid:
        return None
    # A header sent on several lines is one list (RFC 9110): W3C Trace Context splits `tracestate` so when it is long,
    # and taking the last line alone dropped the vendors' entries of the others.
    carrier: dict[str, str] = {}
    for name, value in scope["headers"]:
        key, text = name.decode("latin-1"), value.decode("latin-1")
        carrier[key] = f"{carrier[key]},{text}" if key in carrier else text
    return context.attach(propagate.extract(carrier))
