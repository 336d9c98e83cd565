"""A model picked for an iteration whose provider the orchestrator no longer has when the call is due: a run resumed
by a process without that provider (a server restarted without one of its keys), or a provider taken out of
`orchestrator.providers` while the run went on. Another model answers, as for a model the catalog disabled."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from orchestratex import (
    BayesianRouter,
    FunctionProvider,
    GenerationRequest,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    SQLiteStore,
)
from orchestratex.events import Event, ModelSelected

from ..helpers import NO_WAIT


def two_providers_catalog() -> ModelCatalog:
    return ModelCatalog(
        ModelProfile(name=name, input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=quality)
        for name, quality in (("one:a", 9.0), ("two:b", 7.0), ("two:c", 7.0))
    )


def answering(name: str, gate: asyncio.Event | None = None, asked: asyncio.Event | None = None) -> FunctionProvider:
    async def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 6, "feedback": "say more"})
        if asked is not None and gate is not None:
            asked.set()
            await gate.wait()  # (never set: the run is suspended while its model answers)
        return f"an answer by {request.model.name}"

    return FunctionProvider(fn, name=name)


@pytest.mark.parametrize("cost_limit", [None, 0.05])
async def test_a_run_resumed_without_its_models_provider_falls_back(tmp_path: Path, cost_limit: float | None) -> None:
    # the run was resumed, its iteration's model picked and not yet called, by a process configured without that
    # model's provider: it ended `failed`, "ProviderNotConfigured: model one:a needs provider 'one', which is not
    # configured: set ONE_API_KEY", though the other provider's models could answer and judge
    path = tmp_path / "runs.db"
    gate, asked = asyncio.Event(), asyncio.Event()
    first = Orchestrator(
        providers=[answering("one", gate, asked), answering("two")],
        catalog=two_providers_catalog(),
        store=SQLiteStore(path),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),  # (one:a, the best, first)
    )
    async with first:
        doc = await first.prepare("Say something true.", max_iterations=2, cost_limit=cost_limit)
        task = first.start(doc)
        await asyncio.wait_for(asked.wait(), 10)
        assert (await first.store.get_orchestration(doc.id)).iterations[-1].model_name == "one:a"
        assert await first.suspend(doc.id)
        with pytest.raises(asyncio.CancelledError):
            await task
    second = Orchestrator(
        providers=[answering("two")], catalog=two_providers_catalog(), store=SQLiteStore(path), retry=NO_WAIT
    )
    async with second:
        (result,) = await second.resume_pending()
        session = await second.store.get_session(result.orchestration.session_id)
    assert result.status == "completed", result.error
    first_iteration = result.orchestration.iterations[0]
    assert first_iteration.model_name.startswith("two:")
    assert first_iteration.errors == [
        "one:a: ProviderNotConfigured: model one:a needs provider 'one', which is not configured: set ONE_API_KEY"
    ]
    assert all(it.model_name.startswith("two:") for it in result.orchestration.iterations)
    assert session.reserved_cost == 0
    assert session.total_cost == pytest.approx(result.total_cost)


async def test_a_provider_taken_out_after_its_model_was_picked_is_not_called(tmp_path: Path) -> None:
    one, two = answering("one"), answering("two")
    orchestrator = Orchestrator(
        providers=[one, two],
        catalog=two_providers_catalog(),
        store=SQLiteStore(tmp_path / "runs.db"),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),  # (one:a, the best, first)
    )

    def take_out_one(event: Event) -> None:
        if event.type == "model_selected" and event.model_name == "one:a":
            orchestrator.providers = [two]

    async with orchestrator:
        result = await orchestrator.run("Say something true.", max_iterations=1, cost_limit=0.05, on_event=take_out_one)
        session = await orchestrator.store.get_session(result.orchestration.session_id)
    assert result.status == "completed", result.error
    (it,) = result.orchestration.iterations
    assert [e.model_name for e in result.events if isinstance(e, ModelSelected)] == ["one:a", it.model_name]
    assert it.model_name.startswith("two:") and it.response == f"an answer by {it.model_name}"
    assert it.errors[0].startswith("one:a: ProviderNotConfigured: ")
    assert session.reserved_cost == 0
