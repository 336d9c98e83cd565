"""A running orchestrator routes on the catalog as it is now: prices, statuses and new models."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestratex import (
    BayesianRouter,
    Event,
    FunctionProvider,
    GenerationRequest,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)
from orchestratex.exceptions import ConfigurationError
from orchestratex.server import ServerSettings, create_app, issue_api_key

from ..helpers import NO_WAIT


def profile(name: str, price: float, quality: float) -> ModelProfile:
    return ModelProfile(name=f"function:{name}", input_cost_per_1k=price, output_cost_per_1k=price, quality=quality)


class Calls:
    """A provider that answers everything and counts the calls each model got, by purpose."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.provider = FunctionProvider(self.answer)

    def answer(self, request: GenerationRequest) -> str:
        self.calls[(request.model.name, request.purpose)] += 1
        if request.purpose == "judge":
            return json.dumps({"score": 8, "feedback": "fine"})
        return "an answer"

    def reset(self) -> Counter[tuple[str, str]]:
        calls, self.calls = self.calls, Counter()
        return calls


async def picks(orch: Orchestrator, n: int) -> Counter[str]:
    chosen: Counter[str] = Counter()
    for i in range(n):
        result = await orch.run(f"Question number {i}: what is {i} + {i}?", max_iterations=1)
        assert result.status == "completed", result.orchestration.error
        chosen[result.final_model or ""] += 1
    return chosen


async def test_price_status_and_new_models_reach_the_next_decision() -> None:
    catalog = ModelCatalog([profile("a", 0.001, 8.5), profile("b", 0.001, 7.8), profile("c", 0.001, 7.5)])
    calls = Calls()
    orch = Orchestrator(
        providers=[calls.provider],
        catalog=catalog,
        router=BayesianRouter(seed=7),
        retry=NO_WAIT,
        evaluation_threshold=7,
    )
    before = await picks(orch, 100)
    top, _ = before.most_common(1)[0]
    assert top == "function:a"

    old = catalog.get(top)
    catalog.update(
        top, input_cost_per_1k=20 * (old.input_cost_per_1k or 0), output_cost_per_1k=20 * (old.output_cost_per_1k or 0)
    )
    after = await picks(orch, 300)
    assert after[top] / 300 <= 0.05, after

    calls.reset()
    catalog.set_status("function:b", "disabled")
    await picks(orch, 50)
    assert not any(name == "function:b" for name, _ in calls.reset())  # neither to answer nor to judge

    catalog.add(profile("d", 0.0001, 9.5))
    newcomer = await picks(orch, 50)
    assert newcomer["function:d"] >= 40, newcomer


def test_a_catalog_file_changed_under_a_running_server(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"

    def write(text: str) -> None:
        before = path.stat().st_mtime_ns if path.exists() else 0
        path.write_text(text)
        os.utime(path, ns=(before + 10_000_000, before + 10_000_000))

    entry = '[[models]]\nname = "function:{}"\ninput_cost_per_1k = {}\noutput_cost_per_1k = {}\nquality = {}\n\n'
    write(entry.format("a", 0.001, 0.001, 8.5) + entry.format("b", 0.001, 0.001, 7.5))
    calls = Calls()
    store = MemoryStore()
    orch = Orchestrator(
        providers=[calls.provider],
        catalog=ModelCatalog.from_file(path, watch=True, interval=0),
        router=BayesianRouter(explore=False),
        store=store,
        retry=NO_WAIT,
    )
    app = create_app(orchestrator=orch, settings=ServerSettings(heartbeat_s=0.2))
    with TestClient(app) as client:
        portal = client.portal
        assert portal is not None
        key = portal.call(issue_api_key, store, "alice")
        auth = {"Authorization": f"Bearer {key}"}

        def run() -> str:
            sid = client.post("/api/sessions/", json={}, headers=auth).json()["_id"]
            body = {"session_id": sid, "original_prompt": "Write a haiku about the sea"}
            tid = client.post("/api/threads/", json=body, headers=auth).json()["_id"]
            start = {"thread_id": tid, "settings": {"max_iterations": 1, "evaluation_threshold": 5}}
            oid = client.post("/api/orchestration/start", json=start, headers=auth).json()["_id"]
            for _ in range(500):
                doc = client.get(f"/api/orchestration/status/{oid}", headers=auth).json()
                if doc["status"] in ("completed", "failed", "cancelled"):
                    return str(doc["final_model"])
                portal.call(_pause)
            raise AssertionError("the orchestration did not end")

        assert run() == "function:a"
        write(
            entry.format("a", 0.02, 0.02, 8.5)
            + entry.format("b", 0.001, 0.001, 7.5)
            + entry.format("c", 0.0001, 0.0001, 9.0)
        )
        models = {m["name"]: m for m in client.get("/api/models/", headers=auth).json()}
        assert models["function:a"]["input_cost_per_1k"] == 0.02
        assert models["function:a"]["cost_per_1k_tokens"] == 0.02
        assert "function:c" in models
        assert run() == "function:c"
        write(
            entry.format("a", 0.001, 0.001, 8.5)
            + 'status = "disabled"\n\n'
            + entry.format("b", 0.001, 0.001, 7.5)
            + entry.format("judge", 0.00001, 0.00001, 9.9)
            + "judge_only = true\n"
        )
        models = {m["name"]: m for m in client.get("/api/models/", headers=auth).json()}
        assert "function:c" not in models and models["function:a"]["status"] == "disabled"
        calls.reset()
        assert run() == "function:b"  # the judge-only model judges, never answers
        assert calls.reset() == {("function:b", "generate"): 1, ("function:judge", "judge"): 1}


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.01)


