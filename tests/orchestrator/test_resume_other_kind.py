"""A run that began on the offline simulator's models is not resumed by an orchestrator with real models, nor a real
run by one with only the simulator's: a server given provider keys resumed a run detached from the demo with real,
paid calls (each step fell back from the simulated models it did not know to a real one), and one without keys
finished a real run with the simulator's answers. Each is left for an orchestrator of its own kind, which resumes it."""

from __future__ import annotations

import json
import logging

import pytest

from orchestratex import (
    FunctionProvider,
    Generation,
    GenerationRequest,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    SimulatedProvider,
)
from orchestratex.exceptions import Conflict
from orchestratex.records import Session


class _Died(BaseException):
    """The process dies while a call is in flight: nothing after it runs (a SIGKILL, in one process)."""


class DyingSimulator(SimulatedProvider):
    async def generate(self, request: GenerationRequest) -> Generation:
        raise _Died


def real_catalog() -> ModelCatalog:
    return ModelCatalog(
        [
            ModelProfile(name="function:a", cost_per_1k_tokens=0.001, quality=8.0),
            ModelProfile(name="function:b", cost_per_1k_tokens=0.001, quality=7.0),
        ]
    )


async def test_a_simulated_run_is_left_for_the_simulator_and_a_real_one_for_real_models(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    paid: list[str] = []
    dead = False

    async def real(request: GenerationRequest) -> str:
        if dead:
            raise _Died
        paid.append(request.model.name)
        return json.dumps({"score": 9.0, "feedback": "ok"}) if request.purpose == "judge" else "Paris."

    def simulated() -> Orchestrator:
        return Orchestrator(providers=[SimulatedProvider(seed=1, latency_scale=0)], store=store)

    def with_keys() -> Orchestrator:
        return Orchestrator(providers=[FunctionProvider(real)], catalog=real_catalog(), store=store)

    await store.open()
    session = await store.create_session(Session(user_id="alice"))
    demo = Orchestrator(providers=[DyingSimulator(seed=1, latency_scale=0)], store=store)
    assert demo.simulated
    with pytest.raises(_Died):
        await demo.run("What is the capital of France?", session=session, max_iterations=1)
    dead = True
    with pytest.raises(_Died):
        await with_keys().run("What is the capital of Italy?", session=session, max_iterations=1)
    dead = False
    sim_run, real_run = [o.id for o in await store.list_orchestrations(session_id=session.id)]

    keyed = with_keys()
    caplog.set_level(logging.WARNING, logger="orchestratex.orchestrator")
    [result] = await keyed.resume_pending()  # (the real run, on the real models)
    assert result.orchestration.id == real_run and result.status == "completed"
    assert await keyed.resume_pending() == []  # (the server's resume comes back at every round: said once)
    assert set(paid) <= {"function:a", "function:b"} and paid
    paid.clear()
    with pytest.raises(Conflict, match="began on the offline simulator's models and this orchestrator calls real"):
        await keyed.drive(sim_run)
    assert paid == []  # (no paid call for the demo's run)
    said = [r.getMessage() for r in caplog.records if sim_run in r.getMessage()]
    assert len(said) == 1 and "not resumed here" in said[0]
    assert (await store.get_orchestration(sim_run)).status == "running"  # (left as it was, for the simulator)

    [result] = await simulated().resume_pending()
    assert result.orchestration.id == sim_run and result.status == "completed"
    assert all(it.model_name.startswith("sim:") for it in result.orchestration.iterations)


async def test_a_real_run_is_not_finished_by_the_simulator() -> None:
    store = MemoryStore()
    dead = True

    async def real(request: GenerationRequest) -> str:
        if dead:
            raise _Died
        return json.dumps({"score": 9.0, "feedback": "ok"}) if request.purpose == "judge" else "Paris."

    await store.open()
    session = await store.create_session(Session(user_id="alice"))
    with pytest.raises(_Died):
        await Orchestrator(providers=[FunctionProvider(real)], catalog=real_catalog(), store=store).run(
            "What is the capital of France?", session=session, max_iterations=1
        )
    simulator = Orchestrator(providers=[SimulatedProvider(seed=1, latency_scale=0)], store=store)
    assert await simulator.resume_pending() == []
    assert await simulator.resume_pending() == []  # (a second round on the same orchestrator)
    (doc,) = await store.list_orchestrations(session_id=session.id)
    with pytest.raises(Conflict, match="began on real models and this orchestrator has only the offline simulator"):
        await simulator.drive(doc.id)
    dead = False
    [result] = await Orchestrator(
        providers=[FunctionProvider(real)], catalog=real_catalog(), store=store
    ).resume_pending()
    assert result.status == "completed" and result.final_response == "Paris."


async def test_resume_pending_reaches_a_run_behind_more_runs_of_the_other_kind_than_its_limit() -> None:
    """The oldest runs, of the other kind, were listed first at every round: `resume_pending(limit=2)` behind two of
    them resumed nothing, however often it was called (the server's pass, 100 at a time, behind 100 of them)."""
    store = MemoryStore()
    dead = True

    async def real(request: GenerationRequest) -> str:
        if dead:
            raise _Died
        return json.dumps({"score": 9.0, "feedback": "ok"}) if request.purpose == "judge" else "Paris."

    await store.open()
    session = await store.create_session(Session(user_id="alice"))
    demo = Orchestrator(providers=[DyingSimulator(seed=1, latency_scale=0)], store=store)
    for n in range(3):
        with pytest.raises(_Died):
            await demo.run(f"Question {n}?", session=session, max_iterations=1)
    keyed = Orchestrator(providers=[FunctionProvider(real)], catalog=real_catalog(), store=store)
    with pytest.raises(_Died):
        await keyed.run("What is the capital of France?", session=session, max_iterations=1)
    dead = False
    assert await keyed.resume_pending(limit=2) == []  # (the two oldest: the simulator's)
    [result] = await keyed.resume_pending(limit=2)  # (past them: the third, left again, and the real one)
    assert result.status == "completed" and result.final_response == "Paris."
    assert await keyed.resume_pending(limit=2) == []
    keyed.providers = [SimulatedProvider(seed=1, latency_scale=0)]  # (now of the simulator's kind: it resumes them)
    assert len(await keyed.resume_pending(limit=10)) == 3
