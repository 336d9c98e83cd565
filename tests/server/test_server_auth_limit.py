"""Failed key checks per client address: no key, a malformed header, an unknown or revoked key all count
alike, and past the limit every key check from that address answers 429 with `Retry-After`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.testclient import WebSocketDenialResponse

from orchestratex.server._auth_limit import MAX_ADDRESSES, FailedAuthLimit, client_address
from orchestratex.server._errors import ApiError

from .conftest import Api, bearer, in_app_loop, limit_windows_begin_now
from .server_process import ServerProcess, create_key

FAILURES = [
    {},  # no key
    {"Authorization": "Basic YWxpY2U6c2VjcmV0"},  # a scheme the server does not take
    {"Authorization": "Bearer"},  # a malformed header
    {"Authorization": "Bearer ox_not-a-key"},  # an unknown key
    {"X-API-Key": ""},
]


def test_every_kind_of_failed_check_counts_and_then_even_a_valid_key_waits(make_api: Callable[..., Api]) -> None:
    api = make_api(auth_failure_limit=5)
    for headers in FAILURES:
        assert api.client.get("/api/models/", headers=headers).status_code == 401, headers
    for path, headers in (("/api/models/", api.alice), ("/v1/models", api.alice), ("/api/models/", {})):
        r = api.client.get(path, headers=headers)
        assert r.status_code == 429, (path, r.text)
        assert 1 <= int(r.headers["retry-after"]) <= 60
    assert "too many failed API key checks from this address (5 per 60 s)" in r.json()["detail"]
    v1 = api.client.get("/v1/models", headers=api.alice).json()["error"]
    assert v1["code"] == "rate_limit_exceeded" and "failed API key checks" in v1["message"]
    assert api.client.get("/health").status_code == 200  # the public endpoints stay open


def test_a_revoked_key_counts_and_the_v1_routes_and_the_websocket_count_too(make_api: Callable[..., Api]) -> None:
    api = make_api(auth_failure_limit=3)
    key_id = api.client.get("/api/admin/keys/?user_id=bob", headers=api.admin).json()[0]["_id"]
    in_app_loop(api.client).call(api.store.revoke_api_key, key_id)
    assert api.client.get("/api/models/", headers=api.bob).status_code == 401
    assert api.client.get("/v1/models", headers=bearer("ox_wrong")).status_code == 401
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect("/ws/0123456789abcdef01234567", headers=bearer("ox_wrong")):
            pass
    assert refused.value.status_code == 401
    assert api.client.get("/api/models/", headers=api.alice).status_code == 429


def test_addresses_are_counted_apart_and_ipv6_by_its_64() -> None:
    assert client_address({"client": ("203.0.113.7", 5000)}) == "203.0.113.7"
    assert client_address({"client": ("2001:db8:1:2:aaaa::1", 5000)}) == "2001:db8:1:2::/64"
    assert client_address({"client": ("2001:db8:1:2:bbbb::9", 5000)}) == "2001:db8:1:2::/64"
    assert client_address({"client": ("::ffff:203.0.113.7", 5000)}) == "203.0.113.7"
    assert client_address({"client": None}) is None


def test_failing_from_many_new_addresses_does_not_clear_a_locked_out_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit remembers at most MAX_ADDRESSES addresses; it used to forget them all when that many had failed
    in one window, so a client rotating addresses gave the address it attacks a fresh count of guesses."""
    limit_windows_begin_now(monkeypatch)
    limiter = FailedAuthLimit(limit=3, window_s=60)
    for _ in range(3):
        limiter.fail("203.0.113.7")
    with pytest.raises(ApiError) as locked:
        limiter.check("203.0.113.7")
    assert locked.value.status_code == 429
    for n in range(2 * MAX_ADDRESSES):
        limiter.fail(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
        assert len(limiter._counts) <= MAX_ADDRESSES
    with pytest.raises(ApiError) as still:
        limiter.check("203.0.113.7")
    assert still.value.status_code == 429
    limiter.fail("192.0.2.1")
    limiter.fail("192.0.2.1")
    limiter.fail("192.0.2.1")
    with pytest.raises(ApiError):  # (a newcomer is counted from its first failure, as before)
        limiter.check("192.0.2.1")


@pytest.mark.slow
def test_a_real_server_limits_failed_checks_per_client_address(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_AUTH_FAILURE_LIMIT": "4"}
    with ServerProcess(url, tmp_path, env=env) as server, httpx.Client(base_url=server.base_url, timeout=30) as client:
        into_window = time.time() % 60  # failures count in fixed windows of 60 s: all of them in one
        if into_window > 50:
            time.sleep(60.5 - into_window)
        attacker = {"X-Forwarded-For": "198.51.100.9"}  # (uvicorn trusts it from 127.0.0.1, as from a local proxy)
        for headers in FAILURES[:4]:
            assert client.get("/api/models/", headers={**attacker, **headers}).status_code == 401
        for path in ("/api/models/", "/v1/models", "/api/sessions/"):
            r = client.get(path, headers={**attacker, "Authorization": "Bearer ox_guess"})
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
        other = {"X-Forwarded-For": "192.0.2.1", "Authorization": f"Bearer {key}"}
        assert client.get("/api/models/", headers=other).status_code == 200  # another address is not held up
        assert client.get("/health", headers=attacker).status_code == 200
