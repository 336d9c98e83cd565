"""Operations endpoints: health and readiness, Prometheus metrics, offline API docs, CORS, trace context."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import WebSocketDenialResponse

from orchestratex.exceptions import StoreError, StoreUnavailable
from orchestratex.server import issue_api_key
from orchestratex.stores import MemoryStore

from ..orchestrator.faults import EndLost
from .conftest import Api, bearer, in_app_loop
from .server_process import ServerProcess, create_key


def _wait_in_store(api: Api, oid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        doc = in_app_loop(api.client).call(api.store.get_orchestration, oid)
        if doc.status in ("completed", "failed", "cancelled"):
            return doc.model_dump(mode="json", by_alias=True)
        time.sleep(0.02)
    raise AssertionError(f"orchestration {oid} did not end")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_health_needs_no_key_and_touches_no_store(api: Api) -> None:
    r = api.client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = api.client.get("/health/ready")
    assert r.status_code == 200 and r.json() == {"status": "ready", "store": "ok"}


class _DownStore(MemoryStore):
    down = False

    async def ping(self) -> None:
        if self.down:
            raise StoreUnavailable("connection refused")


def test_readiness_answers_503_while_the_store_is_unreachable(make_api: Callable[..., Api]) -> None:
    store = _DownStore()
    api = make_api(store)
    store.down = True
    r = api.client.get("/health/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["status_code"] == 503 and body["store"] == "unreachable" and "connection refused" in body["detail"]
    assert api.client.get("/health").status_code == 200  # alive all the same
    assert api.client.head("/health/ready").status_code == 503
    store.down = False
    assert api.client.get("/health/ready").status_code == 200


def test_readiness_logs_an_outage_once_and_the_recovery_once(
    make_api: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    """A probe every few seconds wrote the same WARNING each time for as long as the store was down."""
    store = _DownStore()
    api = make_api(store)
    caplog.set_level(logging.INFO, logger="orchestratex.server")

    def lines() -> list[tuple[int, str]]:
        return [
            (rec.levelno, rec.getMessage())
            for rec in caplog.records
            if rec.name == "orchestratex.server" and "ready" in rec.getMessage()
        ]

    assert api.client.get("/health/ready").status_code == 200
    store.down = True
    for _ in range(5):
        assert api.client.get("/health/ready").status_code == 503
    assert lines() == [(logging.WARNING, "not ready: the store is unreachable: connection refused")]
    store.down = False
    for _ in range(3):
        assert api.client.get("/health/ready").status_code == 200
    assert lines()[1:] == [(logging.INFO, "ready again: the store answers")]
    store.down = True  # (a second outage is logged again)
    assert api.client.get("/health/ready").status_code == 503
    assert len(lines()) == 3 and lines()[2][0] == logging.WARNING


class _OutageStore(MemoryStore):
    """A store that cannot be reached while `down`: its reads of keys and its counters fail as a database's would."""

    down = False

    async def get_api_key(self, key_hash: str) -> Any:
        if self.down:
            raise StoreUnavailable("connection refused")
        return await super().get_api_key(key_hash)

    async def incr(self, *args: Any, **kwargs: Any) -> int:
        if self.down:
            raise StoreUnavailable("connection refused")
        return await super().incr(*args, **kwargs)

    async def ping(self) -> None:
        if self.down:
            raise StoreUnavailable("connection refused")


def test_metrics_are_scraped_while_the_store_is_down(make_api: Callable[..., Api]) -> None:
    """With a key to read `/metrics` (the default, `admin`), every scrape while the store was unreachable was refused
    503: Prometheus saw the server as down (`up` 0) and none of the outage's errors until the store came back. A key
    that read them before keeps reading them through an outage; one never seen, or revoked here, does not."""
    store = _OutageStore()
    api = make_api(store)
    unseen = bearer(in_app_loop(api.client).call(lambda: issue_api_key(store, "ops", admin=True)))
    assert api.client.get("/metrics", headers=api.admin).status_code == 200
    store.down = True
    assert api.client.get("/api/sessions/user/alice", headers=api.alice).status_code == 503
    for _ in range(3):
        r = api.client.get("/metrics", headers=api.admin)
        assert r.status_code == 200, r.text
    samples = _samples(r.text)
    assert samples[("orchestratex_http_requests_total", (("method", "GET"), ("route", "/metrics"), ("status", "200")))]
    assert api.client.get("/metrics", headers=api.alice).status_code == 503  # (never verified for it here)
    assert api.client.get("/metrics", headers=unseen).status_code == 503
    store.down = False
    assert api.client.get("/metrics", headers=api.alice).status_code == 403  # (the store says: not an admin)


