"""A session's judges and judging through the REST API (new optional settings)."""

from __future__ import annotations

from .conftest import Api


def test_session_judges_and_judging(api: Api) -> None:
    sid = api.session(settings={"judges": ["gpt-6-luna"], "cost_limit": 1.0})["_id"]
    session = api.client.get(f"/api/sessions/{sid}", headers=api.alice).json()
    assert session["settings"]["judges"] == ["sim:gpt-6-luna"]
    tid = api.thread(sid)["_id"]
    final = api.wait(api.start(tid, settings={"max_iterations": 2, "preferred_models": ["claude-haiku-5-5"]})["_id"])
    assert final["status"] == "completed"
    assert {j for it in final["iterations"] for j in it["evaluation"]["judge_models"]} == {"sim:gpt-6-luna"}

    quick = api.session(settings={"judging": "when_needed"})["_id"]
    final = api.wait(api.start(api.thread(quick)["_id"], settings={"max_iterations": 1})["_id"])
    assert final["status"] == "completed" and final["final_score"] is None
    assert final["iterations"][0]["evaluation"] is None and final["final_response"]


def test_unknown_judge_or_judging_is_refused(api: Api) -> None:
    r = api.client.post("/api/sessions/", json={"settings": {"judges": ["gpt-17"]}}, headers=api.alice)
    assert r.status_code == 400 and "gpt-17" in r.text  # as an unknown preferred model
    r = api.client.post("/api/sessions/", json={"settings": {"judging": "never"}}, headers=api.alice)
    assert r.status_code == 422
