"""The request's part in tracing (`_tracing.RequestTracing`), at the ASGI level: the caller's trace context."""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanContext

from orchestratex.server._tracing import RequestTracing

TRACE_ID, PARENT_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


def _context_seen(headers: list[tuple[bytes, bytes]]) -> SpanContext:
    """The span context current in the app behind `RequestTracing` for a GET with `headers` (no server span)."""
    seen: list[SpanContext] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(trace.get_current_span().get_span_context())

    async def nothing(*args: Any) -> Any:
        return None

    scope = {"type": "http", "method": "GET", "path": "/api/models/", "query_string": b"", "headers": headers}
    asyncio.run(RequestTracing(app)(scope, nothing, nothing))
    assert trace.get_current_span().get_span_context().is_valid is False  # (detached after the request)
    return seen[0]


def test_the_callers_trace_context_is_current_in_the_request() -> None:
    context = _context_seen([(b"traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01".encode())])
    assert (format(context.trace_id, "032x"), format(context.span_id, "016x")) == (TRACE_ID, PARENT_ID)
    assert context.is_remote


def test_a_tracestate_sent_on_several_lines_is_read_whole() -> None:
    """W3C Trace Context lets a caller split `tracestate` over several header lines, to be read as one list: only the
    last line was read, and the vendors' entries of the others were lost to the orchestration's spans."""
    context = _context_seen(
        [
            (b"traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01".encode()),
            (b"tracestate", b"congo=t61rcWkgMzE"),
            (b"tracestate", b"rojo=00f067aa0ba902b7"),
        ]
    )
    assert dict(context.trace_state) == {"congo": "t61rcWkgMzE", "rojo": "00f067aa0ba902b7"}