def test_a_key_in_the_path_of_a_request_failing_on_the_store_is_not_logged(
    make_api: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    """A request answered 503 because the store was unreachable (or failing otherwise) is logged with its path by the
    server's own logger (`GET /api/sessions/user/ox_… answered 503: …`): a key pasted into the path — the user id
    taken for the key, say — was written there in clear during an outage, while the access log masks it."""
    store = _OutageStore()
    api = make_api(store)
    key = api.keys["alice"]
    caplog.set_level(logging.WARNING, logger="orchestratex.server")
    store.down = True
    assert api.client.get(f"/api/sessions/user/{key}", headers=api.alice).status_code == 503
    assert api.client.get(f"/v1/models/{key}", headers=api.alice).status_code == 503
    lines = [r.getMessage() for r in caplog.records if r.name == "orchestratex.server"]
    assert lines and all(key not in line and key[3:20] not in line for line in lines), lines
    assert any("/api/sessions/user/ox_*** answered 503" in line for line in lines), lines


def test_a_key_revoked_here_reads_no_metrics_while_the_store_is_down(make_api: Callable[..., Api]) -> None:
    store = _OutageStore()
    api = make_api(store)
    ops = in_app_loop(api.client).call(lambda: issue_api_key(store, "ops", admin=True))
    assert api.client.get("/metrics", headers=bearer(ops)).status_code == 200
    (record,) = [k for k in api.client.get("/api/admin/keys/?user_id=ops", headers=api.admin).json()]
    assert api.client.delete(f"/api/admin/keys/{record['_id']}", headers=api.admin).status_code in (200, 204)
    store.down = True
    assert api.client.get("/metrics", headers=bearer(ops)).status_code == 503


def test_a_run_whose_end_the_store_missed_is_counted_once_when_it_ends(make_api: Callable[..., Api]) -> None:
    """The store unreachable for a run's final commit: the run stays `running` in the store and is resumed, then ends.
    `orchestratex_orchestrations_total` counted it twice, once `failed` with `stop_reason="error"` — a failure that
    never happened, which an alert on failed runs fired on — and once as it really ended."""
    store = EndLost()
    store.failures = 12  # (the 6 tries of its last commit, then the 6 of its `error` ending: all refused)
    api = make_api(store, lease_ttl_s=1.0, resume_interval_s=0.1)
    sid = api.session()["_id"]
    run = api.start(api.thread(sid)["_id"], settings={"max_iterations": 1})
    assert api.wait(run["_id"])["status"] == "completed"
    samples = _samples(api.client.get("/metrics", headers=api.admin).text)
    ended = {labels: v for (name, labels), v in samples.items() if name == "orchestratex_orchestrations_total"}
    assert [(dict(labels)["status"], v) for labels, v in ended.items() if v] == [("completed", 1.0)]  # (as it ended)
    assert samples[("orchestratex_orchestrations_running", ())] == 0


class _BrokenStore(MemoryStore):
    """A store of one's own whose driver's error gets through its `ping` (it should raise `StoreUnavailable`)."""

    async def ping(self) -> None:
        raise ConnectionRefusedError(111, "Connection refused")


def test_readiness_answers_503_when_a_stores_ping_raises_its_drivers_error(
    make_api: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    """It answered 500 `internal server error`, with an ERROR and its traceback in the log at every probe."""
    api = make_api(_BrokenStore())
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        r = api.client.get("/health/ready")
        assert r.status_code == 503, r.text
        assert r.json()["store"] == "unreachable"
        assert r.json()["detail"] == (
            "not ready: the store failed to answer (ConnectionRefusedError): the server's log says why"
        )
    assert api.client.head("/health/ready").status_code == 503
    (line,) = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert line.name == "orchestratex.server" and line.levelno == logging.WARNING
    assert (
        line.getMessage()
        == "not ready: the store's ping raised ConnectionRefusedError ([Errno 111] Connection refused)"
    )
    assert line.exc_info is not None


class _SlowStore(MemoryStore):
    slow = False

    async def ping(self) -> None:
        if self.slow:
            await asyncio.sleep(30)


def test_readiness_timing_out_says_so_in_the_log(
    make_api: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    """A store that did not answer the readiness check within 2 s made `/health/ready` answer 503 `timeout` with
    nothing in the server's log: an operator saw the pods taken out of service and no line saying why."""
    store = _SlowStore()
    api = make_api(store)
    store.slow = True
    caplog.set_level(logging.WARNING, logger="orchestratex.server")
    r = api.client.get("/health/ready")
    assert r.status_code == 503 and r.json()["store"] == "timeout"
    (line,) = [rec for rec in caplog.records if rec.name == "orchestratex.server" and "not ready" in rec.getMessage()]
    assert line.levelno == logging.WARNING
    assert line.getMessage() == "not ready: the store did not answer within 2 s (_SlowStore)"


def test_health_readiness_and_metrics_asked_with_a_trailing_slash_answer_as_without(
    make_api: Callable[..., Api],
) -> None:
    """`/health/ready/` answered an empty 307, which `curl -f` (a Docker `HEALTHCHECK`) takes for a success: the
    check passed while the store was unreachable."""
    store = _DownStore()
    api = make_api(store)
    store.down = True
    for method in ("GET", "HEAD"):
        r = api.client.request(method, "/health/ready/", follow_redirects=False)
        assert r.status_code == 503, (method, r.status_code)
    assert api.client.get("/health/ready/").json()["store"] == "unreachable"
    store.down = False
    r = api.client.get("/health/ready/", follow_redirects=False)
    assert r.status_code == 200 and r.json() == {"status": "ready", "store": "ok"}
    r = api.client.get("/health/", follow_redirects=False)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = api.client.get("/metrics/", headers=api.admin, follow_redirects=False)
    assert r.status_code == 200 and "orchestratex_http_requests_total" in r.text
    assert api.client.get("/metrics/", headers=api.alice, follow_redirects=False).status_code == 403


def test_a_405_allows_head_where_head_is_answered(api: Api) -> None:
    """`POST /health` answered 405 with `Allow: GET`, though `HEAD` is answered there (and on every `GET` route)."""
    for method, path in (("POST", "/health"), ("PUT", "/health/ready"), ("DELETE", "/metrics")):
        r = api.client.request(method, path, headers=api.admin)
        assert (r.status_code, r.headers["allow"]) == (405, "GET, HEAD"), (method, path)
        assert api.client.head(path, headers=api.admin).status_code == 200
    assert api.client.get("/api/sessions/", headers=api.alice).headers["allow"] == "POST"  # (no GET: no HEAD)


def test_an_orchestrator_served_by_one_app_after_another_keeps_no_stopped_apps_event_hub() -> None:
    """Each app added its event hub to its orchestrator's handlers when it was made, and never took it off: given to
    one app after another (one per test, say), the orchestrator kept them all, handing every event of its runs to
    each, and `orchestrator.handlers` showed hubs of apps long gone."""
    from fastapi.testclient import TestClient

    from orchestratex import Orchestrator
    from orchestratex.server import create_app

    orchestrator = Orchestrator(store=MemoryStore())
    before = list(orchestrator.handlers)
    for _ in range(3):
        app = create_app(orchestrator=orchestrator)
        with TestClient(app):
            assert app.state.server.hub.publish in orchestrator.handlers  # (its WebSocket streams' events)
        assert orchestrator.handlers == before


def test_an_app_that_stopped_counts_no_run_of_the_next_app_on_its_orchestrator(monkeypatch: pytest.MonkeyPatch) -> None:
    """An orchestrator given to one app after another (one per test, say) kept every stopped app's metrics as an
    observer of its runs for good: they piled up, each counting the runs of the apps that came after it."""
    from fastapi.testclient import TestClient
    from prometheus_client import generate_latest

    from orchestratex import Orchestrator
    from orchestratex.server import create_app, issue_api_key

    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    store = MemoryStore()
    orchestrator = Orchestrator(store=store)
    first = create_app(orchestrator=orchestrator)
    with TestClient(first):
        pass
    second = create_app(orchestrator=orchestrator)
    with TestClient(second) as client:
        key = in_app_loop(client).call(lambda: issue_api_key(store, "root", admin=True))
        admin = {"Authorization": f"Bearer {key}"}
        sid = client.post("/api/sessions/", json={"user_id": "alice"}, headers=admin).json()["_id"]
        body = {"session_id": sid, "original_prompt": "Write a haiku"}
        tid = client.post("/api/threads/", json=body, headers=admin).json()["_id"]
        oid = client.post("/api/orchestration/start", json={"thread_id": tid}, headers=admin).json()["_id"]
        while client.get(f"/api/orchestration/status/{oid}", headers=admin).json()["status"] in ("pending", "running"):
            time.sleep(0.02)
        served = _samples(client.get("/metrics", headers=admin).text)
    ended = [v for (name, _), v in served.items() if name == "orchestratex_orchestrations_total" and v]
    assert ended == [1]
    stopped = _samples(generate_latest(first.state.server.metrics.registry).decode())
    assert not [v for (name, _), v in stopped.items() if name == "orchestratex_orchestrations_total" and v]
    assert not [v for (name, _), v in stopped.items() if name == "orchestratex_model_calls_total" and v]


def test_health_and_readiness_answer_head_as_get(api: Api) -> None:
    for path in ("/health", "/health/ready"):
        r = api.client.head(path)
        assert r.status_code == 200 and r.content == b"", path


def test_metrics_count_orchestrations_calls_cost_latency_and_limits(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit=3, max_body_bytes=2000)
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    oid = api.start(tid, settings={"max_iterations": 2, "evaluation_threshold": 10})["_id"]
    done = _wait_in_store(api, oid)  # polling the API would spend the session's 3 requests
    assert api.client.get(f"/api/sessions/{sid}", headers=api.alice).status_code == 200  # thread, start, this: 3
    assert api.client.get(f"/api/orchestration/status/{oid}", headers=api.alice).status_code == 429
    assert api.client.post("/api/sessions/", content=b"x" * 3000, headers=api.alice).status_code == 413

    r = api.client.get("/metrics", headers=api.admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = _samples(r.text)
    status, reason = done["status"], done["stop_reason"]
    assert samples[("orchestratex_orchestrations_total", (("status", status), ("stop_reason", reason)))] == 1
    assert samples[("orchestratex_orchestrations_running", ())] == 0
    assert samples[("orchestratex_orchestration_duration_seconds_count", (("status", status),))] == 1
    calls = {k: v for k, v in samples.items() if k[0] == "orchestratex_model_calls_total"}
    generated = sum(v for (_, labels), v in calls.items() if ("role", "generate") in labels)
    judged = sum(v for (_, labels), v in calls.items() if ("role", "judge") in labels)
    assert generated == len(done["iterations"]) and judged >= len(done["iterations"])
    assert all(dict(labels)["outcome"] == "ok" for (_, labels), v in calls.items() if v)
    cost = sum(v for (name, _), v in samples.items() if name == "orchestratex_cost_usd_total")
    assert cost == pytest.approx(done["total_cost"])
    latency = sum(v for (name, _), v in samples.items() if name == "orchestratex_model_call_duration_seconds_count")
    assert latency == generated + judged
    assert samples[("orchestratex_limits_hit_total", (("limit", "rate"),))] == 1
    assert samples[("orchestratex_limits_hit_total", (("limit", "body_size"),))] == 1
    route = (("method", "GET"), ("route", "/api/sessions/{session_id}"), ("status", "200"))
    assert samples[("orchestratex_http_requests_total", route)] == 1  # by route template, never by raw path
    assert not any(sid in str(labels) for _, labels in samples)


def test_metrics_count_the_v1_routes_under_their_path(make_api: Callable[..., Api]) -> None:
    """The `/v1` routes were counted as `/models`, `/models/{model:path}` and `/chat/completions`; then as
    `/v1/models/{model:path}`, the route's pattern, where its span and the docs have `/v1/models/{model}` (and the
    spec `/api/models/{model_name}`, counted as `/api/models/{model_name:path}`)."""
    api = make_api()
    model = api.client.get("/api/models/", headers=api.alice).json()[0]["name"]
    assert api.client.get(f"/api/models/{model}", headers=api.alice).status_code == 200
    assert api.client.get("/v1/models", headers=api.alice).status_code == 200
    assert api.client.get("/v1/models/orchestratex/auto", headers=api.alice).status_code == 200
    assert api.client.get("/v1/models").status_code == 401
    assert api.client.head("/v1/models", headers=api.alice).status_code == 200  # (answered as GET: `_forms`)
    body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "hi"}]}
    assert api.client.post("/v1/chat/completions", json=body, headers=api.alice).status_code == 200
    assert api.client.get("/v1/nowhere", headers=api.alice).status_code == 404
    samples = _samples(api.client.get("/metrics", headers=api.admin).text)
    counted = {
        (dict(labels)["method"], dict(labels)["route"], dict(labels)["status"]): v
        for (name, labels), v in samples.items()
        if name == "orchestratex_http_requests_total"
    }
    assert counted == {
        ("GET", "/v1/models", "200"): 1,
        ("HEAD", "/v1/models", "200"): 1,
        ("GET", "/v1/models/{model}", "200"): 1,  # (as its span's `http.route`: not `{model:path}`)
        ("GET", "/v1/models", "401"): 1,
        ("POST", "/v1/chat/completions", "200"): 1,
        ("GET", "unmatched", "404"): 1,
        ("GET", "/api/models/", "200"): 1,
        ("GET", "/api/models/{model_name}", "200"): 1,  # (as the spec writes it: not `{model_name:path}`)
    }


def test_metrics_count_the_console_and_docs_files_under_their_mount(make_api: Callable[..., Api]) -> None:
    """The console's and the API docs' files, served 200, were counted as `route="unmatched"`, which the docs
    keep for paths no route serves: the routing through their mount had changed the scope the template was
    looked up with."""
    api = make_api()
    assert api.client.get("/console/console.css").status_code == 200
    assert api.client.get("/console/js/main.js").status_code == 200
    assert api.client.get("/console/nothing.js").status_code == 404
    assert api.client.get("/_docs/swagger-ui.css").status_code == 200
    assert api.client.get("/nowhere").status_code == 404
    samples = _samples(api.client.get("/metrics", headers=api.admin).text)
    counted = {
        (dict(labels)["route"], dict(labels)["status"]): v
        for (name, labels), v in samples.items()
        if name == "orchestratex_http_requests_total"
    }
    assert counted == {
        ("/console/{path}", "200"): 2,
        ("/console/{path}", "404"): 1,
        ("/_docs/{path}", "200"): 1,
        ("unmatched", "404"): 1,
    }


def test_the_request_histogram_resolves_a_call_as_long_as_its_orchestration(make_api: Callable[..., Api]) -> None:
    """`orchestratex_http_request_duration_seconds` ended at 10 s, while a `/v1/chat/completions` call lasts as long
    as its orchestration (a minute and more with real models): every such call fell in `+Inf`, and
    `histogram_quantile` read 10 s for its median and its p99 alike. Its finite buckets now reach as far as those
    of `orchestratex_orchestration_duration_seconds`."""
    api = make_api()
    body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "hi"}]}
    assert api.client.post("/v1/chat/completions", json=body, headers=api.alice).status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(api.client.get("/metrics", headers=api.admin).text)}

    def bounds(family: str, **labels: str) -> list[float]:
        return [
            float(s.labels["le"])
            for s in families[family].samples
            if s.name.endswith("_bucket") and labels.items() <= s.labels.items() and s.labels["le"] != "+Inf"
        ]

    http = bounds("orchestratex_http_request_duration_seconds", route="/v1/chat/completions", method="POST")
    runs = bounds("orchestratex_orchestration_duration_seconds", status="completed")
    assert http and runs and max(http) >= max(runs)
    assert min(http) <= 0.001  # (and still a millisecond's resolution for the quick routes)


