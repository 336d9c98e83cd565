"""`judging="when_possible"`: an answer paid for that no judge gave a verdict on is returned unjudged, not dropped.

Before, such a run ended `failed` with its answer only in its iteration (the default, `"always"`, still does)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from fastapi.testclient import TestClient

from orchestratex import (
    CircuitPolicy,
    Event,
    FunctionProvider,
    GenerationRequest,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    Router,
    RoutingDecision,
)
from orchestratex.exceptions import ProviderServerError
from orchestratex.routing import Task
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


class InOrder(Router):
    """The first candidate, in the catalog's order: the models that are down are asked before the one that is not."""

    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        return RoutingDecision(model_name=candidates[0].name, reasoning="the first candidate")


def four_models() -> ModelCatalog:
    return ModelCatalog([profile("a", 0.001, 9.0), profile("b", 0.001, 8.0), profile("c", 0.001, 7.0), *d_model()])


def d_model() -> list[ModelProfile]:
    return [profile("d", 0.001, 6.0)]


def only_d_is_up(request: GenerationRequest) -> str:
    """Every model but function:d is down (a 503 past the retries); d answers, and judges with a 9."""
    if request.model.name != "function:d":
        raise ProviderServerError("Service Unavailable", status_code=503)
    return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "2, 3 and 5"


NO_JUDGE_LEFT = "3 models failed in this run and no model is left to judge another's answer"


async def test_the_last_model_up_answers_unjudged_when_no_other_is_left_to_judge_it() -> None:
    """Three models of four down: the fourth was never asked, the run failing with "no model is left to judge another's
    answer" (and nothing to return), though an answer no judge could give a verdict on is what this mode returns."""
    store = MemoryStore()
    asked: list[tuple[str, str]] = []

    def answer(request: GenerationRequest) -> str:
        asked.append((request.model.name, request.purpose))
        return only_d_is_up(request)

    for judging in ("always", "when_needed"):  # as before
        async with Orchestrator(
            providers=[FunctionProvider(answer)],
            catalog=four_models(),
            retry=NO_WAIT,
            router=InOrder(),
            judging=judging,
        ) as orchestrator:
            failed = await orchestrator.run("Name three primes", max_iterations=3)
        assert failed.status == "failed" and failed.orchestration.error is not None
        assert failed.orchestration.error.startswith(NO_JUDGE_LEFT) and failed.orchestration.total_cost == 0
    assert ("function:d", "generate") not in asked

    async with Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=four_models(),
        store=store,
        retry=NO_WAIT,
        router=InOrder(),
        judging="when_possible",
        circuit=CircuitPolicy(failure_threshold=3),  # (one run's retries of a model open its circuit)
    ) as orchestrator:
        result = await orchestrator.run("Name three primes", max_iterations=3, cost_limit=0.01)
        # again: the models down are cooling down now (their circuits open), not asked, and judge no more
        again = await orchestrator.run("Name three primes", max_iterations=3)
    assert again.status == "completed" and again.final_response == "2, 3 and 5" and again.final_score is None
    assert again.orchestration.error == (
        "no model is left to judge function:d's answer: cooling down after repeated failures: function:a, "
        "function:b, function:c"
    )
    doc = result.orchestration
    assert result.status == "completed", doc.error
    assert result.final_response == "2, 3 and 5" and result.final_model == "function:d" and result.final_score is None
    [it] = doc.iterations
    assert it.phase == "evaluated" and it.evaluation is None and it.model_name == "function:d"
    assert doc.stop_reason == "error" and doc.error is not None and doc.error.startswith(NO_JUDGE_LEFT)
    assert it.errors[-1] == f"evaluation: EvaluationError: {doc.error}"
    assert asked[-1] == ("function:d", "generate")  # no judge was asked: none was left
    # the answer is paid and counted, within the budget, with nothing kept for a judging that could not happen
    analytics = await store.session_analytics(doc.session_id)
    assert 0 < doc.total_cost == it.cost <= 0.01 and abs(analytics.total_cost - doc.total_cost) < 1e-12
    session = await store.get_session(doc.session_id)
    assert session.reserved_cost == 0
    events = [e.type for e in await store.list_events(doc.session_id, orchestration_id=doc.id)]
    assert events[-3:] == ["model_selected", "response_generated", "orchestration_completed"]


