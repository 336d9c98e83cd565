"""`create_app`: the FastAPI application of the spec, a thin layer over an `Orchestrator`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request

from ..catalog import ModelCatalog
from ..orchestrator import Orchestrator
from ..stores import Store, store_from_url
from ..stores._opening import open_checked
from ._auth import SECURITY_SCHEMES, Authenticator, AuthMiddleware
from ._auth_limit import FailedAuthLimit
from ._console import install_console
from ._errors import install_error_handlers
from ._hub import EventHub
from ._limits import BodySizeLimit, ConcurrencyLimiter, RateLimiter, StreamLimit
from ._paths import ControlCharacterGuard
from ._quota import StorageQuota
from ._readiness import ReadinessLog
from ._redact import install_token_redaction
from ._refusals import on_refused
from ._request_ids import V1RequestIds
from ._runner import Runner
from ._settings import ServerSettings
from ._stopping import on_forced, on_stopping
from ._transfer import TransferCodingGuard

if TYPE_CHECKING:
    from ._keys import OpenSockets
    from ._metrics import Metrics

__all__ = ["ServerState", "create_app", "state_of"]

_DESCRIPTION = """\
Routes each prompt to the most suitable model, has other models judge the answer and refines it
within a budget. Every route needs an API key (`Authorization: Bearer <key>` or `X-API-Key`),
created with `orchestratex keys create USER_ID`. Events stream on `ws://…/ws/{session_id}?since=N`.
"""


@dataclass(slots=True)
class ServerState:
    """Everything the routes use, kept on `app.state.server`."""

    orchestrator: Orchestrator
    store: Store
    settings: ServerSettings
    auth: Authenticator
    rate: RateLimiter
    quota: StorageQuota
    streams: StreamLimit
    concurrency: ConcurrencyLimiter
    hub: EventHub
    runner: Runner
    sockets: OpenSockets = field(default_factory=lambda: _open_sockets())
    """Open WebSockets by API key id (closed when their key is revoked)."""
    metrics: Metrics | None = None
    """The Prometheus metrics of this app (`/metrics`)."""
    running: bool = False
    """Whether the app's lifespan has started (an app serves one event loop at a time)."""
    readiness: ReadinessLog = field(default_factory=ReadinessLog)
    """What the readiness probes last found of the store (logged once per outage)."""


def _open_sockets() -> OpenSockets:
    from ._keys import OpenSockets

    return OpenSockets()


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