def test_every_limit_has_its_series_at_zero_before_its_first_refusal(make_api: Callable[..., Api]) -> None:
    """`orchestratex_limits_hit_total{limit=...}` appeared only at the first refusal, at 1: with no earlier sample,
    Prometheus' `increase()` and `rate()` read that refusal as no change, and an alert on them missed it."""
    api = make_api(rate_limit=1)
    samples = _samples(api.client.get("/metrics", headers=api.admin).text)
    limits = {
        dict(labels)["limit"]: v for (name, labels), v in samples.items() if name == "orchestratex_limits_hit_total"
    }
    assert limits == dict.fromkeys(
        (
            *("rate", "user_rate", "concurrency", "body_size", "storage_quota", "streams", "auth_failures"),
            *("header_timeout", "body_timeout", "header_size", "connections", "client_connections"),
            "invalid_request",
            "slow_stream",
        ),
        0,
    )
    sid = api.session()["_id"]
    assert api.client.get(f"/api/sessions/{sid}", headers=api.alice).status_code == 200
    assert api.client.get(f"/api/sessions/{sid}", headers=api.alice).status_code == 429
    samples = _samples(api.client.get("/metrics", headers=api.admin).text)
    assert samples[("orchestratex_limits_hit_total", (("limit", "rate"),))] == 1


