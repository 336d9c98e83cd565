"""A body naming a field the route does not have is refused with 422 naming it; a field named by a 60,000-character key
is named cut, as the answers cut long ids and model names, not echoed whole (twice: in `detail` and in `errors`)."""

from __future__ import annotations

from .conftest import Api


def test_an_unknown_field_with_a_long_name_is_named_cut(api: Api) -> None:
    name = "k" * 60_000
    r = api.client.post("/api/sessions/", json={"settings": {name: 1}}, headers=api.alice)
    assert r.status_code == 422, r.text
    body = r.json()
    shown = "k" * 40 + "… (60000 characters)"
    assert body["detail"] == f"settings.{shown}: Extra inputs are not permitted"
    assert body["errors"] == [
        {"loc": ["body", "settings", shown], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]
    assert len(r.content) < 1_000
    assert api.client.get("/api/sessions/user/alice", headers=api.alice).json() == []


def test_an_unknown_field_with_a_short_name_is_named_whole(api: Api) -> None:
    r = api.client.post("/api/sessions/", json={"cost_limit": 1}, headers=api.alice)
    assert r.status_code == 422
    assert r.json()["detail"] == "cost_limit: Extra inputs are not permitted"
    assert r.json()["errors"][0]["loc"] == ["body", "cost_limit"]