async def test_no_unjudged_answer_is_bought_once_an_answer_was_judged() -> None:
    """The models that could judge went down after the first answer was judged: a second answer, which no judge could
    judge, would be paid for and never returned (a judged answer is preferred), so none is asked for."""
    down: list[bool] = []
    asked: list[tuple[str, str]] = []

    def answer(request: GenerationRequest) -> str:
        asked.append((request.model.name, request.purpose))
        if down:
            return only_d_is_up(request)
        if request.purpose == "judge":
            down.append(True)  # (from the next call on)
            return json.dumps({"score": 4, "feedback": "name larger ones"})
        return f"the answer of {request.model.name}"

    async with Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=ModelCatalog([profile("a", 0.001, 9.0), profile("b", 0.001, 8.0), *d_model()]),
        retry=NO_WAIT,
        router=InOrder(),
        judging="when_possible",
    ) as orchestrator:
        result = await orchestrator.run("Name three primes", max_iterations=3, evaluation_threshold=8)
    doc = result.orchestration
    assert result.status == "completed" and result.final_response == "the answer of function:a"
    assert result.final_score == 4 and doc.stop_reason == "error" and len(doc.iterations) == 2
    assert doc.error is not None and "no model is left to judge another's answer" in doc.error
    assert ("function:d", "generate") not in asked


async def test_a_prompt_no_judge_can_read_is_answered_unjudged() -> None:
    """Only function:d's window holds the prompt: it was refused before any call ("no judge can read this prompt");
    with this mode the answer is returned unjudged, and "always" refuses it as before."""
    small = [
        ModelProfile(
            name=f"function:{n}",
            input_cost_per_1k=0.001,
            output_cost_per_1k=0.001,
            context_window=4000,
            max_output_tokens=500,
            quality=9.0,
        )
        for n in "ab"
    ]
    prompt = "Summarise: " + "lorem ipsum " * 2000  # about 6,000 tokens

    async with Orchestrator(
        providers=[FunctionProvider(only_d_is_up)],
        catalog=ModelCatalog([*small, *d_model()]),
        retry=NO_WAIT,
        router=InOrder(),
    ) as orchestrator:
        refused = await orchestrator.run(prompt, max_iterations=2)
        assert refused.status == "failed" and refused.orchestration.total_cost == 0
        assert (refused.orchestration.error or "").startswith("no judge can read this prompt")

        orchestrator.judging = "when_possible"
        result = await orchestrator.run(prompt, max_iterations=2)
    doc = result.orchestration
    assert result.status == "completed" and result.final_response == "2, 3 and 5" and result.final_score is None
    assert doc.stop_reason == "error" and doc.error == "no judge's context window holds the prompt and this answer"


def test_a_session_of_the_rest_api_gets_the_last_model_ups_answer() -> None:
    store = MemoryStore()
    orchestrator = Orchestrator(
        providers=[FunctionProvider(only_d_is_up)], catalog=four_models(), store=store, retry=NO_WAIT, router=InOrder()
    )
    with TestClient(create_app(orchestrator=orchestrator, settings=ServerSettings(heartbeat_s=0.2))) as client:
        portal = client.portal
        assert portal is not None
        auth = {"Authorization": f"Bearer {portal.call(issue_api_key, store, 'alice')}"}
        settings = {"judging": "when_possible", "cost_limit": 0.01}
        r = client.post("/api/sessions/", json={"settings": settings}, headers=auth)
        assert r.status_code == 201, r.text
        body = {"session_id": r.json()["_id"], "original_prompt": "Name three primes"}
        tid = client.post("/api/threads/", json=body, headers=auth).json()["_id"]
        start = {"thread_id": tid, "settings": {"max_iterations": 3}}
        oid = client.post("/api/orchestration/start", json=start, headers=auth).json()["_id"]
        for _ in range(1000):
            doc = client.get(f"/api/orchestration/status/{oid}", headers=auth).json()
            if doc["status"] in ("completed", "failed", "cancelled"):
                break
            portal.call(asyncio.sleep, 0.01)
    assert doc["status"] == "completed", doc
    assert doc["final_response"] == "2, 3 and 5" and doc["final_score"] is None and doc["stop_reason"] == "error"
    assert doc["error"].startswith(NO_JUDGE_LEFT)