def test_a_first_failed_run_adds_to_a_series_there_at_zero(make_api: Callable[..., Api]) -> None:
    """`orchestratex_orchestrations_total{status="failed",...}` appeared only when a run first failed, at 1: with no
    earlier sample, `increase()` read that failure as no change, and an alert on failed runs missed the first one
    after every start of the server. The ways a run ends are there at 0 from the start, as the limits are."""
    api = make_api()

    def ended() -> dict[tuple[str, str], float]:
        samples = _samples(api.client.get("/metrics", headers=api.admin).text)
        return {
            (dict(labels)["status"], dict(labels)["stop_reason"]): v
            for (name, labels), v in samples.items()
            if name == "orchestratex_orchestrations_total"
        }

    before = ended()
    assert before[("failed", "budget")] == before[("failed", "error")] == before[("completed", "threshold")] == 0
    assert before[("cancelled", "cancelled")] == 0 and set(before.values()) == {0}
    tid = api.thread(api.session()["_id"])["_id"]
    # a budget that pays for a simulated answer and its judging as the start counts them, not for the prompt sent too:
    # the least the start's refusal names (rounded up to a millionth of a dollar)
    refused = api.client.post(
        "/api/orchestration/start", json={"thread_id": tid, "settings": {"cost_limit": 1e-6}}, headers=api.alice
    )
    assert refused.status_code == 409, refused.text
    budget = float(refused.json()["detail"].split("costs ($", 1)[1].split(",", 1)[0])
    run = api.start(tid, settings={"cost_limit": budget})
    doc = _wait_in_store(api, run["_id"])
    assert (doc["status"], doc["stop_reason"]) == ("failed", "budget")
    after = ended()
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {("failed", "budget"): 1.0}
    assert after.keys() == before.keys()  # (no series appeared: each was there)


def test_a_models_first_failed_call_adds_to_a_series_there_at_zero() -> None:
    """`orchestratex_model_calls_total{outcome="error"}` of a model appeared only when it first failed, at 1: with no
    earlier sample, `increase()` and `rate()` read that failure as no change, and an alert on a model's errors missed
    the first one after every start of the server. Each model that may generate or judge has it at 0 from the start."""
    from fastapi.testclient import TestClient

    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile, Orchestrator
    from orchestratex.exceptions import ProviderServerError
    from orchestratex.orchestrator import RetryPolicy
    from orchestratex.server import create_app

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "fine"}'
        raise ProviderServerError("the model's server is down", status_code=503)

    def profile(name: str) -> ModelProfile:
        return ModelProfile(name=f"function:{name}", input_cost_per_1k=0.001, output_cost_per_1k=0.001)

    store = MemoryStore()
    orchestrator = Orchestrator(
        catalog=ModelCatalog([profile("down"), profile("judge")]),
        providers={"function": FunctionProvider(answer)},
        store=store,
        retry=RetryPolicy(max_attempts=1),
    )
    with TestClient(create_app(store, orchestrator)) as client:
        admin = bearer(in_app_loop(client).call(lambda: issue_api_key(store, "root", admin=True)))

        def errors() -> dict[tuple[str, str, str], float]:
            samples = _samples(client.get("/metrics", headers=admin).text)
            return {
                (dict(labels)["model"], dict(labels)["provider"], dict(labels)["role"]): v
                for (name, labels), v in samples.items()
                if name == "orchestratex_model_calls_total" and dict(labels)["outcome"] == "error"
            }

        before = errors()
        assert before == {
            (f"function:{m}", "function", role): 0 for m in ("down", "judge") for role in ("generate", "judge")
        }
        sid = client.post("/api/sessions/", json={"user_id": "alice"}, headers=admin).json()["_id"]
        body = {"session_id": sid, "original_prompt": "Name a prime"}
        tid = client.post("/api/threads/", json=body, headers=admin).json()["_id"]
        settings = {"preferred_models": ["function:down"], "max_iterations": 1}
        oid = client.post("/api/orchestration/start", json={"thread_id": tid, "settings": settings}, headers=admin)
        oid = oid.json()["_id"]
        while client.get(f"/api/orchestration/status/{oid}", headers=admin).json()["status"] in ("pending", "running"):
            time.sleep(0.02)
        after = errors()
    assert after[("function:down", "function", "generate")] == 1
    assert after.keys() == before.keys()  # (no series appeared: it was there)