@pytest.mark.parametrize("when", ["model_selected", "response_generated"])
def test_a_model_removed_mid_run_after_it_was_picked_keeps_its_answer(when: str) -> None:
    catalog = ModelCatalog([profile("big", 0.001, 9.5), profile("mid", 0.001, 7), profile("small", 0.001, 6)])
    calls = Calls()
    removed: list[str] = []

    def remove_the_pick(event: Event) -> None:
        if event.type == when and not removed:
            removed.append(event.model_name)  # type: ignore[union-attr]
            catalog.remove(event.model_name)  # type: ignore[union-attr]

    with Orchestrator(
        providers=[calls.provider], catalog=catalog, router=BayesianRouter(explore=False), retry=NO_WAIT
    ) as orch:
        result = orch.run_sync("Write a haiku", max_iterations=2, evaluation_threshold=9.9, on_event=remove_the_pick)
    assert removed == ["function:big"]
    assert result.status == "completed", result.orchestration.error
    answers = [it.model_name for it in result.orchestration.iterations]
    assert answers[0] == "function:big" and result.orchestration.iterations[0].response == "an answer"
    assert "function:big" not in answers[1:]  # no candidate from the next decision on
    assert calls.calls[("function:big", "judge")] == 0  # nor a judge


def test_a_watched_file_edited_mid_run_to_drop_the_picked_model(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    entry = '[[models]]\nname = "function:{}"\ncost_per_1k_tokens = 0.001\nquality = {}\n'
    path.write_text(
        "include_default = false\n" + entry.format("big", 9.5) + entry.format("mid", 7) + entry.format("small", 6)
    )
    catalog = ModelCatalog.from_file(path, watch=True, interval=0)

    def edit(event: Event) -> None:
        if event.type == "model_selected" and "big" in path.read_text():
            before = path.stat().st_mtime_ns
            path.write_text("include_default = false\n" + entry.format("mid", 7) + entry.format("small", 6))
            os.utime(path, ns=(before + 10_000_000, before + 10_000_000))

    calls = Calls()
    with Orchestrator(
        providers=[calls.provider], catalog=catalog, router=BayesianRouter(explore=False), retry=NO_WAIT
    ) as orch:
        result = orch.run_sync("Write a haiku", max_iterations=2, evaluation_threshold=9.9, on_event=edit)
    assert result.status == "completed", result.orchestration.error
    assert result.orchestration.iterations[0].model_name == "function:big"
    assert "function:big" not in catalog


async def test_a_price_raised_after_the_call_was_reserved_does_not_bill_past_the_budget() -> None:
    """The generation's worst case is reserved with the commit of its selection; a price raised then (by a handler of
    `model_selected`, or a watched file) billed the call at the new price: $0.119 spent of a $0.05 budget, recorded as
    the provider's overage and the model excluded. The call is made and billed at the prices it was reserved at."""
    catalog = ModelCatalog([profile("a", 0.001, 9.0), profile("b", 0.001, 7.0)])
    orch = Orchestrator(providers=[Calls().provider], catalog=catalog, retry=NO_WAIT, store=MemoryStore())

    def dearer(event: Event) -> None:
        if event.type == "model_selected":
            catalog.update(event.model_name, input_cost_per_1k=1.0, output_cost_per_1k=2.0)

    session = await orch.create_session(cost_limit=0.05)
    result = await orch.run("hello", session=session, on_event=dearer, max_iterations=1)
    assert result.status == "completed" and result.orchestration.overage_cost == 0
    (it,) = result.orchestration.iterations
    assert it.errors == [] and it.cost == pytest.approx(it.usage.input_tokens * 1e-6 + it.usage.output_tokens * 1e-6)
    stored = await orch.store.get_session(session.id)
    assert stored.total_cost <= 0.05 and stored.reserved_cost == 0


@pytest.mark.parametrize("step", ["generate", "judge"])
async def test_a_resumed_run_whose_picked_model_left_the_catalog_goes_on(step: str) -> None:
    """A server stopped gracefully (its runs suspended) restarts with a catalog that no longer lists a model a run
    had picked: the run used to end `failed` with `UnknownModelError` when resumed, losing the answer it had paid
    for. Picked but not yet answered, another model now answers; answered, its answer is judged and kept."""
    import asyncio

    profiles = [profile("big", 0.001, 9.5), profile("mid", 0.001, 7), profile("small", 0.001, 6)]
    in_flight = asyncio.Event()

    async def stalls(request: GenerationRequest) -> str:
        if request.purpose == step:
            in_flight.set()
            await asyncio.Event().wait()  # (until the run is suspended)
        return "an answer"

    store = MemoryStore()
    before = Orchestrator(
        providers=[FunctionProvider(stalls)],
        catalog=ModelCatalog(profiles),
        store=store,
        router=BayesianRouter(explore=False),
        retry=NO_WAIT,
    )
    doc = await before.prepare("Write a haiku", max_iterations=2, evaluation_threshold=8, cost_limit=1.0)
    before.start(doc.id)
    await in_flight.wait()
    assert await before.suspend(doc.id)
    await before.aclose()

    calls = Calls()
    after = Orchestrator(
        providers=[calls.provider],
        catalog=ModelCatalog(profiles[1:]),
        store=store,
        router=BayesianRouter(explore=False),
    )
    [result] = await after.resume_pending()
    await after.aclose()
    assert result.status == "completed", result.orchestration.error
    [it] = result.orchestration.iterations
    assert it.response == "an answer" and it.score == 8
    if step == "generate":  # the pick was never called: another model answered the iteration
        assert it.model_name == "function:mid"
        [error] = it.errors
        assert error.startswith("function:big: UnknownModelError: unknown model 'function:big'")
        assert calls.calls[("function:mid", "generate")] == 1
    else:  # the answer was paid for: kept, and judged by a model of the catalog
        assert it.model_name == "function:big" and it.errors == []
        assert sum(n for (_, purpose), n in calls.calls.items() if purpose == "generate") == 0
    assert all(name != "function:big" for name, _ in calls.calls)


@pytest.mark.parametrize("cost_limit", [None, 1.0])  # (with a budget, the call was reserved with the selection)
def test_a_model_disabled_after_it_was_picked_gets_no_call(cost_limit: float | None) -> None:
    """`disabled` means no further call. A model disabled between its selection and its call (by a handler of
    `model_selected`, a watched catalog file, another thread) was called all the same; another model now answers."""
    catalog = ModelCatalog([profile("big", 0.001, 9.5), profile("mid", 0.001, 7), profile("small", 0.001, 6)])
    calls = Calls()

    def disable_the_pick(event: Event) -> None:
        if event.type == "model_selected" and catalog.get("function:big").status != "disabled":
            catalog.set_status(event.model_name, "disabled")

    with Orchestrator(
        providers=[calls.provider], catalog=catalog, router=BayesianRouter(explore=False), retry=NO_WAIT
    ) as orch:
        result = orch.run_sync("Write a haiku", max_iterations=1, cost_limit=cost_limit, on_event=disable_the_pick)
    assert result.status == "completed", result.orchestration.error
    [it] = result.orchestration.iterations
    assert it.errors == [
        "function:big: ConfigurationError: function:big was disabled in the catalog after it was picked: not called"
    ]
    assert it.model_name != "function:big" and it.response == "an answer"
    assert not [key for key in calls.calls if key[0] == "function:big"]  # neither answered nor judged
    assert result.total_cost == pytest.approx(it.cost + (it.evaluation.cost if it.evaluation else 0.0))


async def test_a_model_left_without_a_judge_by_disabling_the_others_is_told_to_enable_one() -> None:
    """Before: with the other models of the catalog disabled while the orchestrator ran (one left active), the next
    run was refused with "Add a judge: configure a second provider (e.g. set ANTHROPIC_API_KEY …), add a second
    model to your catalog file", sending the user after keys and files for models they have, merely disabled."""

    def answer(request: GenerationRequest) -> str:
        return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "An answer."

    catalog = ModelCatalog([profile("a", 0.001, 8.0), profile("b", 0.001, 7.0), profile("c", 0.002, 7.5)])
    async with Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog, retry=NO_WAIT) as orchestrator:
        assert (await orchestrator.run("Hello", max_iterations=1)).status == "completed"
        catalog.set_status("function:b", "disabled")
        catalog.set_status("function:c", "disabled")
        with pytest.raises(ConfigurationError) as refused:
            await orchestrator.run("Hello", max_iterations=1)
        message = refused.value.message
        assert message.startswith("no model can judge the answers of function:a: a judge must be another model")
        assert "disabled (function:b, function:c)" in message and "Enable one to judge" in message
        assert "configure a second provider" not in message
        catalog.set_status("function:c", "active")
        assert (await orchestrator.run("Hello", max_iterations=1)).status == "completed"


