"""`/metrics`: Prometheus counters and histograms of this server process (official `prometheus-client`).

Every metric is per process, in the app's own registry: with several server processes, scrape each
(and sum in PromQL). Names and labels are documented in docs/operate.md. The registry leaves out the
`_created` series prometheus-client adds to every counter and histogram child (a timestamp per label set,
as many series again, which Prometheus does not use from the text format), without switching them off for
the process's other registries (`disable_created_metrics()` would, for every registry of the application).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..exceptions import OrchestrateXError
from ..telemetry import CallOutcome
from ._errors import Limit, forget_limit, refused_by
from ._forms import ASKED_METHOD
from ._paths import CONTROL
from ._refusals import ConnectionLimit

if TYPE_CHECKING:
    from ..orchestrator import Orchestrator
    from ..records import Orchestration

__all__ = ["Metrics", "MetricsMiddleware", "route_template"]

_M = TypeVar("_M", Counter, Histogram)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
"""The methods of HTTP (RFC 9110, and PATCH) counted by name; any other is `_OTHER`, as OpenTelemetry's
`http.request.method` has it: a method is any token a client makes up (h11, Hypercorn accept them all), and a
label per made-up method would let anyone, without a key, add series to `/metrics` without end."""

_MAX_CHILDREN = 10_000
"""Labelled children remembered per metric (past it the memo starts again; the metric keeps them all)."""


class _Children(Generic[_M]):
    """`metric.labels(*values)` remembered by `values`: `labels` validates and locks on every call, a few µs
    each, several times per request and per model call."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: _M) -> None:
        self._metric: _M = metric
        self._children: dict[tuple[str, ...], _M] = {}

    def __call__(self, *values: str) -> _M:
        child = self._children.get(values)
        if child is None:
            if len(self._children) >= _MAX_CHILDREN:
                self._children.clear()
            child = self._children[values] = self._metric.labels(*values)
        return child


class _Registry(CollectorRegistry):
    """A registry whose collection has no `<name>_created` samples (of counters, histograms, summaries)."""

    def collect(self) -> Iterator[Metric]:
        for metric in super().collect():
            created = f"{metric.name}_created"
            if any(sample.name == created for sample in metric.samples):
                kept = Metric(metric.name, metric.documentation, metric.type, metric.unit)
                kept.samples = [sample for sample in metric.samples if sample.name != created]
                metric = kept
            yield metric