def test_a_catalog_too_large_starts_no_series_of_failed_calls_at_zero() -> None:
    """The series at 0 stay few: past 100 (a catalog of your own with hundreds of models), none is made ahead."""
    from prometheus_client import generate_latest

    from orchestratex import FunctionProvider, ModelCatalog, ModelProfile, Orchestrator
    from orchestratex.server._metrics import Metrics

    def made(models: int) -> int:
        catalog = ModelCatalog(
            [
                ModelProfile(name=f"function:m{i}", input_cost_per_1k=0.001, output_cost_per_1k=0.001)
                for i in range(models)
            ]
        )
        metrics = Metrics()
        metrics.expect_calls(Orchestrator(catalog=catalog, providers={"function": FunctionProvider(lambda r: "7")}))
        text = generate_latest(metrics.registry).decode()
        return sum(1 for (name, _) in _samples(text) if name == "orchestratex_model_calls_total")

    assert made(50) == 100
    assert made(51) == 0


REQUEST_SECONDS = "orchestratex_http_request_duration_seconds_count"


def test_a_real_server_counts_head_requests_as_head(tmp_path: Path) -> None:
    """A load balancer's `HEAD /health/ready` probes were counted as `GET` requests (`SpecForms` answers them
    as `GET`), though uvicorn's access log said `HEAD`."""
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    with (
        ServerProcess(url, tmp_path, env={"ORCHESTRATEX_METRICS": "open"}) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        for _ in range(2):
            assert client.head("/health/ready").status_code == 200
        assert client.head("/api/models", headers={"X-API-Key": key}).status_code == 200  # (slashless too)
        assert client.head("/nowhere").status_code == 404
        assert client.get("/health/ready").status_code == 200
        samples = _samples(client.get("/metrics").text)
    counted = {
        (dict(labels)["method"], dict(labels)["route"], dict(labels)["status"]): v
        for (name, labels), v in samples.items()
        if name == "orchestratex_http_requests_total"
    }
    assert counted == {
        ("HEAD", "/health/ready", "200"): 2,
        ("HEAD", "/api/models/", "200"): 1,
        ("HEAD", "unmatched", "404"): 1,
        ("GET", "/health/ready", "200"): 1,
    }
    durations = {dict(labels)["method"] for (name, labels), _ in samples.items() if name == REQUEST_SECONDS}
    assert durations >= {"GET", "HEAD"}


def test_metrics_count_websocket_handshakes_refused_by_a_limit(make_api: Callable[..., Api]) -> None:
    api = make_api(ws_max_per_user=1, rate_limit=3)
    sid = api.session()["_id"]
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):  # the session's 1st request
        with pytest.raises(WebSocketDenialResponse) as refused:  # 2nd: the user's second stream
            with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):
                pass
        assert refused.value.status_code == 429
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):  # 3rd
        pass
    with pytest.raises(WebSocketDenialResponse) as refused:  # 4th: past the session's rate
        with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):
            pass
    assert refused.value.status_code == 429
    samples = _samples(api.client.get("/metrics", headers=api.admin).text)
    assert samples[("orchestratex_limits_hit_total", (("limit", "streams"),))] == 1
    assert samples[("orchestratex_limits_hit_total", (("limit", "rate"),))] == 1


class _FailingAuthStore(MemoryStore):
    """Authenticating a key fails (the store is broken): the request is answered 500 before routing."""

    broken = False

    async def get_api_key(self, key_hash: str) -> Any:
        if self.broken:
            raise StoreError("the keys table is corrupt")
        return await super().get_api_key(key_hash)


def test_refused_requests_count_under_their_route_and_the_limit_that_refused_them(
    make_api: Callable[..., Api],
) -> None:
    """Requests refused before routing were counted as `unmatched`, and every 429 without `RateLimit-Policy` as
    `concurrency`, every 413 as `body_size`."""
    store = _FailingAuthStore()
    api = make_api(store, user_rate_limit=3, storage_quota_bytes=2000, max_body_bytes=10_000, auth_cache_s=0)
    sid = api.session()["_id"]  # alice's request 1
    big = {"session_id": sid, "original_prompt": "x" * 3000}
    assert api.client.post("/api/threads/", json=big, headers=api.alice).status_code == 413  # 2: storage quota
    assert (
        api.client.post("/api/threads/", content=b"x" * 20_000, headers=api.alice).status_code == 413
    )  # body (before the key: not a request of alice)
    assert [api.client.get("/api/models/", headers=api.alice).status_code for _ in range(3)] == [200, 429, 429]
    assert api.client.get("/api/sessions/user/alice").status_code == 401
    store.broken = True
    assert api.client.get("/api/sessions/user/bob", headers=api.bob).status_code == 500
    store.broken = False

    samples = _samples(api.client.get("/metrics", headers=api.admin).text)
    limits = {
        dict(labels)["limit"]: v
        for (name, labels), v in samples.items()
        if name == "orchestratex_limits_hit_total" and v  # (the others are there at 0)
    }
    assert limits == {"storage_quota": 1, "body_size": 1, "user_rate": 2}
    requests = {
        tuple(dict(labels)[k] for k in ("method", "route", "status")): v
        for (name, labels), v in samples.items()
        if name == "orchestratex_http_requests_total"
    }
    assert requests[("GET", "/api/models/", "429")] == 2
    assert requests[("POST", "/api/threads/", "413")] == 2
    assert requests[("GET", "/api/sessions/user/{user_id}", "401")] == 1
    assert requests[("GET", "/api/sessions/user/{user_id}", "500")] == 1
    assert not any(route == "unmatched" for _, route, _ in requests)
    assert api.client.get("/api/nothing/here", headers=api.admin).status_code == 404
    samples = _samples(api.client.get("/metrics", headers=api.admin).text)
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples[("orchestratex_http_requests_total", unmatched)] == 1


