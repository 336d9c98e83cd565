"""The `RateLimit` headers of `/v1` answers: the user's limit on those naming no session (the models, a call refused
before its session is known), both limits once a call counted against its session, as on `/api`."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx2

from .conftest import Api, in_app_loop

PROMPT = [{"role": "user", "content": "Name a prime"}]


def _said(r: httpx2.Response, policy: str) -> tuple[int, str]:
    assert r.headers["RateLimit-Policy"] == policy, (r.status_code, r.text)
    found = re.fullmatch(r'("(?:session|user)";r=\d+);t=(\d+)', r.headers["RateLimit"])
    assert found and 1 <= int(found[2]) <= 60, r.headers["RateLimit"]
    return r.status_code, found[1]


def test_v1_answers_naming_no_session_announce_the_users_limit_each_counted_once(make_api: Callable[..., Api]) -> None:
    """`GET /v1/models` and a call refused before its session is known counted against the user but carried no
    `RateLimit` headers: a client (the openai SDK's `with_raw_response`) pacing itself by them found nothing until the
    429. Each counts once, in the same count as `/api`'s, and its headers say what is left after it."""
    api = make_api(user_rate_limit=6, rate_limit=100)
    c = api.client
    answers = [
        c.get("/v1/models", headers=api.alice),
        c.get("/v1/models/orchestratex/fast", headers=api.alice),
        c.get("/v1/models/no-such-model", headers=api.alice),
        c.post("/v1/chat/completions", json={"model": "orchestratex/fast"}, headers=api.alice),  # (no messages)
        c.get("/api/models/", headers=api.alice),
        c.get("/v1/models/", headers=api.alice),
        c.get("/v1/models", headers=api.alice),
    ]
    policy = '"session";q=100;w=60, "user";q=6;w=60'
    assert [_said(r, policy) for r in answers] == [
        (200, '"user";r=5'),
        (200, '"user";r=4'),
        (404, '"user";r=3'),
        (400, '"user";r=2'),
        (200, '"user";r=1'),
        (200, '"user";r=0'),
        (429, '"user";r=0'),
    ]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded" and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _said(c.get("/v1/models", headers=api.bob), policy) == (200, '"user";r=5')  # (another user's count)
    assert "RateLimit" not in c.get("/v1/models").headers  # (401: counted against nobody)


def test_a_v1_call_refused_after_its_session_counted_says_what_is_left_as_on_api(make_api: Callable[..., Api]) -> None:
    """A call refused once counted against its session (by the concurrency limit, the storage quota) carried no
    `RateLimit` headers on `/v1`, while the same refusal on `/api` carries the session's."""
    api = make_api(max_concurrent=1, rate_limit=10, storage_quota_bytes=20_000)
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]  # (the session's first request)
    orchestrator = api.client.app.state.server.orchestrator  # type: ignore[attr-defined]
    in_app_loop(api.client).call(lambda: orchestrator.prepare("held", session=sid))  # pending: holds alice's slot
    chat = {"model": "orchestratex/fast", "messages": PROMPT, "session_id": sid}
    v1 = api.client.post("/v1/chat/completions", json=chat, headers=api.alice)
    rest = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
    policy = '"session";q=10;w=60, "user";q=1000;w=60'
    assert [_said(r, policy) for r in (v1, rest)] == [(429, '"session";r=8'), (429, '"session";r=7')]
    assert v1.json()["error"]["code"] == "rate_limit_exceeded" and v1.headers["Retry-After"] == "1"
    large = {**chat, "messages": [{"role": "user", "content": "x" * 30_000}]}
    too_large = api.client.post("/v1/chat/completions", json=large, headers=api.alice)
    assert _said(too_large, policy) == (413, '"session";r=6')
    assert too_large.json()["error"]["code"] == "storage_quota_exceeded"