_ENDINGS = {
    "completed": ("threshold", "max_iterations", "budget", "no_improvement", "error"),
    "failed": ("max_iterations", "budget", "no_improvement", "error"),
    "cancelled": ("cancelled",),
}
"""The (status, stop reason) pairs a run ends with: `orchestratex_orchestrations_total` has each series at 0 from the
start. (`completed` with `error`: an answer was had before the run failed; `failed` has none, so no `threshold`.)"""

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""HTTP requests: most take milliseconds, but a `/v1/chat/completions` call lasts as long as its orchestration (a
minute and more with real models): with 10 s as the last bound, every such call fell in `+Inf` and
`histogram_quantile` gave 10 s for its p50 and p99 alike."""
_SLOW = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


_SLOW_STREAM = "slow_stream"
"""The `limit` of `orchestratex_limits_hit_total` counting WebSocket streams closed with 4008 (too slow)."""

_MAX_EXPECTED = 100
"""The most `outcome="error"` series of model calls made at 0 from the start (`Metrics.expect_calls`)."""


class Metrics:
    """The server's metrics; also the `RunObserver` of its orchestrator."""

    def __init__(self) -> None:
        r = self.registry = _Registry()
        self.orchestrations = Counter(
            "orchestratex_orchestrations",
            "Orchestrations ended by this process, by final status and stop reason.",
            ["status", "stop_reason"],
            registry=r,
        )
        self.running = Gauge(
            "orchestratex_orchestrations_running", "Orchestrations this process is driving now.", registry=r
        )
        self.orchestration_seconds = Histogram(
            "orchestratex_orchestration_duration_seconds",
            "Wall time of each orchestration this process drove to its end.",
            ["status"],
            buckets=_SLOW,
            registry=r,
        )
        self.calls = Counter(
            "orchestratex_model_calls",
            "Model calls (retries included), by model, provider, role (generate, judge) and outcome (ok, error,"
            " cancelled; error also for an empty answer, or a judge's verdict that cannot be read).",
            ["model", "provider", "role", "outcome"],
            registry=r,
        )
        self.call_seconds = Histogram(
            "orchestratex_model_call_duration_seconds",
            "Latency of model calls, retries included.",
            ["model", "role"],
            buckets=_SLOW,
            registry=r,
        )
        self.cost = Counter("orchestratex_cost_usd", "US dollars spent on model calls.", ["model", "role"], registry=r)
        self.tokens = Counter(
            "orchestratex_tokens", "Tokens of model calls, by type (input, output).", ["model", "type"], registry=r
        )
        self.requests = Counter(
            "orchestratex_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "orchestratex_http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route template.",
            ["method", "route"],
            buckets=_FAST,
            registry=r,
        )
        self.limits = Counter(
            "orchestratex_limits_hit",
            "Requests refused by a limit: rate (429 per session), user_rate (429 per user), concurrency (429:"
            " orchestrations per user), body_size (413), storage_quota (413), streams (429: WebSocket streams per"
            " user), auth_failures (429: failed key checks per client address); connections refused by the server's"
            " HTTP protocol: header_timeout (408), body_timeout (408), header_size (431), connections (503: open"
            " connections), client_connections (503: open connections per client address), invalid_request (400: a"
            " request or WebSocket handshake it cannot read); WebSocket streams closed with 4008: slow_stream (its"
            " client fell ws_queue_size events behind, or took nothing for ws_send_timeout_s).",
            ["limit"],
            registry=r,
        )
        # Each limit's series is there, at 0, from the start: a series that first appears at 1 has no earlier sample,
        # so `increase()` and `rate()` read the first refusal by a limit as no change, and an alert on them missed it.
        for limit in (*get_args(Limit), *get_args(ConnectionLimit), _SLOW_STREAM):
            self.limits.labels(limit)
        # (so do the ways a run ends: an alert on `increase()` of `orchestratex_orchestrations_total{status="failed"}`
        # missed the first failed run after every start of the process, the series it made having no earlier sample)
        for status, reasons in _ENDINGS.items():
            for reason in reasons:
                self.orchestrations.labels(status, reason)
        self.request_count = _Children(self.requests)
        self.request_time = _Children(self.request_seconds)
        self._calls = _Children(self.calls)
        self._call_seconds = _Children(self.call_seconds)
        self._cost = _Children(self.cost)
        self._tokens = _Children(self.tokens)

    def expect_calls(self, orchestrator: Orchestrator) -> None:
        """The `outcome="error"` series of `orchestratex_model_calls_total` of the models that may generate and judge,
        at 0 from the start: a series that first appears at 1 has no earlier sample, so `increase()` and `rate()` read
        the first failed call of a model after each start of the process as no change, and an alert on them missed it.
        Not for a catalog so large that these series would pass `_MAX_EXPECTED` (the shipped one makes 44): those
        models' series appear as they are called."""
        try:
            expected = {(m.name, m.provider, "generate") for m in orchestrator.usable_models()}
            expected |= {(m.name, m.provider, "judge") for m in orchestrator.judge_models()}
        except OrchestrateXError:  # (its judges naming a model its catalog no longer has: each run says so)
            return
        if len(expected) > _MAX_EXPECTED:
            return
        for model, provider, role in sorted(expected):
            self._calls(model, provider, role, "error")

    # -- RunObserver -------------------------------------------------------------------------------
    def orchestration_started(self, doc: Orchestration) -> None:
        self.running.inc()

    def orchestration_ended(self, doc: Orchestration, duration_s: float) -> None:
        self.running.dec()
        if doc.status in ("completed", "failed", "cancelled"):
            self.orchestrations.labels(doc.status, doc.stop_reason or "none").inc()
            self.orchestration_seconds.labels(doc.status).observe(duration_s)

    def connection_refused(self, limit: ConnectionLimit) -> None:
        """A connection (or its request) refused by the HTTP protocol of `orchestratex serve` (`_refusals`)."""
        self.limits.labels(limit).inc()

    def slow_stream(self) -> None:
        """A WebSocket stream closed with 4008: its client was too slow (`_ws`)."""
        self.limits.labels(_SLOW_STREAM).inc()

    def model_called(self, call: CallOutcome) -> None:
        self._calls(call.model, call.provider, call.role, call.outcome).inc()
        self._call_seconds(call.model, call.role).observe(call.duration_s)
        if call.cost:
            self._cost(call.model, call.role).inc(call.cost)
        if call.input_tokens:
            self._tokens(call.model, "input").inc(call.input_tokens)
        if call.output_tokens:
            self._tokens(call.model, "output").inc(call.output_tokens)