def test_a_concurrency_refusal_counts_as_concurrency(make_api: Callable[..., Api]) -> None:
    api = make_api(max_concurrent=1, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.2"})
    tid = api.thread(api.session()["_id"])["_id"]
    api.start(tid, settings={"max_iterations": 10, "evaluation_threshold": 10})
    r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
    assert r.status_code == 429, r.text
    samples = _samples(api.client.get("/metrics", headers=api.admin).text)
    limits = {
        dict(labels)["limit"]: v
        for (name, labels), v in samples.items()
        if name == "orchestratex_limits_hit_total" and v  # (the others are there at 0)
    }
    assert limits == {"concurrency": 1}


@pytest.mark.parametrize(
    ("access", "anonymous", "user", "admin"),
    [("admin", 401, 403, 200), ("key", 401, 200, 200), ("open", 200, 200, 200), ("off", 404, 404, 404)],
)
def test_metrics_access_follows_the_setting(
    make_api: Callable[..., Api], access: str, anonymous: int, user: int, admin: int
) -> None:
    api = make_api(metrics=access)
    assert api.client.get("/metrics").status_code == anonymous
    assert api.client.get("/metrics", headers=api.alice).status_code == user
    assert api.client.get("/metrics", headers=api.admin).status_code == admin


def test_api_docs_are_served_from_the_package_without_a_cdn(api: Api) -> None:
    for page in ("/docs", "/redoc"):
        r = api.client.get(page)
        assert r.status_code == 200
        assert "cdn" not in r.text.lower() and "https://" not in r.text
        for asset in ("/_docs/swagger-ui-bundle.js", "/_docs/swagger-ui.css", "/_docs/redoc.standalone.js"):
            if asset in r.text:
                got = api.client.get(asset)
                assert got.status_code == 200 and len(got.content) > 100_000
    assert api.client.get("/docs/oauth2-redirect").status_code == 200
    assert api.client.get("/_docs/favicon.png").status_code == 200
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {"/health", "/health/ready", "/metrics", "/api/admin/keys/", "/api/admin/keys/{key_id}"} <= set(paths)
    assert "security" not in paths["/health"]["get"]


def test_api_docs_pages_allow_nothing_from_another_host(api: Api) -> None:
    """ReDoc's bundle asks for its logo from a CDN: the page's policy keeps the browser from requesting it."""
    for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        r = api.client.get(page)
        policy = dict(part.strip().split(" ", 1) for part in r.headers["content-security-policy"].split(";"))
        assert policy["default-src"] == "'none'" and policy["img-src"] == "'self' data:"
        assert all("http" not in sources and "*" not in sources for sources in policy.values())
        inline = re.findall(r"<script>(.*?)</script>", r.text, re.DOTALL)
        hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline}
        assert set(policy["script-src"].split()) == {"'self'", *hashes}  # its own inline script, no other


def test_cors_is_off_by_default_and_configurable(make_api: Callable[..., Api]) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    off = make_api()
    r = off.client.get("/health", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in r.headers
    on = make_api(env={"ORCHESTRATEX_CORS_ORIGINS": "https://app.example, https://other.example/"})
    from orchestratex.server import ServerSettings

    assert ServerSettings.from_env().cors_origins == ("https://app.example", "https://other.example")
    on = make_api(cors_origins=("https://app.example",))
    r = on.client.options("/api/sessions/", headers={**preflight, "Access-Control-Request-Headers": "authorization"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
    r = on.client.get("/api/models/", headers={"Origin": "https://app.example", **on.alice})
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert "RateLimit" in r.headers.get("access-control-expose-headers", "")
    r = on.client.options("/api/sessions/", headers={**preflight, "Origin": "https://evil.example"})
    assert r.status_code == 400


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    yield exporter
    provider.shutdown()


def test_a_background_orchestration_is_a_child_of_the_requests_traceparent(
    api: Api, spans: InMemorySpanExporter
) -> None:
    trace_id, parent_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    r = api.client.post(
        "/api/orchestration/start",
        json={"thread_id": tid, "settings": {"max_iterations": 1}},
        headers={**api.alice, "traceparent": f"00-{trace_id}-{parent_id}-01"},
    )
    assert r.status_code == 202
    api.wait(r.json()["_id"])
    deadline = time.monotonic() + 10  # the run's span ends just after its final commit, which `wait` sees
    while not any(s.name.startswith("invoke_agent") for s in spans.get_finished_spans()):
        assert time.monotonic() < deadline, "the orchestration's span never ended"
        time.sleep(0.02)
    finished = {s.context.span_id: s for s in spans.get_finished_spans()}
    (root,) = [s for s in finished.values() if s.name.startswith("invoke_agent")]
    assert format(root.context.trace_id, "032x") == trace_id
    ancestor = root  # directly under the caller's span, or under a server span (FastAPI's own, when it traces)
    while ancestor.parent is not None and not ancestor.parent.is_remote:
        ancestor = finished[ancestor.parent.span_id]
    assert ancestor.parent is not None and format(ancestor.parent.span_id, "016x") == parent_id
    children = [s for s in finished.values() if s.context.trace_id == root.context.trace_id]
    assert len(children) >= 4  # the orchestration, its iteration, a generation and a judgment (and its judge)


def test_the_server_span_of_a_v1_call_names_its_route(api: Api, spans: InMemorySpanExporter) -> None:
    """FastAPI's own server span (and its `http.route`) of every `/v1` call read `POST /v1/{path}`, the mount's
    template: chat completions and model reads could not be told apart in a trace. The orchestration of the call
    stays a child of that span, under the caller's `traceparent`."""
    pytest.importorskip("fastapi.telemetry", reason="FastAPI traces requests itself from 0.165")
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "hi"}]}
    headers = {**api.alice, "traceparent": f"00-{trace_id}-{parent_id}-01"}
    assert api.client.post("/v1/chat/completions", json=body, headers=headers).status_code == 200
    assert api.client.get("/v1/models/orchestratex/auto", headers=api.alice).status_code == 200
    finished = {s.context.span_id: s for s in spans.get_finished_spans()}
    servers = [s for s in finished.values() if s.kind == trace.SpanKind.SERVER]
    assert sorted((s.name, (s.attributes or {}).get("http.route")) for s in servers) == [
        ("GET /v1/models/{model}", "/v1/models/{model}"),
        ("POST /v1/chat/completions", "/v1/chat/completions"),
    ]
    (chat,) = [s for s in servers if s.name.startswith("POST")]
    assert chat.parent is not None and format(chat.parent.span_id, "016x") == parent_id
    (root,) = [s for s in finished.values() if s.name.startswith("invoke_agent")]
    ancestor = root
    while ancestor.parent is not None and ancestor.parent.span_id in finished:
        ancestor = finished[ancestor.parent.span_id]
    assert ancestor is chat


