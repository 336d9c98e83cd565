"""A server resumes the runs a dead process left, however many of the oldest ones it must leave to an orchestrator of
another kind (runs that began on the offline simulator, for a server given provider keys): its resume pass listed the
100 oldest resumable runs, claimed each, left each again, and never reached those behind them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator, SQLiteStore
from orchestratex.records import Session
from orchestratex.server import ServerSettings, create_app

from ..orchestrator.test_resume_other_kind import DyingSimulator, _Died, real_catalog

_DEAD = [True]
"""Whether the process with provider keys is dead (its calls never return)."""


async def _real(request: GenerationRequest) -> str:
    if _DEAD[0]:
        raise _Died
    return json.dumps({"score": 9.0, "feedback": "ok"}) if request.purpose == "judge" else "Paris."


def _keyed(store: SQLiteStore) -> Orchestrator:
    return Orchestrator(providers=[FunctionProvider(_real)], catalog=real_catalog(), store=store)


async def _left_behind(path: Path) -> str:
    """101 simulated runs (a load test on the simulator, killed), then a real one, each left `running` by its dead
    process; returns the real one's id."""
    async with SQLiteStore(path) as store:
        session = await store.create_session(Session(user_id="alice"))
        demo = Orchestrator(providers=[DyingSimulator(seed=1, latency_scale=0)], store=store)
        for n in range(101):
            with pytest.raises(_Died):
                await demo.run(f"Question {n}?", session=session, max_iterations=1)
        with pytest.raises(_Died):
            await _keyed(store).run("What is the capital of France?", session=session, max_iterations=1)
        (real,) = [o for o in await store.list_orchestrations(session_id=session.id, limit=200) if "France" in o.prompt]
        assert real.status == "running" and len(await store.list_resumable(limit=1000)) == 102
        return real.id


def test_a_real_run_behind_a_hundred_simulated_ones_is_resumed(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    _DEAD[0] = True
    oid = asyncio.run(_left_behind(path))
    _DEAD[0] = False  # (the server has the keys, and its models answer)
    store = SQLiteStore(path)
    # (a pass every 2 s, each done long before the next: one under way would hold the leases of the runs it left,
    # and the next would list past them)
    with TestClient(create_app(orchestrator=_keyed(store), settings=ServerSettings(resume_interval_s=2.0))) as client:
        portal = client.portal
        assert portal is not None
        for _ in range(70):  # (7 s: four passes)
            doc = portal.call(store.get_orchestration, oid)
            if doc.status != "running":
                break
            portal.call(asyncio.sleep, 0.1)
    assert (doc.status, doc.final_response) == ("completed", "Paris."), (
        "the run behind the simulated ones never resumed"
    )
