"""`ORCHESTRATEX_CORS_ORIGINS`: an origin no browser could ever send is refused when the server starts, not
silently kept as an entry that matches nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestratex.exceptions import ConfigurationError
from orchestratex.server import ServerSettings

from .conftest import Api
from .server_process import CLI, ServerProcess, child_env, create_key, free_port


@pytest.mark.parametrize(
    "origin", ["https://*.example.com", "*.example.com", "app.example.com", "https://app.example.com/app", "null"]
)
def test_an_origin_a_browser_never_sends_is_a_configuration_error(origin: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ServerSettings.from_env({"ORCHESTRATEX_CORS_ORIGINS": f"https://ok.example, {origin}"})
    assert str(caught.value) == (
        f"ORCHESTRATEX_CORS_ORIGINS: {origin!r} is not an origin: write scheme://host[:port] with no path or"
        " wildcard (https://app.example.com), or * alone for any origin"
    )
    with pytest.raises(ValueError, match="is not an origin"):
        ServerSettings(cors_origins=(origin,))


def test_origins_are_kept_as_browsers_send_them() -> None:
    given = "HTTPS://App.Example.com/, http://localhost:5173, http://[::1]:3000, capacitor://localhost, *"
    assert ServerSettings.from_env({"ORCHESTRATEX_CORS_ORIGINS": given}).cors_origins == (
        "https://app.example.com",
        "http://localhost:5173",
        "http://[::1]:3000",
        "capacitor://localhost",
        "*",
    )


def test_an_origin_written_in_capitals_is_allowed(make_api: Callable[..., Api]) -> None:
    api = make_api(cors_origins=("HTTPS://App.Example",))
    r = api.client.get("/api/models/", headers={"Origin": "https://app.example", **api.alice})
    assert r.headers["access-control-allow-origin"] == "https://app.example"


def test_serve_stops_on_a_wildcard_origin_with_one_line_and_exit_code_2(tmp_path: Path) -> None:
    env = child_env({"ORCHESTRATEX_CORS_ORIGINS": "https://*.example.com"})
    args = [*CLI, "serve", "--port", str(free_port()), "--store", f"sqlite:///{tmp_path / 'ox.db'}"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "orchestratex: error: ORCHESTRATEX_CORS_ORIGINS: 'https://*.example.com' is not an origin: write"
        " scheme://host[:port] with no path or wildcard (https://app.example.com), or * alone for any origin"
    ]
    assert not (tmp_path / "ox.db").exists()


OPENAI_NODE_HEADERS = (
    "authorization,content-type,user-agent,openai-organization,openai-project,openai-beta,x-stainless-arch,"
    "x-stainless-lang,x-stainless-os,x-stainless-package-version,x-stainless-retry-count,x-stainless-runtime,"
    "x-stainless-runtime-version,x-stainless-timeout,x-stainless-helper-method,traceparent"
)
"""What the openai JavaScript SDK asks for from a browser (its `buildHeaders` and platform headers), with a trace."""


def _preflight(client: Any, path: str, headers: str) -> Any:
    return client.options(
        path,
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


def test_the_openai_js_sdk_s_preflight_is_allowed_and_others_still_refused(make_api: Callable[..., Api]) -> None:
    api = make_api(cors_origins=("https://app.example.com",))
    r = _preflight(api.client, "/v1/chat/completions", OPENAI_NODE_HEADERS)
    assert r.status_code == 200, r.text
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert set(OPENAI_NODE_HEADERS.split(",")) <= allowed
    assert _preflight(api.client, "/api/sessions/", "x-api-key, Content-Type").status_code == 200
    for refused in ("x-stainless-os,x-evil", "x-stainless-", "cookie"):
        assert _preflight(api.client, "/v1/chat/completions", refused).status_code == 400, refused
    r = api.client.get("/api/models/", headers={"Origin": "https://app.example.com", **api.alice})
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert exposed == {
        "ratelimit",
        "ratelimit-policy",
        "retry-after",
        "x-request-id",
        "x-should-retry",
        "idempotent-replayed",
    }


def test_a_page_may_send_an_idempotency_key_with_the_start_of_an_orchestration(make_api: Callable[..., Api]) -> None:
    # the start reads `Idempotency-Key` (a retried start answers the orchestration the first stored), but a page of an
    # allowed origin asking to send it was refused: "the server does not read the header 'Idempotency-Key'"
    api = make_api(cors_origins=("https://app.example.com",))
    for path in ("/api/orchestration/start", "/api/orchestration/start/"):
        r = _preflight(api.client, path, "authorization, content-type, idempotency-key")
        assert r.status_code == 200, r.text
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type", "idempotency-key"} <= allowed
    tid = api.thread(api.session()["_id"])["_id"]
    sent = {"Origin": "https://app.example.com", "Idempotency-Key": "page-1", **api.alice}
    first = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=sent)
    again = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=sent)
    assert (first.status_code, again.status_code) == (202, 202) and first.json()["_id"] == again.json()["_id"]
    assert "idempotent-replayed" in again.headers["access-control-expose-headers"].lower()  # (its script may read it)
    # the routes that do not read it (a chat completion does: below) still refuse it, saying so
    for path in ("/api/sessions/", "/v1/models", "/api/orchestration/startx"):
        r = _preflight(api.client, path, "idempotency-key")
        assert r.status_code == 400, path
        assert "the server does not read the header 'idempotency-key'" in r.json()["detail"]


def test_a_page_may_send_an_idempotency_key_with_a_chat_completion(make_api: Callable[..., Api]) -> None:
    # POST /v1/chat/completions reads `Idempotency-Key` (docs/openai-compatible.md, "Sending a call again"), but a page
    # of an allowed origin asking to send it was refused: "the server does not read the header 'idempotency-key'"
    api = make_api(cors_origins=("https://app.example.com",))
    for path in ("/v1/chat/completions", "/v1/chat/completions/"):
        r = _preflight(api.client, path, OPENAI_NODE_HEADERS + ",idempotency-key")
        assert r.status_code == 200, r.text
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {*OPENAI_NODE_HEADERS.split(","), "idempotency-key"} <= allowed
    body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "Name a prime"}]}
    sent = {"Origin": "https://app.example.com", "Idempotency-Key": "page-call-1", **api.alice}
    first = api.client.post("/v1/chat/completions", json=body, headers=sent)
    again = api.client.post("/v1/chat/completions", json=body, headers=sent)
    assert (first.status_code, again.status_code) == (200, 200) and first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" in again.headers["access-control-expose-headers"].lower()  # (its script may read it)


@pytest.mark.slow
def test_a_browser_app_on_the_openai_js_sdk_passes_preflight_on_a_real_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_CORS_ORIGINS": "https://app.example.com", "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
    with ServerProcess(url, tmp_path, env=env) as server, httpx.Client(base_url=server.base_url, timeout=30) as client:
        r = _preflight(client, "/v1/chat/completions", OPENAI_NODE_HEADERS)
        assert r.status_code == 200, r.text
        body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "hi"}], "cost_limit": 0}
        headers = {"Origin": "https://app.example.com", "Authorization": f"Bearer {key}", "X-Stainless-Lang": "js"}
        spent = client.post("/v1/chat/completions", json=body, headers=headers)  # a failure the SDK must not retry
        assert spent.status_code == 402 and spent.headers["x-should-retry"] == "false"
        assert "x-should-retry" in spent.headers["access-control-expose-headers"].lower()
        assert (
            "x-request-id" in spent.headers["access-control-expose-headers"].lower() and spent.headers["x-request-id"]
        )


@pytest.mark.parametrize(
    ("origin", "method", "headers", "says"),
    [
        (
            "https://app.example.com",
            "POST",
            "x-stainless-os, X-Request-Id",
            "the server does not read the header 'X-Request-Id' (a browser may send Authorization, X-API-Key,"
            " Content-Type, traceparent, tracestate and the OpenAI SDK's headers)",
        ),
        (
            "https://evil.example.com",
            "POST",
            "x-api-key",
            "the origin 'https://evil.example.com' may not call this API from a browser (the server allows the"
            " origins of ORCHESTRATEX_CORS_ORIGINS)",
        ),
        (
            "https://app.example.com",
            "PUT",
            "x-api-key",
            "the method 'PUT' is not one of the API's (GET, HEAD, POST, PATCH",
        ),
    ],
)
def test_a_refused_preflight_answers_the_api_error_body_naming_what_is_refused(
    make_api: Callable[..., Api], origin: str, method: str, headers: str, says: str
) -> None:
    # it was Starlette's text "Disallowed CORS headers" (or "origin", "method"), not {"detail", "status_code"}, and
    # named neither the header nor the origin to allow
    api = make_api(cors_origins=("https://app.example.com",))
    asked = {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}
    r = api.client.options("/api/sessions/", headers=asked)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert r.json()["status_code"] == 400
    assert r.json()["detail"].startswith(f"CORS preflight refused: {says}"), r.json()
    assert "Origin" in r.headers["vary"]  # (still a CORS answer: caches keep it apart per origin)
    allowed = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "PATCH"}
    assert (
        api.client.options("/api/sessions/", headers={**allowed, "Access-Control-Request-Headers": "x-api-key"}).text
        == "OK"
    )


@pytest.mark.parametrize("path", ["/api/sessions/", "/api/orchestration/start", "/v1/chat/completions", "/health"])
def test_a_preflight_to_a_server_allowing_no_origin_says_so(make_api: Callable[..., Api], path: str) -> None:
    """With `ORCHESTRATEX_CORS_ORIGINS` unset, a browser's preflight was answered as a request: `/api/…` 401 "missing
    API key" (a preflight never carries one: the page does send its key), counted as a failed key check against the
    address, and the others 405 "Method Not Allowed" (`Allow: POST`, the method the page was using)."""
    api = make_api(auth_failure_limit=3)
    asked = {
        "Origin": "http://localhost:5173",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key, content-type",
    }
    for _ in range(5):
        r = api.client.options(path, headers=asked)
        assert r.status_code == 403, r.text
        assert r.json() == {
            "detail": "this server allows no cross-origin requests from a browser: to call it from a page of"
            " 'http://localhost:5173', set ORCHESTRATEX_CORS_ORIGINS to that origin (comma-separated for several)",
            "status_code": 403,
        }
        assert "access-control-allow-origin" not in r.headers
    assert api.client.get("/api/models/gpt4", headers=api.alice).status_code == 200  # (no failed key check counted)
    assert api.client.options(path).status_code in (401, 405)  # (an OPTIONS request that is no preflight, as before)


def test_a_preflight_from_a_page_opened_from_a_file_is_told_to_serve_it_over_http(make_api: Callable[..., Api]) -> None:
    """A page opened from a file (origin `null`) was told to set ORCHESTRATEX_CORS_ORIGINS to 'null', which the server
    refuses to start with (no setting can allow `null`: any page may claim it)."""
    asked = {"Origin": "null", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key"}
    for api in (make_api(), make_api(cors_origins=("https://app.example.com",))):
        r = api.client.options("/api/sessions/", headers=asked)
        assert r.status_code in (400, 403), r.text
        assert r.json()["detail"].endswith(
            "a page opened from a file or in a sandboxed frame has the origin 'null', which no setting can allow (any"
            " other page could claim it): serve the page over http:// or https://"
        ), r.json()


def test_a_head_request_with_a_key_passes_its_preflight(make_api: Callable[..., Api]) -> None:
    """Every `GET` route answers `HEAD`, but a browser's preflight for a `HEAD` carrying a key (`fetch(url, {method:
    "HEAD", headers: {Authorization}})`, to check that a session exists) was refused 400 "the method 'HEAD' is not one
    of the API's", so the browser never sent the request."""
    api = make_api(cors_origins=("https://app.example.com",))
    session = api.session()
    origin = {"Origin": "https://app.example.com"}
    asked = {**origin, "Access-Control-Request-Method": "HEAD", "Access-Control-Request-Headers": "authorization"}
    r = api.client.options(f"/api/sessions/{session['_id']}", headers=asked)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    r = api.client.head(f"/api/sessions/{session['_id']}", headers={**origin, **api.alice})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"


def test_a_page_of_an_allowed_origin_may_read_health(make_api: Callable[..., Api]) -> None:
    """`GET /health` was answered before the CORS middleware (to stay cheap under load), without
    `Access-Control-Allow-Origin`: a status page of an allowed origin polling it had every answer refused by its
    browser ("Failed to fetch"), while `/health/ready` and the API worked. A probe (no `Origin`) is answered as
    before."""
    api = make_api(cors_origins=("https://app.example.com",))
    for method in ("GET", "HEAD"):
        r = api.client.request(method, "/health", headers={"Origin": "https://app.example.com"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    r = api.client.get("/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.slow
def test_a_page_of_an_allowed_origin_may_read_health_on_a_real_server(tmp_path: Path) -> None:
    """`orchestratex serve` answers `/health` in its HTTP protocol, before the app: a page's request (with `Origin`)
    goes to the app's CORS middleware instead."""
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    env = {"ORCHESTRATEX_CORS_ORIGINS": "https://app.example.com"}
    with ServerProcess(url, tmp_path, env=env) as server, httpx.Client(base_url=server.base_url, timeout=30) as client:
        r = client.get("/health", headers={"Origin": "https://app.example.com"})
        assert (r.status_code, r.json()) == (200, {"status": "ok"})
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "access-control-allow-origin" not in client.get("/health").headers
