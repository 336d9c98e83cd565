"""A FittedRouter whose models are none of the catalog's says so once (logger `orchestratex.routing`), naming its
models and the candidates, instead of falling back to the catalog's best model in silence."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import UserError
from orchestratex.lab import OutcomeTable
from orchestratex.routing.fitted import FittedRouter
from orchestratex.stores import MemoryStore


def fitted_on(models: tuple[str, ...]) -> FittedRouter:
    table = OutcomeTable(
        name="elsewhere",
        models=models,
        prompts=("Write a function", "Sort a list", "Explain a proof"),
        quality=np.array([[0.2, 0.9], [0.3, 0.8], [0.1, 0.9]]),
        cost=np.full((3, 2), 0.001),
        tasks=("coding",) * 3,
    )
    return FittedRouter(alpha=1.0).fit(table)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "orchestratex.routing" and r.levelno == logging.WARNING]


async def test_a_router_that_knows_no_catalog_model_warns_once_through_a_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    caplog.set_level(logging.WARNING, "orchestratex.routing")
    router = fitted_on(("gpt-from-a-paper", "another-paper-model"))
    async with Orchestrator(max_iterations=2, router=router) as orchestrator:
        catalog = [m.name for m in orchestrator.usable_models(None)]
        first = await orchestrator.run("Write a Python function that reverses a list", domain="coding")
        [message] = warnings_of(caplog)
        await orchestrator.run("Sort a list of numbers", domain="coding")
    assert len(warnings_of(caplog)) == 1  # once per router, not once per decision
    assert first.orchestration.final_response is not None  # the run still answers, from the catalog's best
    assert "fitted on ['gpt-from-a-paper', 'another-paper-model']" in message
    assert "none of the candidates" in message and all(name in message for name in catalog)
    chosen = first.orchestration.iterations[0].model_name
    assert f"best catalog quality ({chosen})" in message
    assert "fit it on outcomes of the catalog's models" in message


async def test_a_router_that_knows_a_catalog_model_says_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    caplog.set_level(logging.WARNING, "orchestratex.routing")
    async with Orchestrator(max_iterations=1) as orchestrator:
        names = [m.name for m in orchestrator.usable_models(None)][:2]
        orchestrator.router = fitted_on((names[0], names[1]))
        await orchestrator.run("Write a Python function that reverses a list", domain="coding")
    assert warnings_of(caplog) == []


async def test_an_unfitted_router_is_refused_before_any_run_is_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: the run started, the orchestrator logged "failed unexpectedly" with a traceback, stored the run as
    # failed and raised a RuntimeError from inside the run loop.
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    store = MemoryStore()
    orchestrator = Orchestrator(max_iterations=2, router=FittedRouter(), store=store)
    with pytest.raises(UserError, match=r"this FittedRouter is not fitted: call fit\(table\) or FittedRouter.load"):
        await orchestrator.run("Write a Python function that reverses a list")
    assert await store.list_orchestrations() == []
    await orchestrator.aclose()


async def test_a_loaded_router_routes_a_running_orchestrator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    async with Orchestrator(max_iterations=2) as probe:
        names = tuple(m.name for m in probe.usable_models(None))[:2]
    path = fitted_on(names).save(tmp_path / "router.npz")
    async with Orchestrator(max_iterations=1, router=FittedRouter.load(path)) as orchestrator:
        result = await orchestrator.run("Write a Python function that reverses a list", domain="coding")
    assert result.orchestration.status == "completed"
    assert [it.model_name for it in result.orchestration.iterations] == [names[1]]  # the table's better model


async def test_one_model_behind_two_endpoints_is_priced_at_each_endpoints_price() -> None:
    """A catalog serving the table's `llama` from two endpoints (`dear:llama` at $0.01 per 1k, `cheap:llama` at
    $0.0001): the router priced both candidates at one price (the last one read), so it saw a tie and sent the
    run to the endpoint 100 times dearer (or, the other way round, priced the cheap one out). Each candidate is
    now priced at its own."""
    import json

    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile

    n = 60
    table = OutcomeTable(
        name="mine",
        models=("llama", "big"),
        prompts=tuple(f"question {i}" for i in range(n)),
        quality=np.tile([0.8, 0.9], (n, 1)),
        cost=np.tile([0.001, 0.01], (n, 1)),
    )
    fitted_prices = [
        ModelProfile(name="lab:llama", input_cost_per_1k=0.001, output_cost_per_1k=0.001),
        ModelProfile(name="lab:big", input_cost_per_1k=0.01, output_cost_per_1k=0.01),
    ]
    router = FittedRouter(cost_weight=20, text=False).fit(table, profiles=fitted_prices)

    async def fn(request: GenerationRequest) -> str:
        return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "An answer."

    catalog = ModelCatalog(
        [
            ModelProfile(name="dear:llama", input_cost_per_1k=0.01, output_cost_per_1k=0.01),
            ModelProfile(name="cheap:llama", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001),
            ModelProfile(name="x:big", input_cost_per_1k=0.01, output_cost_per_1k=0.01),
            ModelProfile(name="x:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, judge_only=True),
        ]
    )
    providers = [FunctionProvider(fn, name=name) for name in ("dear", "cheap", "x")]
    async with Orchestrator(providers=providers, catalog=catalog, router=router, store=MemoryStore()) as orchestrator:
        result = await orchestrator.run("question 3", max_iterations=1)
    decision = next(e for e in result.events if e.type == "model_selected")
    assert result.final_model == "cheap:llama", decision.reasoning
    assert decision.scores["cheap:llama"] > decision.scores["dear:llama"]


async def test_a_model_added_to_the_live_catalog_that_the_router_cannot_choose_is_named_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before: a model added to the catalog while the orchestrator ran (docs/catalog.md: "a new model takes effect on
    the next routing decision") was never chosen by a FittedRouter not fitted on it, without a word."""
    import json

    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile

    def answer(request: GenerationRequest) -> str:
        return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "An answer."

    def model(name: str, **kwargs: object) -> ModelProfile:
        return ModelProfile(name=f"function:{name}", input_cost_per_1k=0.001, output_cost_per_1k=0.001, **kwargs)  # type: ignore[arg-type]

    caplog.set_level(logging.WARNING, "orchestratex.routing")
    catalog = ModelCatalog([model("a"), model("b"), model("judge", judge_only=True)])
    router = fitted_on(("function:a", "function:b"))
    async with Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog, router=router) as orchestrator:
        await orchestrator.run("Write a function", domain="coding", max_iterations=1)
        assert warnings_of(caplog) == []  # the catalog it was given: nothing to say
        catalog.add(model("c", quality=9.9, specialties=("coding",)))
        runs = [await orchestrator.run("Write a function", domain="coding", max_iterations=1) for _ in range(2)]
    [message] = warnings_of(caplog)  # once, not at every decision
    assert message.startswith("['function:c'] is offered to this FittedRouter since its first decision, but it was")
    assert "it never chooses it; fit it on outcomes that include it" in message
    assert all(r.orchestration.iterations[0].model_name != "function:c" for r in runs)