def create_app(
    store: Store | None = None,
    orchestrator: Orchestrator | None = None,
    *,
    store_url: str | None = None,
    settings: ServerSettings | None = None,
) -> FastAPI:
    """The REST + WebSocket API of the spec.

    Args:
        store: where everything persists; opened at start-up, and left open at shutdown (you own it).
        orchestrator: the orchestrator to run prompts with (its store is used); by default one is
            built on `store` with the providers configured in the environment (else the simulator).
        store_url: with neither `store` nor `orchestrator`, the store to open (and close) with the
            app; default `ORCHESTRATEX_STORE_URL`, else the SQLite file in the user's data directory. Given
            with either, it is refused (`ConfigurationError`): it would be left unused.
        settings: limits and timings (default `ServerSettings.from_env()`).
    """
    from ..exceptions import ConfigurationError
    from ..stores import default_store_url

    if store_url is not None and (store is not None or orchestrator is not None):
        # (it was ignored: `create_app(MemoryStore(), store_url="sqlite:///runs.db")` kept nothing past the process)
        given = "a store" if store is not None else "an orchestrator"
        raise ConfigurationError(
            f"give either store_url or {given}, not both: store_url {store_url!r} would be left unused ({given}'s"
            " store is the server's)"
        )
    settings = settings or ServerSettings.from_env()
    owns_store = store is None and orchestrator is None
    owns_orchestrator = orchestrator is None
    if orchestrator is None:
        store = store if store is not None else store_from_url(default_store_url() if store_url is None else store_url)
        orchestrator = Orchestrator(store=store, lease_ttl_s=settings.lease_ttl_s, catalog=_served_catalog())
    elif store is not None and store is not orchestrator.store:
        raise ConfigurationError("give either an orchestrator or a store (the orchestrator's store is used)")
    store = orchestrator.store
    concurrency = ConcurrencyLimiter(store, settings.max_concurrent)
    state = ServerState(
        orchestrator=orchestrator,
        store=store,
        settings=settings,
        auth=Authenticator(
            store, settings.auth_cache_s, FailedAuthLimit(settings.auth_failure_limit, settings.rate_window_s)
        ),
        rate=RateLimiter(store, settings.rate_limit, settings.rate_window_s, settings.user_rate_limit),
        quota=StorageQuota(store, settings.storage_quota_bytes),
        streams=StreamLimit(settings.ws_max_per_user),
        concurrency=concurrency,
        hub=EventHub(store, settings.poll_interval_s),
        runner=Runner(orchestrator, settings.resume_every_s),
    )
    from ..telemetry import add_observer, remove_observer
    from ._flush import flush_telemetry
    from ._metrics import Metrics, MetricsMiddleware
    from ._tracing import RequestTracing

    state.metrics = metrics = Metrics()
    own_handlers: list[Any] = [state.hub.publish]
    """The handlers of the orchestrator's events this app adds while it runs (its WebSocket hub, `/v1`'s tap)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.running:
            raise RuntimeError("this app is already running: create one app per server (create_app)")
        state.running = True
        try:
            await open_checked(store)
            await orchestrator.__aenter__()
        except BaseException:
            state.running = False
            raise
        # (while the app runs only: an orchestrator given to several apps in turn, one per test say, kept every earlier
        # app's metrics as an observer of its runs for good, counting runs those apps never served)
        add_observer(orchestrator, metrics)
        metrics.expect_calls(orchestrator)  # (each model's failed calls at 0)
        # (while the app runs only, likewise: an orchestrator given to one app after another kept every app's event hub
        # and `/v1` tap as handlers of its runs for good, each event handed to all of them)
        orchestrator.handlers.extend(own_handlers)
        state.runner.start_resuming()
        forget = on_stopping(lambda: state.runner.begin_close(settings.shutdown_grace_s))
        forget_forced = on_forced(state.runner.hurry)
        forget_refused = on_refused(metrics.connection_refused)  # (the protocol's 408, 431 and 503: `_refusals`)
        try:
            yield
        finally:
            forget()
            forget_refused()
            try:
                await state.runner.aclose(settings.shutdown_grace_s)  # (a second Ctrl-C may cut its grace short)
            finally:
                forget_forced()
                remove_observer(orchestrator, metrics)
                _drop_handlers(orchestrator, own_handlers)
            try:
                await state.hub.aclose()
                if owns_orchestrator:
                    await orchestrator.aclose()
                if owns_store:
                    await store.close()
                state.running = False
            finally:  # (the stop's own spans too, a failed stop's included: the process may end without exit handlers)
                flush_telemetry()

    app = FastAPI(
        title="OrchestrateX",
        version=_version(),
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.server = state
    install_token_redaction()  # a WebSocket's `?token=<key>` would otherwise reach uvicorn's logs
    install_error_handlers(app)

    app.add_middleware(AuthMiddleware, authenticator=state.auth, rate=state.rate)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(TransferCodingGuard)  # (a `gzip, chunked` body would reach the routes still compressed)
    app.add_middleware(ControlCharacterGuard)
    if settings.docs != "open":
        from ._docs import DocsAccess

        app.add_middleware(DocsAccess, access=settings.docs, authenticator=state.auth)  # (CORS answers first)
    if settings.cors_origins:
        from ._cors import ApiCors

        app.add_middleware(ApiCors, origins=settings.cors_origins)  # before authentication: a preflight has no key
    else:
        from ._cors import CorsOff

        app.add_middleware(CorsOff)  # (a preflight says so, not "missing API key")
    app.add_middleware(RequestTracing)  # (outside the middlewares above: their refusals' spans name their route)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    from ._forms import SpecForms
    from ._ops import HealthShortcut

    app.add_middleware(SpecForms, documented=lambda: app.openapi())  # `/api/sessions` as `/api/sessions/`, HEAD
    app.add_middleware(V1RequestIds)  # (outside the layers that may refuse a /v1 request: their answers carry it too)
    app.add_middleware(HealthShortcut)  # added last: runs first
    from . import _analytics, _keys, _models, _ops, _orchestrations, _sessions, _threads, _ws

    for module in (_sessions, _threads, _orchestrations, _models, _analytics, _keys, _ops):
        app.include_router(module.router)
    app.include_router(_ws.router)
    from ._openai import mount_openai

    handlers = list(orchestrator.handlers)
    mount_openai(app, state)  # /v1: the OpenAI-compatible API
    own_handlers += _drop_handlers(orchestrator, [h for h in orchestrator.handlers if h not in handlers])  # (its tap)
    from ._docs import install_docs

    install_docs(app, app.title)
    install_console(app)
    _ws.install_not_found(app)  # (after the last mount)
    _document_security(app)
    return app


def _served_catalog() -> ModelCatalog | None:
    """The catalog file `ORCHESTRATEX_CATALOG` names (`orchestratex serve --catalog FILE` sets it), watched: a running
    server re-reads it when it changes, as `ModelCatalog.from_file(path, watch=True)` does; an edit that breaks it is
    logged and the last good models stay. It was read once, so an edited file's prices and models showed only after a
    restart. None without the variable (the orchestrator's own default)."""
    from .._catalog_file import env_catalog_path, load_env_catalog_file

    path = env_catalog_path()
    return None if path is None else load_env_catalog_file(path, watch=True).catalog


def _drop_handlers(orchestrator: Orchestrator, handlers: list[Any]) -> list[Any]:
    """Take `handlers` off the orchestrator's event handlers (those still there: they may have been replaced);
    returns them."""
    for handler in handlers:
        with contextlib.suppress(ValueError):
            orchestrator.handlers.remove(handler)
    return handlers


def _document_security(app: FastAPI) -> None:
    """Every `/api/` operation requires a key: say so in the OpenAPI schema (and that answers carry every field of
    their documents: `require_answered_fields`)."""
    from ._openapi import require_answered_fields

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # FastAPI keeps it in app.openapi_schema
            require_answered_fields(schema)
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for path, item in schema["paths"].items():
                if path.startswith("/api/"):
                    for operation in item.values():
                        operation["security"] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _version() -> str:
    from .. import __version__

    return __version__
