"""Orchestration API: background runs, status, session settings, budget, tenant isolation."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.records import Orchestration
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore
from orchestratex.usage import add_costs

from .conftest import Api, bearer, in_app_loop


def test_start_answers_202_pending_then_the_run_completes(api: Api) -> None:
    sid = api.session(max_iterations=3)["_id"]
    tid = api.thread(sid)["_id"]
    doc = api.start(
        tid,
        prompt="Write a Python function to calculate fibonacci numbers",
        settings={"max_iterations": 2, "evaluation_threshold": 9.9},
    )
    assert doc["status"] == "pending"
    assert doc["thread_id"] == tid and doc["session_id"] == sid
    assert doc["prompt"] == "Write a Python function to calculate fibonacci numbers"
    assert doc["settings"]["max_iterations"] == 2
    assert doc["settings"]["evaluation_threshold"] == 9.9
    final = api.wait(doc["_id"])
    assert final["status"] == "completed"
    assert 1 <= len(final["iterations"]) <= 2
    it = final["iterations"][0]
    assert it["response"] and it["usage"]["output_tokens"] > 0 and it["cost"] > 0
    assert it["evaluation"]["score"] >= 0
    assert final["final_response"] and final["final_score"] is not None and final["final_model"]
    assert final["total_cost"] > 0


def test_the_prompt_defaults_to_the_thread_prompt(api: Api) -> None:
    tid = api.thread(api.session()["_id"], original_prompt="Prove that sqrt(2) is irrational")["_id"]
    assert api.start(tid)["prompt"] == "Prove that sqrt(2) is irrational"


def test_session_settings_apply_to_its_orchestrations(api: Api) -> None:
    session = api.session(max_iterations=2, settings={"preferred_models": ["gpt4"]})
    tid = api.thread(session["_id"])["_id"]
    doc = api.start(tid, settings={"evaluation_threshold": 10})
    assert doc["settings"]["max_iterations"] == 2
    assert doc["settings"]["preferred_models"] == session["settings"]["preferred_models"]
    final = api.wait(doc["_id"])
    assert len(final["iterations"]) <= 2
    assert {it["model_name"] for it in final["iterations"]} == set(session["settings"]["preferred_models"])


def test_total_cost_is_exact_across_orchestrations(api: Api) -> None:
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    finals = [api.wait(api.start(tid, settings={"max_iterations": 2})["_id"]) for _ in range(3)]
    session = api.client.get(f"/api/sessions/{sid}", headers=api.alice).json()
    assert session["total_cost"] == add_costs(*(f["total_cost"] for f in finals))
    for final in finals:
        parts = [it["cost"] for it in final["iterations"]]
        parts += [it["evaluation"]["cost"] for it in final["iterations"] if it["evaluation"]]
        assert final["total_cost"] == add_costs(*parts)


def test_the_session_budget_is_never_exceeded(api: Api) -> None:
    sid = api.session(settings={"cost_limit": 0.001})["_id"]
    tid = api.thread(sid)["_id"]
    finals, refused = [], []
    for _ in range(3):  # (a start once what is left pays for no judged call answers 409: nothing is run)
        r = api.client.post(
            "/api/orchestration/start",
            json={"thread_id": tid, "settings": {"evaluation_threshold": 10}},
            headers=api.alice,
        )
        if r.status_code == 409:
            refused.append(r.json()["detail"])
            continue
        assert r.status_code == 202, r.text
        finals.append(api.wait(r.json()["_id"]))
    session = api.client.get(f"/api/sessions/{sid}", headers=api.alice).json()
    assert session["total_cost"] <= 0.001
    assert "budget" in {f["stop_reason"] for f in finals} or refused, (finals, refused)


def test_no_orchestration_in_a_session_that_is_not_active(api: Api) -> None:
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    for status in ("paused", "cancelled"):
        api.client.patch(f"/api/sessions/{sid}/status", json={"status": status}, headers=api.alice)
        r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
        assert r.status_code == 409
        assert r.json()["detail"].endswith(f"is {status}: orchestrations start only in an active session")


def test_bad_start_requests(api: Api) -> None:
    tid = api.thread(api.session()["_id"])["_id"]
    r = api.client.post(
        "/api/orchestration/start",
        json={"thread_id": tid, "settings": {"preferred_models": ["nope"]}},
        headers=api.alice,
    )
    assert r.status_code == 400 and "unknown model 'nope'" in r.json()["detail"]
    r = api.client.post(
        "/api/orchestration/start", json={"thread_id": tid, "settings": {"evaluation_threshold": 11}}, headers=api.alice
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("settings.evaluation_threshold:")
    r = api.client.post("/api/orchestration/start", json={"thread_id": "0" * 24}, headers=api.alice)
    assert r.status_code == 404 and r.json()["detail"] == f"no thread {'0' * 24!r}"


def test_orchestrations_of_other_users_answer_404(api: Api) -> None:
    tid = api.thread(api.session()["_id"])["_id"]
    oid = api.start(tid)["_id"]
    r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.bob)
    assert r.status_code == 404
    r = api.client.get(f"/api/orchestration/status/{oid}", headers=api.bob)
    assert r.status_code == 404
    assert r.json() == {"detail": f"no orchestration {oid!r}", "status_code": 404}
    assert api.client.get(f"/api/orchestration/status/{oid}", headers=api.admin).status_code == 200
    api.wait(oid)


def test_status_shows_progress_while_running(make_api: Callable[..., Api]) -> None:
    api = make_api(env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.02"}, rate_limit=100_000)
    tid = api.thread(api.session()["_id"])["_id"]
    oid = api.start(tid, settings={"max_iterations": 3, "evaluation_threshold": 10})["_id"]
    seen: list[tuple[str, int]] = []
    while True:
        doc = api.client.get(f"/api/orchestration/status/{oid}", headers=api.alice).json()
        seen.append((doc["status"], len(doc["iterations"])))
        if doc["status"] not in ("pending", "running"):
            break
        time.sleep(0.01)
    assert doc["status"] == "completed"
    running = [n for status, n in seen if status == "running"]
    assert running, seen
    assert running == sorted(running)  # iterations only ever grow
    assert len(doc["iterations"]) >= max(running)


def test_a_start_in_a_session_with_no_budget_is_refused_409_not_run_to_fail(api: Api) -> None:
    # a session with `"cost_limit": 0` (a budget of nothing; sent, say, as "no limit"): each start answered 202, then
    # its run failed `budget` without a call ("no model's worst-case cost fits the $0.000000 left")
    session = api.session(settings={"cost_limit": 0})
    tid = api.thread(session["_id"])["_id"]
    r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == (
        f"session {session['_id']} has a cost_limit of $0, a budget of nothing (not 'no limit': a session without one"
        " leaves cost_limit out): no orchestration can spend anything in it; start it in a session with a budget"
    )
    assert "RateLimit" in r.headers  # (counted, as every 409 of a session is)
    analytics = api.client.get(f"/api/analytics/session/{session['_id']}", headers=api.alice).json()
    assert analytics["orchestrations"] == 0  # nothing was stored
    # a session whose spending has reached its limit: the same, with what it spent
    spent = api.session(settings={"cost_limit": 0.001})
    tid = api.thread(spent["_id"])["_id"]
    in_app_loop(api.client).call(_spend, api, tid, 0.001)
    r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == (
        f"session {spent['_id']} has spent its whole budget ($0.001000 of its cost_limit $0.001000): nothing is left"
        " for an orchestration; start it in a new session"
    )
    # a session with budget left still starts
    assert api.start(api.thread(api.session(settings={"cost_limit": 0.001})["_id"])["_id"])["status"] == "pending"


def test_a_start_whose_own_cost_limit_is_0_is_refused_409_not_run_to_fail(api: Api) -> None:
    # `"settings": {"cost_limit": 0}` on the start (sent, say, as "no limit"): answered 202, then its run failed
    # `budget` without a call, as a start in a session with a cost_limit of 0 did before it answered 409
    session = api.session(settings={"cost_limit": 10.0})
    tid = api.thread(session["_id"])["_id"]
    for zero in (0, 0.0, -0.0):
        r = api.client.post(
            "/api/orchestration/start", json={"thread_id": tid, "settings": {"cost_limit": zero}}, headers=api.alice
        )
        assert r.status_code == 409, r.text
        assert r.json()["detail"] == (
            "settings.cost_limit is $0, a budget of nothing for this orchestration (not 'no limit': leave cost_limit"
            " out for the session's budget alone): it could not spend anything; give it a budget, or leave it out"
        )
    analytics = api.client.get(f"/api/analytics/session/{session['_id']}", headers=api.alice).json()
    assert analytics["orchestrations"] == 0  # nothing was stored
    # in a session with nothing left, the session's reason is the one given
    spent = api.session(settings={"cost_limit": 0})
    r = api.client.post(
        "/api/orchestration/start",
        json={"thread_id": api.thread(spent["_id"])["_id"], "settings": {"cost_limit": 0}},
        headers=api.alice,
    )
    assert r.status_code == 409 and r.json()["detail"].startswith(f"session {spent['_id']} has a cost_limit of $0")
    # a budget of its own, however small, is the run's to decide
    assert api.start(tid, settings={"cost_limit": 0.001})["status"] == "pending"


async def _spend(api: Api, thread_id: str, amount: float) -> None:
    """`amount` spent in the thread's session, by a run (stored, then its commit adding what it spent)."""
    thread = await api.store.get_thread(thread_id)
    doc = Orchestration(thread_id=thread.id, session_id=thread.session_id, user_id=thread.user_id, prompt="Hi")
    await api.store.create_orchestration(doc)
    doc.status = "completed"
    await api.store.commit(doc, spent=amount)