def test_the_server_span_of_a_refused_request_names_its_route(
    make_api: Callable[..., Api], spans: InMemorySpanExporter
) -> None:
    """A request refused before routing (no key, a body over the size limit) had a server span named `POST`, with no
    `http.route`, while `/metrics` counted it under its route: its refusals could not be found by route in a trace."""
    pytest.importorskip("fastapi.telemetry", reason="FastAPI traces requests itself from 0.165")
    api = make_api(max_body_bytes=1024)
    assert api.client.post("/api/orchestration/start", json={}).status_code == 401
    assert api.client.post("/v1/chat/completions", json={}).status_code == 401
    big = {"session_id": "x" * 24, "original_prompt": "x" * 2000}
    assert api.client.post("/api/threads/", json=big, headers=api.alice).status_code == 413
    assert api.client.get("/api/nowhere", headers=api.alice).status_code == 404
    servers = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert [(s.name, (s.attributes or {}).get("http.route")) for s in servers] == [
        ("POST /api/orchestration/start", "/api/orchestration/start"),
        ("POST /v1/chat/completions", "/v1/chat/completions"),
        ("POST /api/threads/", "/api/threads/"),
        ("GET", None),  # (no route serves it: as FastAPI names it)
    ]


def test_the_span_of_a_health_check_names_its_route(api: Api, spans: InMemorySpanExporter) -> None:
    """`/health`, answered before routing, had a server span named `GET` with no `http.route`: a collector's rule
    dropping health checks by route (every few seconds, from every probe) never matched them."""
    pytest.importorskip("fastapi.telemetry", reason="FastAPI traces requests itself from 0.165")
    assert api.client.get("/health").status_code == 200 and api.client.head("/health").status_code == 200
    servers = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert [(s.name, (s.attributes or {}).get("http.route")) for s in servers] == [
        ("GET /health", "/health"),
        ("HEAD /health", "/health"),
    ]


def test_the_span_of_a_refused_request_names_its_route_under_the_root_path(spans: InMemorySpanExporter) -> None:
    """Behind a proxy's prefix (`--root-path /ox`) FastAPI names a served request's route with it: so is a refused
    one's, not `/api/...` beside `/ox/api/...` for the same route."""
    pytest.importorskip("fastapi.telemetry", reason="FastAPI traces requests itself from 0.165")
    from fastapi.testclient import TestClient

    from orchestratex.server import create_app

    with TestClient(create_app(MemoryStore()), root_path="/ox") as client:
        assert client.post("/ox/api/sessions/", json={}).status_code == 401
    (span,) = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert (span.name, (span.attributes or {}).get("http.route")) == ("POST /ox/api/sessions/", "/ox/api/sessions/")


def test_the_event_poller_of_a_watched_session_is_in_no_requests_trace(
    make_api: Callable[..., Api], spans: InMemorySpanExporter
) -> None:
    """The task reading a watched session's events from the store serves every stream of the session, but ran in the
    context of the WebSocket that started it: with a traced store, its reads (two a second, for as long as the session
    is watched, by anyone) were all spans of that first connection's trace."""
    pytest.importorskip("fastapi.telemetry", reason="FastAPI traces requests itself from 0.165")

    class Recording(MemoryStore):
        polled: list[trace.SpanContext] = []  # noqa: RUF012

        async def list_events(self, *args: Any, **kwargs: Any) -> Any:
            task = asyncio.current_task()
            if task is not None and task.get_name().startswith("orchestratex-poll-"):
                self.polled.append(trace.get_current_span().get_span_context())
            return await super().list_events(*args, **kwargs)

    api = make_api(Recording(), poll_interval_s=0.02)
    sid = api.session()["_id"]
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):
        deadline = time.monotonic() + 10
        while len(Recording.polled) < 3:
            assert time.monotonic() < deadline, "the session's events were never polled"
            time.sleep(0.02)
    (stream,) = [s for s in spans.get_finished_spans() if s.name == "WS /ws/{session_id}"]
    assert all(not sc.is_valid for sc in Recording.polled), stream.name


def test_no_span_records_the_api_key_of_a_websocket_url(api: Api, spans: InMemorySpanExporter) -> None:
    """A WebSocket URL fetched as plain HTTP (a proxy that drops `Upgrade`: the server answers 426) put its
    `?token=<key>` into the server span's `url.query`, so the key reached the tracing backend; the access log masked
    it. A key pasted into a path or another parameter is masked as in the logs."""
    pytest.importorskip("fastapi.telemetry", reason="FastAPI traces requests itself from 0.165")
    key = api.keys["alice"]
    sid = api.session()["_id"]
    assert api.client.get(f"/ws/{sid}?since=0&token={key}").status_code == 426
    assert api.client.get(f"/api/sessions/{sid}?api_key={key}").status_code == 401
    assert api.client.get(f"/api/sessions/{key}", headers=api.alice).status_code == 404
    with api.client.websocket_connect(f"/ws/{sid}?token={key}"):
        pass
    servers = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert len(servers) >= 4
    for span in servers:
        for name, value in (span.attributes or {}).items():
            assert key not in str(value), (span.name, name)
    queries = {(s.attributes or {}).get("url.query") for s in servers}
    assert {"since=0&token=***", "api_key=ox_***"} <= queries
    assert "/api/sessions/ox_***" in {(s.attributes or {}).get("url.path") for s in servers}


DOCS_PATHS = ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect", "/_docs/swagger-ui.css")


def test_the_api_docs_are_public_by_default(make_api: Callable[..., Api]) -> None:
    api = make_api()
    assert [api.client.get(p).status_code for p in DOCS_PATHS] == [200] * len(DOCS_PATHS)


def test_docs_key_asks_a_key_for_the_schema_and_hides_the_pages(make_api: Callable[..., Api]) -> None:
    api = make_api(docs="key")
    refused = api.client.get("/openapi.json")
    assert refused.status_code == 401 and "missing API key" in refused.json()["detail"]
    assert api.client.get("/openapi.json", headers={"Authorization": "Bearer ox_wrong"}).status_code == 401
    assert "/api/sessions/" in api.client.get("/openapi.json", headers=api.alice).json()["paths"]
    for path in DOCS_PATHS[1:]:
        r = api.client.get(path, headers=api.alice)
        assert r.status_code == 404 and "ORCHESTRATEX_DOCS=key" in r.json()["detail"], path
    assert api.client.get("/health").status_code == 200 and api.client.get("/health/ready").status_code == 200
    assert api.client.post("/api/sessions/", json={}, headers=api.alice).status_code == 201  # (served as before)


