"""`judging="when_possible"`: an answer paid for that no judge gave a verdict on is returned unjudged, not dropped.

Before, such a run ended `failed` with its answer only in its iteration (the default, `"always"`, still does)."""

from __future__ import annotations

import asyncio
import json

from fastapi.testclient import TestClient

from orchestratex import (
    Event,
    FunctionProvider,
    GenerationRequest,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)
from orchestratex.server import ServerSettings, create_app, issue_api_key

from ..helpers import NO_WAIT


def profile(name: str, price: float, quality: float) -> ModelProfile:
    return ModelProfile(
        name=f"function:{name}",
        input_cost_per_1k=price,
        output_cost_per_1k=price,
        context_window=100_000,
        max_output_tokens=1000,
        quality=quality,
    )


def models() -> ModelCatalog:
    return ModelCatalog([profile("a", 0.001, 9.0), profile("b", 0.001, 7.0), profile("c", 0.001, 6.0)])


def unparseable_judges(request: GenerationRequest) -> str:
    """Every answer is answered; every judge writes something that is no verdict."""
    if request.purpose == "judge":
        return "I would rather not say."
    return f"the answer of {request.model.name}"


async def test_an_answer_no_judge_gave_a_verdict_on_is_returned_unjudged() -> None:
    store = MemoryStore()
    async with Orchestrator(
        providers=[FunctionProvider(unparseable_judges)], catalog=models(), store=store, retry=NO_WAIT
    ) as orchestrator:
        dropped = await orchestrator.run("Name a prime", max_iterations=3)
        assert dropped.status == "failed" and dropped.final_response is None  # the default, "always": as before

        orchestrator.judging = "when_possible"
        result = await orchestrator.run("Name a prime", max_iterations=3)
    doc = result.orchestration
    assert result.status == "completed", doc.error
    [it] = doc.iterations  # no judge can give a verdict: no refinement could be chosen, the run ends
    assert result.final_response == it.response == f"the answer of {it.model_name}"
    assert result.final_model == it.model_name and result.final_score is None
    assert it.phase == "evaluated" and it.evaluation is None
    assert doc.stop_reason == "error" and doc.error is not None and "no judge produced a verdict" in doc.error
    assert any(e.startswith("evaluation: EvaluationError: no judge produced a verdict") for e in it.errors)
    # every call is counted: the answer and each judge asked
    analytics = await store.session_analytics(doc.session_id)
    assert abs(analytics.total_cost - doc.total_cost) < 1e-12 and doc.total_cost > it.cost > 0
    stored = await store.get_orchestration(doc.id)
    assert stored.status == "completed" and stored.final_response == it.response
    events = [e.type for e in await store.list_events(doc.session_id)]
    assert events[-1] == "orchestration_completed"


async def test_a_judged_answer_is_still_preferred_to_a_later_one_no_judge_took() -> None:
    judged: list[str] = []

    def judges_once(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            if judged:
                return "no verdict today"
            judged.append(request.model.name)
            return json.dumps({"score": 4, "feedback": "too short"})
        return f"the answer of {request.model.name}"

    async with Orchestrator(
        providers=[FunctionProvider(judges_once)], catalog=models(), retry=NO_WAIT, judging="when_possible"
    ) as orchestrator:
        result = await orchestrator.run("Name a prime", max_iterations=3, evaluation_threshold=8)
    first, second = result.orchestration.iterations
    assert result.status == "completed" and first.score == 4 and second.evaluation is None
    assert second.phase == "evaluated" and result.final_response == first.response and result.final_score == 4


async def test_an_answer_whose_judges_no_longer_fit_the_budget_is_returned_unjudged() -> None:
    """The judges' prices were raised in the live catalog while the answer was written: no judge fits what is left
    (stop reason `budget`), and the answer, paid for, is returned."""
    catalog = models()

    def raise_the_judges(event: Event) -> None:
        if event.type == "response_generated":
            for m in list(catalog):
                if m.name != event.model_name:
                    catalog.update(m.name, input_cost_per_1k=50.0, output_cost_per_1k=50.0)

    def answer(request: GenerationRequest) -> str:
        return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "two"

    async with Orchestrator(
        providers=[FunctionProvider(answer)], catalog=catalog, retry=NO_WAIT, judging="when_possible"
    ) as orchestrator:
        result = await orchestrator.run("Name a prime", max_iterations=2, cost_limit=0.05, on_event=raise_the_judges)
    doc = result.orchestration
    assert result.status == "completed" and doc.stop_reason == "budget", doc.error
    assert result.final_response == "two" and result.final_score is None and doc.total_cost <= 0.05


def test_a_session_of_the_rest_api_may_ask_for_it() -> None:
    store = MemoryStore()
    orchestrator = Orchestrator(
        providers=[FunctionProvider(unparseable_judges)], catalog=models(), store=store, retry=NO_WAIT
    )
    with TestClient(create_app(orchestrator=orchestrator, settings=ServerSettings(heartbeat_s=0.2))) as client:
        portal = client.portal
        assert portal is not None
        auth = {"Authorization": f"Bearer {portal.call(issue_api_key, store, 'alice')}"}

        def run(settings: dict[str, object]) -> dict[str, object]:
            r = client.post("/api/sessions/", json={"settings": settings}, headers=auth)
            assert r.status_code == 201, r.text
            assert r.json()["settings"]["judging"] == settings.get("judging")
            body = {"session_id": r.json()["_id"], "original_prompt": "Name a prime"}
            tid = client.post("/api/threads/", json=body, headers=auth).json()["_id"]
            start = {"thread_id": tid, "settings": {"max_iterations": 2}}
            oid = client.post("/api/orchestration/start", json=start, headers=auth).json()["_id"]
            for _ in range(1000):
                doc: dict[str, object] = client.get(f"/api/orchestration/status/{oid}", headers=auth).json()
                if doc["status"] in ("completed", "failed", "cancelled"):
                    return doc
                portal.call(asyncio.sleep, 0.01)
            raise AssertionError("the orchestration did not end")

        assert run({})["status"] == "failed"
        doc = run({"judging": "when_possible"})
        assert doc["status"] == "completed" and doc["final_score"] is None
        assert isinstance(doc["final_response"], str) and doc["final_response"].startswith("the answer of")
