"""`POST /v1/chat/completions/` (the endpoint written with a trailing slash) counted and traced as the route it is."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from ..telemetry_fixtures import spans
from .conftest import Api

__all__ = ["spans"]  # (a fixture of tests/telemetry_fixtures.py)


def test_a_v1_call_with_a_trailing_slash_counts_under_the_endpoints_route(
    make_api: Callable[..., Api], spans: InMemorySpanExporter
) -> None:
    """The endpoint answers with a trailing slash too, but `orchestratex_http_requests_total` (and the request's span,
    its `http.route`) had it as a route of its own, `/v1/chat/completions/`: a dashboard or an alert on
    `route="/v1/chat/completions"` missed every call of a client that writes the URL so, while `/api/sessions` and
    `/metrics/` count under their documented route whichever way they are written."""
    api = make_api()
    body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "hi"}]}
    assert api.client.post("/v1/chat/completions/", json=body, headers=api.alice).status_code == 200
    assert api.client.post("/v1/chat/completions", json=body, headers=api.alice).status_code == 200
    assert api.client.post("/v1/chat/completions/", json={}, headers=api.alice).status_code == 400
    assert api.client.get("/v1/chat/completions/", headers=api.alice).status_code == 405
    text = api.client.get("/metrics", headers=api.admin).text
    counted = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "orchestratex_http_requests_total" and s.labels["route"].startswith("/v1")
    }
    assert counted == {
        ("POST", "/v1/chat/completions", "200"): 2,
        ("POST", "/v1/chat/completions", "400"): 1,
        ("GET", "/v1/chat/completions", "405"): 1,
    }
    if importlib.util.find_spec("fastapi.telemetry") is not None:  # (FastAPI traces requests itself from 0.165)
        servers = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
        routes = {(s.attributes or {}).get("http.route") for s in servers if s.name.startswith("POST /v1")}
        assert routes == {"/v1/chat/completions"}, [s.name for s in servers]


def test_the_model_list_with_a_trailing_slash_counts_under_its_route(make_api: Callable[..., Api]) -> None:
    """`GET /v1/models/` answers the list of models, but was counted (and traced) as `/v1/models/{model}`, the route
    of one model, and missing from `route="/v1/models"`."""
    api = make_api()
    listed = api.client.get("/v1/models/", headers=api.alice)
    assert listed.status_code == 200 and listed.json()["object"] == "list"
    assert api.client.get("/v1/models", headers=api.alice).status_code == 200
    assert api.client.get("/v1/models/orchestratex/auto", headers=api.alice).status_code == 200
    text = api.client.get("/metrics", headers=api.admin).text
    counted = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "orchestratex_http_requests_total" and s.labels["route"].startswith("/v1")
    }
    assert counted == {("GET", "/v1/models", "200"): 2, ("GET", "/v1/models/{model}", "200"): 1}