async def test_a_router_that_knows_no_catalog_model_does_not_re_ask_a_rejected_model(tmp_path: Path) -> None:
    """Before: a saved router fitted on models the catalog does not have (a paper's) answered every attempt of a run
    with the catalog's best prior, so a run whose answers the judges rejected asked that one model three times (with
    the simulator, `sim:claude-opus-5-5` scored 9.3, 9.2, 9.2 at a threshold of 9.9) and never another."""
    import json

    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 3, "feedback": "not yet"})  # every answer rejected
        return f"an answer by {request.model.name}"

    catalog = ModelCatalog(
        [
            *(
                ModelProfile(name=f"function:m{q}", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=q)
                for q in (6.0, 8.0, 7.0, 5.0)
            ),
            ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, judge_only=True),
        ]
    )
    path = fitted_on(("gpt-from-a-paper", "another-paper-model")).save(tmp_path / "router.npz")
    async with Orchestrator(
        catalog=catalog, providers=[FunctionProvider(answer)], router=FittedRouter.load(path), max_iterations=3
    ) as orchestrator:
        result = await orchestrator.run("Write a Python function that reverses a list", domain="coding")
    asked = [it.model_name for it in result.orchestration.iterations]
    assert asked == ["function:m8.0", "function:m7.0", "function:m6.0"], asked  # the best prior not yet rejected
