"""A model name a request body gives (`preferred_models`, `judges`) that the catalog does not know is quoted cut in
the 400, as a path's name is in the 404 of `GET /api/models/{name}`: the answer never echoes a 60 KB field."""

from __future__ import annotations

import pytest

from .conftest import Api

LONG = "gpt-" + "x" * 60_000


@pytest.mark.parametrize("field", ["preferred_models", "judges"])
def test_a_session_naming_a_long_unknown_model_gets_a_short_400(api: Api, field: str) -> None:
    r = api.client.post("/api/sessions/", json={"settings": {field: ["gpt4", LONG]}}, headers=api.alice)
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert detail.startswith(
        "unknown model 'gpt-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'… (60004 characters); known models:"
    )
    assert len(r.content) < 5_000
    assert api.client.get("/api/sessions/user/alice", headers=api.alice).json() == []


def test_a_start_naming_a_long_unknown_model_gets_a_short_400(api: Api) -> None:
    tid = api.thread(api.session()["_id"])["_id"]
    body = {"thread_id": tid, "settings": {"preferred_models": [LONG]}}
    r = api.client.post("/api/orchestration/start", json=body, headers=api.alice)
    assert r.status_code == 400, r.text
    assert "… (60004 characters); known models:" in r.json()["detail"]
    assert len(r.content) < 5_000


def test_a_short_unknown_model_is_still_quoted_whole(api: Api) -> None:
    r = api.client.post("/api/sessions/", json={"settings": {"preferred_models": ["gpt-17"]}}, headers=api.alice)
    assert r.status_code == 400
    assert r.json()["detail"].startswith("unknown model 'gpt-17'; known models:")