async def test_a_model_disabled_while_its_call_waited_for_the_budget_gets_no_call() -> None:
    """A run waiting for the budget its session's other run held (up to `reservation_wait_s`) called its model once
    the budget was free, though the model had been disabled meanwhile: "a disabled model gets no further call" held
    only until the wait began. It now falls back (here to nothing: the run fails and says why), the model uncalled."""
    calls: list[tuple[str, str, str]] = []
    release = asyncio.Event()
    catalog = ModelCatalog(
        [
            ModelProfile(
                name=f"function:{n}",
                input_cost_per_1k=0.001,
                output_cost_per_1k=0.001,
                max_output_tokens=1000,
                context_window=8000,
                quality=q,
            )
            for n, q in (("a", 9.0), ("j", 5.0))
        ]
    )

    async def answer(request: GenerationRequest) -> str:
        calls.append((request.model.name, request.purpose, catalog.get(request.model.name).status))
        if request.purpose == "judge":
            return json.dumps({"score": 9, "feedback": "ok"})
        if len(calls) == 1:
            await release.wait()  # the first run holds most of the session's budget while its model answers
        return "an answer"

    store = MemoryStore()
    o = Orchestrator(
        providers=[FunctionProvider(answer)], catalog=catalog, store=store, judges=["function:j"], reservation_wait_s=30
    )
    async with o:
        session = await o.create_session("u", cost_limit=0.01)
        options = {"session": session, "max_iterations": 1, "preferred_models": ["function:a"]}
        first = asyncio.create_task(o.run("first", **options))  # type: ignore[arg-type]
        while not calls:
            await asyncio.sleep(0.01)
        second = asyncio.create_task(o.run("second", **options))  # type: ignore[arg-type]
        while True:  # the second run has picked function:a; then its call waits for the first run's reservation
            runs = await store.list_orchestrations(session_id=session.id)
            if len(runs) == 2 and all(r.iterations for r in runs):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # (the second run's call reaches its wait: nothing else to do until a release)
        catalog.set_status("function:a", "disabled")
        release.set()
        done, refused = await asyncio.gather(first, second)
    assert done.status == "completed"
    assert ("function:a", "generate", "disabled") not in calls
    assert refused.status == "failed"
    assert "function:a was disabled in the catalog while its call waited: not called" in (
        refused.orchestration.error or ""
    )
