"""A request's `domain` is a name: one over 100 characters is refused, on `/api` and `/v1`, before anything is stored
(it would otherwise be stored with every thread and orchestration, outside the user's storage quota)."""

from __future__ import annotations

from .conftest import Api


def test_a_thread_refuses_a_domain_over_100_characters_and_stores_nothing(api: Api) -> None:
    sid = api.session()["_id"]
    body = {"session_id": sid, "original_prompt": "Summarise the contract", "domain": "x" * 5_000_000}
    r = api.client.post("/api/threads/", json=body, headers=api.alice)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("domain: a domain is a name of at most 100 characters, not 5000000")
    assert len(r.content) < 2000  # (the name is not echoed)
    assert api.client.get(f"/api/threads/session/{sid}", headers=api.alice).json() == []
    kept = api.thread(sid, domain="  " + "d" * 100 + "  ")  # (100 once its surrounding spaces are gone)
    assert kept["domain"] == "d" * 100


def test_v1_refuses_a_domain_over_100_characters(api: Api) -> None:
    body = {
        "model": "orchestratex/fast",
        "messages": [{"role": "user", "content": "Summarise the contract"}],
        "domain": "y" * 101,
    }
    r = api.client.post("/v1/chat/completions", json=body, headers=api.alice)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == "domain" and "at most 100 characters, not 101" in error["message"]