class MetricsMiddleware:
    """Counts and times every HTTP request by route template (never by raw path: ids would explode the
    label set), and the requests refused by a limit, as the refusing code names it (`_errors.note_limit`).

    A request refused before routing (no key, the per-user rate, a body over the size limit) has no route
    yet: its template is found by matching the app's routes here, as the router would have."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        app = scope.get("app")  # (a mounted app puts itself there while it answers)
        answer = {"status": 500}
        forget_limit()  # (this task may have answered a request before: uvicorn's pipelined ones)

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            template = route_template(scope, root_path, app)
            method = scope.get(ASKED_METHOD, scope["method"])  # (`HEAD`, answered as `GET` by `SpecForms`)
            if method not in _METHODS:
                method = "_OTHER"
            status = answer["status"]
            m = self.metrics
            m.request_count(method, template, str(status)).inc()
            m.request_time(method, template).observe(time.perf_counter() - started)
            limit = refused_by()
            if limit is not None and status in (413, 429):
                m.limits.labels(limit).inc()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake refused by a limit (the rates, the streams per user) is counted as one: refused
        with a denial response (429), or accepted and closed with `4000 + status` where the server has none."""
        refused = {"status": 0}
        forget_limit()

        async def send_and_note(message: Message) -> None:
            if message["type"] == "websocket.http.response.start":
                refused["status"] = message["status"]
            elif message["type"] == "websocket.close" and not refused["status"]:
                refused["status"] = message.get("code", 1000) - 4000
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            limit = refused_by()
            if limit is not None and refused["status"] in (413, 429):
                self.metrics.limits.labels(limit).inc()


def route_template(scope: Scope, root_path: str = "", app: object = None) -> str:
    """The path template of the route answering the request (`unmatched` when none can): the one routing chose,
    else the one that matches the request's path (a route with another method counts, as for the router's 405).
    A route of a mounted app (`/v1`'s) counts with its mount's path; `root_path` is the app's own, not counted, and
    `app` the app whose routes are matched (the scope's, as the request came in, when not given)."""
    route = scope.get("route")
    if route is not None:
        mounted = scope.get("root_path", "")  # (routing through a Mount added its path)
        prefix = mounted[len(root_path) :] if mounted.startswith(root_path) else ""
        return prefix + _template(route) if getattr(route, "path", None) else "unmatched"
    if CONTROL.search(scope["path"]):  # (`_paths`: such a path names nothing)
        return "unmatched"
    # (routing through a Mount, as to the static files under `/console`, has added its path to the scope's root path)
    routes = _routes(app if app is not None else scope.get("app"))
    return _matching(routes, {**scope, "root_path": root_path}) or "unmatched"


def _routes(app: object) -> Iterator[BaseRoute]:
    """The routes of `app` in the order the router tries them, those of included routers in their place (FastAPI
    keeps an included router whole, as `original_router`, in recent versions, and copies its routes in older ones)."""
    stack = [iter(getattr(getattr(app, "router", None), "routes", ()))]
    while stack:
        for route in stack[-1]:
            included = getattr(route, "original_router", None)
            if included is not None:
                stack.append(iter(included.routes))
                break
            yield route
        else:
            stack.pop()


def _matching(routes: Iterable[BaseRoute], scope: Scope) -> str | None:
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            if isinstance(route, Mount):  # (as after routing: the mounted app's own route, below the mount's path)
                if not route.routes:  # an app with no routes of its own (static files): everything below the mount
                    return f"{route.path}/{{path}}"
                inner = _matching(route.routes, {**scope, **child})
                return None if inner is None else route.path + inner
            return _template(route) if getattr(route, "path", None) else None
        if match is Match.PARTIAL and partial is None:
            partial = _template(route) if getattr(route, "path", None) else None
    return partial


def _template(route: BaseRoute) -> str:
    """The route's path as its documentation and its span's `http.route` write it: `/v1/models/{model}`, without the
    convertor of its pattern (`{model:path}`), which is how a request's parameter is read, not which route it is."""
    path: str = getattr(route, "path_format", None) or route.path  # type: ignore[attr-defined]
    return path
