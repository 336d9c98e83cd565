"""An orchestration killed with SIGKILL mid-run is resumed by the next process, from its last step."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestratex import Orchestrator, SimulatedProvider, SQLiteStore
from orchestratex.usage import add_costs

CHILD = Path(__file__).with_name("durability_child.py")


async def _event_types(path: Path, session_id: str | None) -> list[str]:
    async with SQLiteStore(path) as store:
        if session_id is None:
            return []
        return [e.type for e in await store.list_events(session_id)]


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [2, 3, 5])
async def test_sigkill_mid_run_then_resume(tmp_path: Path, kill_after: int) -> None:
    db = tmp_path / "durable.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, str(CHILD), str(db)], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    oid = child.stdout.readline().strip()
    assert len(oid) == 24, f"child did not start: {oid!r}"
    async with SQLiteStore(db) as store:
        session_id = (await store.get_orchestration(oid)).session_id
        deadline = time.monotonic() + 30
        while len(await store.list_events(session_id)) < kill_after:
            assert time.monotonic() < deadline, "the child made no progress"
            assert child.poll() is None, "the child finished before it could be killed"
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # let the child reserve and start the next call (each takes 0.2 s or more)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    before = await _event_types(db, session_id)
    assert before[-1] not in ("orchestration_completed", "orchestration_failed")

    await asyncio.sleep(1.1)  # the dead process's lease expires
    store = SQLiteStore(db)
    # (the resuming process's own lease need not be short: a loaded runner's pause of its event loop past a 1 s lease,
    # during its run, is test_lease_lapse.py's case)
    orch = Orchestrator(providers=[SimulatedProvider(seed=3, latency_scale=0)], store=store, lease_ttl_s=30.0)
    results = await orch.resume_pending()
    assert [r.id for r in results] == [oid]
    result = results[0]
    assert result.status == "completed"

    events = await store.list_events(session_id)
    types = [e.type for e in events]
    assert types[: len(before)] == before  # nothing stored before the crash was lost or rewritten
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert types.count("orchestration_started") == 1
    assert types[-1] == "orchestration_completed"
    doc = result.orchestration
    if kill_after == 2:  # killed while the first generation was in flight: its reservation was released
        assert doc.interrupted_calls == 1
    for it in doc.iterations:  # each iteration selected, answered and judged exactly once
        mine = [e for e in events if getattr(e, "iteration", None) == it.index]
        assert [e.type for e in mine] == ["model_selected", "response_generated", "evaluation_completed"]

    # cost counted once: the session, the orchestration and the saved calls agree
    expected = add_costs(
        *(it.cost for it in doc.iterations), *(it.evaluation.cost for it in doc.iterations if it.evaluation)
    )
    assert doc.total_cost == expected
    session = await store.get_session(session_id)
    assert session.total_cost == expected
    assert session.reserved_cost == 0
    analytics = await store.session_analytics(session_id)
    assert analytics.total_cost == pytest.approx(expected, abs=1e-9)
    await store.close()