def test_a_session_with_no_budget_still_runs_free_models() -> None:
    # a free model (a local one, priced 0) spends nothing: a start with no budget left is the run's to decide
    catalog = ModelCatalog(
        [ModelProfile(name=f"sim:local-{n}", cost_per_1k_tokens=0, context_window=32_768) for n in ("a", "b")]
    )
    store = MemoryStore()
    with TestClient(create_app(store, orchestrator=Orchestrator(store=store, catalog=catalog))) as client:
        key = in_app_loop(client).call(issue_api_key, store, "alice")
        api = Api(client, store, bearer(key), {}, {}, {"alice": key})
        tid = api.thread(api.session(max_iterations=1, settings={"cost_limit": 0})["_id"])["_id"]
        final = api.wait(api.start(tid)["_id"])
        assert (final["status"], final["total_cost"]) == ("completed", 0.0)
        # and so is a start whose own cost_limit is 0, in a session with a budget
        tid = api.thread(api.session(max_iterations=1)["_id"])["_id"]
        final = api.wait(api.start(tid, settings={"cost_limit": 0})["_id"])
        assert (final["status"], final["total_cost"]) == ("completed", 0.0)


def test_a_start_whose_budget_pays_for_no_call_is_refused_409_not_run_to_fail(api: Api) -> None:
    # a session with $0.00001 left of its cost_limit (or a start's own cost_limit that small): answered 202, then its
    # run failed `budget` without a call ("no model's worst-case cost (with judging) fits the $0.000010 left")
    session = api.session(settings={"cost_limit": 0.00001})
    tid = api.thread(session["_id"])["_id"]
    r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert detail.startswith(
        f"session {session['_id']} has $0.000010 left of its cost_limit $0.000010: less than any model's shortest"
        " answer worth asking for costs ($0.0"
    ), detail
    assert detail.endswith(
        " tokens and its judging, its prompt not counted), so no call of an orchestration would fit it; start it in a"
        " new session"
    ), detail
    tid = api.thread(api.session(settings={"cost_limit": 1.0})["_id"])["_id"]
    r = api.client.post(
        "/api/orchestration/start", json={"thread_id": tid, "settings": {"cost_limit": 1e-9}}, headers=api.alice
    )
    assert r.status_code == 409, r.text
    assert r.json()["detail"].startswith(
        "settings.cost_limit is $0.000000001: less than any model's shortest answer worth asking for costs ($0.0"
    ), r.text
    assert r.json()["detail"].endswith(
        " not counted), so no call of this orchestration would fit it; give it a larger budget, or leave cost_limit out"
    )
    analytics = api.client.get("/api/analytics/user/alice", headers=api.alice).json()
    assert analytics["orchestrations"] == 0  # nothing was stored
    # a budget that pays for a call is the run's to decide (its prompt and judging may still not fit)
    assert api.start(tid, settings={"cost_limit": 0.01})["status"] == "pending"


