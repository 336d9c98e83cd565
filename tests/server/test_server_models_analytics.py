"""Models API (catalog + live statistics) and Analytics API (store-side aggregates), with tenant isolation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from orchestratex.stores import ModelStats, SQLiteStore

from .conftest import Api


class _Watched(SQLiteStore):
    """A SQLite store that counts its statistics reads in flight at once."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reading = self.most = self.reads = 0

    async def model_stats(self, model_name: str) -> ModelStats:
        self.reading += 1
        self.most, self.reads = max(self.most, self.reading), self.reads + 1
        try:
            return await super().model_stats(model_name)
        finally:
            self.reading -= 1


def test_list_models(api: Api) -> None:
    r = api.client.get("/api/models/", headers=api.alice)
    assert r.status_code == 200
    models = r.json()
    assert len(models) >= 3
    for m in models:
        assert {"name", "provider", "version", "specialties", "cost_per_1k_tokens", "context_window", "status"} <= set(
            m
        )
        assert m["status"] == "active" and m["circuit"] == "closed"
        assert m["stats"]["requests"] == 0
    gpt4 = next(m for m in models if "gpt4" in m["aliases"])
    assert gpt4["provider"] == "sim"  # no provider key in tests: the simulated catalog


def test_the_models_list_reads_the_statistics_side_by_side_and_answers_each_models_own(
    make_api: Callable[..., Api], tmp_path: Path
) -> None:
    # Before: the list read each model's statistics from the store one after another (22 round trips for the shipped
    # catalog, each waiting for the last); they are read side by side now, each model with its own
    store = _Watched(tmp_path / "models.db")
    api = make_api(store)
    sid = api.session(settings={"preferred_models": ["gpt4"]})["_id"]
    final = api.wait(api.start(api.thread(sid, domain="coding")["_id"], settings={"max_iterations": 2})["_id"])
    store.most = store.reads = 0
    listed = api.client.get("/api/models/", headers=api.alice).json()
    assert store.reads == len(listed) >= 20 and store.most > 1
    one = [api.client.get(f"/api/models/{m['name']}", headers=api.alice).json() for m in listed]
    assert listed == one
    used = {it["model_name"] for it in final["iterations"]}
    assert used and {m["name"] for m in listed if m["stats"]["requests"]} >= used  # (each model its own figures)


def test_the_models_list_asked_with_a_filter_is_refused_not_answered_whole(api: Api) -> None:
    """`?provider=openai` or `?status=active` answered every model, as if filtered: a client taking the answer for the
    active models would route to models whose circuit was open."""
    for query in ("provider=openai", "status=active"):
        r = api.client.get(f"/api/models/?{query}", headers=api.alice)
        name = query.split("=")[0]
        assert (r.status_code, r.json()["detail"]) == (
            422,
            f"{name}: not a query parameter of the models list, which takes none: it lists every model",
        )
    assert api.client.get("/api/models/?_=1733500000000", headers=api.alice).status_code == 200


def test_get_model_by_alias_with_live_statistics(api: Api) -> None:
    sid = api.session(settings={"preferred_models": ["gpt4"]})["_id"]
    final = api.wait(api.start(api.thread(sid, domain="coding")["_id"])["_id"])
    r = api.client.get("/api/models/gpt4", headers=api.alice)
    assert r.status_code == 200
    model = r.json()
    assert model["name"] == final["final_model"]
    assert api.client.get(f"/api/models/{model['name']}", headers=api.alice).json()["name"] == model["name"]
    stats = model["stats"]
    assert stats["requests"] == len(final["iterations"])
    assert stats["error_rate"] == 0.0
    assert stats["latency_p50_ms"] is not None and stats["latency_p95_ms"] >= stats["latency_p50_ms"]
    assert set(stats["mean_score_by_domain"]) == {"coding"}


def test_unknown_model_answers_404(api: Api) -> None:
    r = api.client.get("/api/models/gpt-17", headers=api.alice)
    assert r.status_code == 404
    assert r.json()["detail"].startswith("unknown model 'gpt-17'")


def test_models_need_a_key(api: Api) -> None:
    assert api.client.get("/api/models/").status_code == 401


def test_session_and_user_analytics(api: Api) -> None:
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    finals = [api.wait(api.start(tid, settings={"max_iterations": 2})["_id"]) for _ in range(2)]
    r = api.client.get(f"/api/analytics/session/{sid}", headers=api.alice)
    assert r.status_code == 200
    session = r.json()
    assert session["scope"] == "session" and session["scope_id"] == sid
    assert session["orchestrations"] == 2 and session["threads"] == 1
    assert session["by_status"] == {"completed": 2}
    assert session["total_cost"] == api.client.get(f"/api/sessions/{sid}", headers=api.alice).json()["total_cost"]
    assert session["total_iterations"] == sum(len(f["iterations"]) for f in finals)
    assert session["models"] and session["domains"]
    api.session()
    user = api.client.get("/api/analytics/user/alice", headers=api.alice).json()
    assert user["scope"] == "user" and user["sessions"] == 2 and user["orchestrations"] == 2


def test_analytics_asked_for_a_period_or_a_domain_are_refused_not_answered_for_everything(api: Api) -> None:
    """`?from=2026-11-01&to=2026-11-30` (last month's spend) or `?domain=coding` answered the figures of the whole
    history, as if they were of the part asked for."""
    sid = api.session()["_id"]
    for path, scope in ((f"/api/analytics/session/{sid}", "session"), ("/api/analytics/user/alice", "user")):
        for query in ("from=2026-11-01&to=2026-11-30", "domain=coding"):
            r = api.client.get(f"{path}?{query}", headers=api.alice)
            name = query.split("=")[0]
            assert (r.status_code, r.json()["detail"]) == (
                422,
                f"{name}: not a query parameter of the analytics, which take none: they cover every orchestration of"
                f" the {scope}",
            )
        assert api.client.get(f"{path}?_=1733500000000", headers=api.alice).status_code == 200


def test_analytics_of_other_users_answer_404(api: Api) -> None:
    sid = api.session()["_id"]
    assert api.client.get(f"/api/analytics/session/{sid}", headers=api.bob).status_code == 404
    r = api.client.get("/api/analytics/user/alice", headers=api.bob)
    assert r.status_code == 404
    assert r.json() == {"detail": "no user 'alice'", "status_code": 404}
    assert api.client.get("/api/analytics/user/alice", headers=api.admin).json()["sessions"] == 1
    assert api.client.get(f"/api/analytics/session/{sid}", headers=api.admin).status_code == 200


def test_models_do_not_show_other_users_domain_names(api: Api) -> None:
    """The statistics count every user's calls: a domain of one's own (a name bob chose) is not shown to alice."""
    sid = api.session(api.bob)["_id"]
    tid = api.thread(sid, api.bob, domain="bob-acquisition-of-acme")["_id"]
    api.wait(api.start(tid, api.bob, settings={"max_iterations": 1})["_id"], api.bob)
    coding = api.session(api.bob)["_id"]
    api.wait(api.start(api.thread(coding, api.bob, domain="coding")["_id"], api.bob)["_id"], api.bob)

    def domains(who: dict[str, str]) -> set[str]:
        listed = api.client.get("/api/models/", headers=who).json()
        one = [api.client.get(f"/api/models/{m['name']}", headers=who).json() for m in listed]
        assert [m["stats"] for m in one] == [m["stats"] for m in listed]
        return {d for m in listed for d in m["stats"]["mean_score_by_domain"]}

    assert "bob-acquisition-of-acme" in domains(api.admin)
    for who in (api.alice, api.bob):
        assert domains(who) == {"coding"}
