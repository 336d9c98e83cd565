"""Operations: `/health` (liveness), `/health/ready` (readiness: the store answers) and `/metrics`
(Prometheus). The API docs (`/docs`, `/redoc`) are in `_docs`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..exceptions import OrchestrateXError, StoreFull
from ._app import state_of
from ._auth import key_of, no_key_reason
from ._auth_limit import client_address
from ._errors import ApiError, ErrorBody, error_response, public_reason
from ._paths import route_path
from ._span_route import name_span

__all__ = ["HEALTH_BODY", "HEALTH_HEADERS", "HealthShortcut", "from_a_page", "router"]

router = APIRouter(tags=["operations"])

_READY_TIMEOUT_S = 2.0
_OK = b'{"status":"ok"}'
HEALTH_BODY = _OK
"""The body of every `GET /health` answer."""


@router.get("/health", summary="Liveness", responses={200: {"content": {"application/json": {}}}})
async def health() -> Response:
    """200 `{"status": "ok"}` while the process serves requests. No key needed, no store touched."""
    return Response(_OK, media_type="application/json")


@router.get(
    "/health/ready",
    summary="Readiness",
    responses={
        503: {
            "model": ErrorBody,
            "description": "Not ready: starting, stopping, the store is unreachable, or its disk is full",
        }
    },
)
async def ready(request: Request) -> Response:
    """200 `{"status": "ready"}` when the app has started and its store answers within 2 s, else 503 (also while
    the store's disk is full: a write failed so, and there is no room yet). No key needed."""
    state = state_of(request)
    if not state.running:
        return error_response(503, "not ready: the server is starting or stopping", store="unknown")
    try:
        await asyncio.wait_for(state.store.ping(), _READY_TIMEOUT_S)
    except TimeoutError:
        detail = f"not ready: the store did not answer within {_READY_TIMEOUT_S:g} s"
        state.readiness.down("timeout", "%s (%s)", detail, type(state.store).__name__)  # (503s, and a log saying why)
        return error_response(503, detail, store="timeout")
    except StoreFull as exc:  # (its writes fail: every run sent here would fail to be stored, answered 507)
        state.readiness.down("full", "not ready: the store's disk is full: %s", exc.message)
        return error_response(
            503, "not ready: the store's disk is full: its writes fail; free some space", store="full"
        )
    except OrchestrateXError as exc:  # (anyone may ask: the database's location stays in the server's log)
        state.readiness.down("unreachable", "not ready: the store is unreachable: %s", exc.message)
        detail = f"not ready: the store is unreachable: {public_reason(exc.message)}"
        return error_response(503, detail, store="unreachable")
    except Exception as exc:  # (a store of one's own whose driver's error got through: a probe is not a crash)
        state.readiness.down(
            "failed", "not ready: the store's ping raised %s (%s)", type(exc).__name__, exc, exc_info=exc
        )
        detail = f"not ready: the store failed to answer ({type(exc).__name__}): the server's log says why"
        return error_response(503, detail, store="unreachable")
    state.readiness.up()
    return JSONResponse({"status": "ready", "store": "ok"})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
)
async def metrics(request: Request) -> Response:
    """This process's metrics in Prometheus text format. Access follows the `metrics` setting:
    `admin` (default: an admin key), `key` (any key), `open` (no key), `off` (404)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    state = state_of(request)
    access = state.settings.metrics
    if access == "off":
        raise ApiError(404, "metrics are switched off (ORCHESTRATEX_METRICS=off)")
    if access != "open":
        principal = await state.auth.standing_principal(
            key_of(request), client_address(request.scope), missing=no_key_reason(request)
        )
        await state.rate.hit_user(principal.user_id)  # the per-user limit, as on every route
        if access == "admin" and not principal.admin:
            raise ApiError(403, "metrics need an admin key (or ORCHESTRATEX_METRICS=key or open)")
    assert state.metrics is not None
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def from_a_page(scope: Mapping[str, Any]) -> bool:
    """Whether the request carries an `Origin` header: a browser's, from a page (a status page of an origin that
    `ORCHESTRATEX_CORS_ORIGINS` allows). Such a `/health` goes through the app, whose CORS middleware answers it with
    `Access-Control-Allow-Origin`: answered before it, the browser refused the page the answer. Probes send none."""
    return any(name == b"origin" for name, _ in scope["headers"])


class HealthShortcut:
    """Answer `GET /health` before any other middleware (metrics, CORS, authentication, routing): the
    liveness probe stays cheap however loaded the server is. (`orchestratex serve` answers it even earlier,
    in its HTTP protocol, with the same `HEALTH_HEADERS` and `HEALTH_BODY`: see `_guarded`.) A request from a
    browser's page goes on to the app (`from_a_page`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and route_path(scope) == "/health"
            and scope["method"] in ("GET", "HEAD")
            and not from_a_page(scope)
        ):
            if "opentelemetry.trace" in sys.modules:  # (FastAPI traces requests itself: its span names no route yet)
                name_span(scope, "/health")
            await send({"type": "http.response.start", "status": 200, "headers": HEALTH_HEADERS})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else _OK})
            return
        await self.app(scope, receive, send)


HEALTH_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_OK)).encode())]
"""The headers of every `/health` answer (uvicorn adds `date` and `server`)."""