def test_docs_off_hides_the_schema_and_the_pages_from_everyone(make_api: Callable[..., Api]) -> None:
    api = make_api(docs="off")
    for path in DOCS_PATHS:
        r = api.client.get(path, headers=api.admin)
        assert r.status_code == 404 and r.json()["detail"] == "the API docs are switched off (ORCHESTRATEX_DOCS=off)"
    assert api.client.get("/health").status_code == 200
    assert api.client.get("/api/models/", headers=api.alice).status_code == 200


def test_docs_key_lets_a_browser_on_an_allowed_origin_fetch_the_schema_with_a_key(
    make_api: Callable[..., Api],
) -> None:
    """Its preflight (which carries no key) was answered 401 by the docs' key check before CORS could answer it,
    and its refusals carried no CORS headers, so the page could not read why."""
    origin = "https://portal.example"
    api = make_api(docs="key", cors_origins=(origin,))
    preflight = api.client.options(
        "/openapi.json",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
    fetched = api.client.get("/openapi.json", headers={"Origin": origin, **api.alice})
    assert fetched.status_code == 200 and fetched.headers["access-control-allow-origin"] == origin
    refused = api.client.get("/openapi.json", headers={"Origin": origin})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == origin


@pytest.mark.slow
def test_a_real_server_with_docs_key_serves_the_schema_to_keys_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    with (
        ServerProcess(url, tmp_path, env={"ORCHESTRATEX_DOCS": "key"}) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        assert client.get("/openapi.json").status_code == 401
        assert client.get("/openapi.json", headers={"X-API-Key": key}).json()["info"]["title"] == "OrchestrateX"
        assert client.get("/docs").status_code == 404
        assert client.get("/health").json() == {"status": "ok"}
    assert "API docs at" not in server.log()


@pytest.mark.slow
def test_behind_a_root_path_keys_and_the_docs_setting_still_apply(tmp_path: Path) -> None:
    """uvicorn's `--root-path` (a proxy serving the API under a prefix) puts the prefix in every request's ASGI
    path: `/api/models/` answered without a key, `/api/sessions/{id}` with a 500, and `/openapi.json` and the docs
    pages were served to anyone under `ORCHESTRATEX_DOCS=key`, as the checks compared the path with the prefix."""
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    with (
        ServerProcess(url, tmp_path, env={"ORCHESTRATEX_DOCS": "key"}, uvicorn_args=["--root-path", "/ox"]) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        for path in ("/api/models/", "/api/sessions/x", "/api/admin/keys/", "/openapi.json", "/openapi.json?a=1"):
            r = client.get(path)
            assert r.status_code == 401 and "missing API key" in r.json()["detail"], (path, r.text)
        for path in DOCS_PATHS[1:]:
            assert client.get(path).status_code == 404, path
        assert client.get("/openapi.json", headers={"X-API-Key": key}).json()["info"]["title"] == "OrchestrateX"
        assert client.get("/api/models/", headers={"X-API-Key": key}).status_code == 200
        created = client.post("/api/sessions", json={}, headers={"X-API-Key": key})  # (the slashless form too)
        assert created.status_code == 201, created.text
        assert client.get(f"/api/sessions/{created.json()['_id']}", headers={"X-API-Key": key}).status_code == 200
        assert client.get("/health").json() == {"status": "ok"}
    assert "Traceback" not in server.log()


@pytest.mark.parametrize(
    ("path", "root", "seen"),
    [
        ("/ox/api/models/", "/ox", "/api/models/"),
        ("/ox", "/ox", ""),
        ("/oxen/api/models/", "/ox", "/oxen/api/models/"),
        ("/api/models/", "/ox", "/api/models/"),
        ("/api/models/", "", "/api/models/"),
    ],
)
def test_route_path_is_the_path_below_the_root_path(path: str, root: str, seen: str) -> None:
    from orchestratex.server._paths import route_path

    assert route_path({"type": "http", "path": path, "root_path": root}) == seen


def test_the_docs_pages_link_their_files_and_the_schema_under_the_root_path() -> None:
    """Behind a proxy serving the API under `/ox`, the pages asked the browser for `/openapi.json` and
    `/_docs/...`, which the proxy does not route to the server: the docs stayed blank."""
    from fastapi.testclient import TestClient

    from orchestratex.server import ServerSettings, create_app

    for root in ("/ox", ""):
        with TestClient(create_app(MemoryStore(), settings=ServerSettings()), root_path=root) as client:
            swagger, redoc = client.get("/docs").text, client.get("/redoc").text
            assert f"url: '{root}/openapi.json'" in swagger and f'"{root}/_docs/swagger-ui-bundle.js"' in swagger
            assert f'spec-url="{root}/openapi.json"' in redoc and f'src="{root}/_docs/redoc.standalone.js"' in redoc
            csp = client.get("/docs").headers["content-security-policy"]
            assert "'sha256-" in csp


def test_metrics_have_no_created_series_and_leave_other_registries_theirs(make_api: Callable[..., Api]) -> None:
    """prometheus-client adds a `_created` series to every counter and histogram child: as many series again,
    which Prometheus does not use. The server's registry leaves them out; the application's own keep theirs."""
    from prometheus_client import CollectorRegistry, Counter, generate_latest

    api = make_api()
    sid = api.session()["_id"]
    api.start(api.thread(sid)["_id"], settings={"max_iterations": 1})
    families = list(text_string_to_metric_families(api.client.get("/metrics", headers=api.admin).text))
    names = {sample.name for family in families for sample in family.samples}
    assert "orchestratex_http_requests_total" in names and "orchestratex_http_request_duration_seconds_sum" in names
    assert not [name for name in names if name.endswith("_created")]
    own = CollectorRegistry()
    Counter("mine", "An application's own counter.", registry=own).inc()
    assert b"mine_created" in generate_latest(own)


def test_made_up_methods_are_counted_as_other(make_api: Callable[..., Api]) -> None:
    """A method is any token a client makes up (h11 and Hypercorn accept them all): each one was a label of its
    own, so anyone, without a key, could add series to /metrics without end."""
    api = make_api()
    for i in range(20):
        assert api.client.request(f"X{i}", "/api/sessions/").status_code in (401, 405)
    api.client.request("PATCH", "/api/sessions/")
    samples = _samples(api.client.get("/metrics", headers=api.admin).text)
    methods = {dict(labels)["method"] for name, labels in samples if name == "orchestratex_http_requests_total"}
    assert methods == {"_OTHER", "PATCH"}
    other = [v for (name, labels), v in samples.items() if ("method", "_OTHER") in labels and name.endswith("_total")]
    assert sum(other) == 20