def test_a_start_whose_budget_pays_for_an_answer_but_not_its_judging_is_refused_409(api: Api) -> None:
    # $0.0002 with the simulator pays for the cheapest model's shortest answer, not for the judging the run keeps for
    # it (about $0.00037 together): answered 202, then its run failed `budget` without a call ("no model's worst-case
    # cost (with judging) fits the $0.000200 left")
    tid = api.thread(api.session(settings={"cost_limit": 1.0})["_id"])["_id"]
    r = api.client.post(
        "/api/orchestration/start", json={"thread_id": tid, "settings": {"cost_limit": 0.0002}}, headers=api.alice
    )
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert detail.startswith(
        "settings.cost_limit is $0.000200: less than any model's shortest answer worth asking for costs ($0.000"
    ), detail
    assert " tokens and its judging, its prompt not counted), so no call of this orchestration" in detail, detail
    assert api.client.get("/api/analytics/user/alice", headers=api.alice).json()["orchestrations"] == 0
    least = float(detail.split("costs ($", 1)[1].split(",", 1)[0])
    assert 0.0002 < least < 0.001
    # what the message names (and a little more, for the prompt it leaves out) pays for a judged call: the run makes it
    final = api.wait(api.start(tid, settings={"cost_limit": round(least * 1.5, 6), "max_iterations": 1})["_id"])
    assert final["iterations"] and final["iterations"][0]["evaluation"] is not None, final
    assert final["total_cost"] <= round(least * 1.5, 6)
