"""The server span of a request refused before routing (no key, a rate limit, a body over the size limit) named
after the route it asked for, as a served request's is (`POST /api/orchestration/start`, not `POST`)."""

from __future__ import annotations

from typing import Any

from starlette.types import Message, Scope, Send

from ._metrics import route_template

__all__ = ["name_span", "naming_refusals"]


def naming_refusals(scope: Scope, send: Send) -> Send:
    """`send`, made to name the current server span (FastAPI's own, or an ASGI instrumentation's) after the route
    template, with its `http.route`, when the answer starts and routing has not named it: the refusals of the
    middlewares (401, 429, 413) were spans named `POST` with no route, which a search for a route's failures in the
    tracing backend never found, while `/metrics` counted them under the route. `send` itself when no span records
    the request. Call it only once OpenTelemetry is imported."""
    if not _recording():
        return send
    root_path = scope.get("root_path", "")
    app = scope.get("app")  # (as `MetricsMiddleware` finds the template: the app as the request came in)

    async def send_named(message: Message) -> None:
        if message["type"] == "http.response.start" and scope.get("route") is None:
            _name_span(scope, root_path, app)
        await send(message)

    return send_named


def _recording() -> bool:
    """Whether a span records this request (none does unless the application configured tracing)."""
    from opentelemetry import trace

    return trace.get_current_span().is_recording()


def _name_span(scope: Scope, root_path: str, app: object) -> None:
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}  # (the SDK's spans show theirs; the API's do not)
    if "http.route" in attributes:
        return
    template = route_template(scope, root_path, app)
    if template == "unmatched":
        return
    _named(span, scope, scope.get("app_root_path", root_path).rstrip("/") + template)


def name_span(scope: Scope, template: str) -> None:
    """Name the current server span after `template` (a path of the app, below its root path), with its `http.route`,
    for a request answered before routing: `/health`, which `HealthShortcut` answers first thing."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        _named(span, scope, scope.get("app_root_path", scope.get("root_path", "")).rstrip("/") + template)


def _named(span: Any, scope: Scope, route: str) -> None:
    # (with the app's root path, as FastAPI writes a served request's route: `--root-path /ox` gives `/ox/api/...`)
    name = getattr(span, "name", None)
    method = name.partition(" ")[0] if isinstance(name, str) and name else scope["method"]
    span.set_attribute("http.route", route)
    span.update_name(f"{method} {route}")
