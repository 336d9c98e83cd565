"""Run by test_shutdown.py in a subprocess: `asyncio.run` leaves (the program's own error) while runs are in flight;
with a last argument, another connection holds SQLite's write lock that many seconds from before the runs start."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
import time

from orchestratex import (
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    SQLiteStore,
)

CATALOG = ModelCatalog(
    [ModelProfile(name=f"function:{name}", cost_per_1k_tokens=0.001, quality=8.0) for name in ("a", "b", "c")]
)


async def answer(request: GenerationRequest) -> str:
    await asyncio.sleep(0.2)
    return json.dumps({"score": 9.0, "feedback": "fine"}) if request.purpose == "judge" else "an answer"


def hold_write_lock(path: str, seconds: float, held: threading.Event) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(seconds)
    other.execute("COMMIT")
    other.close()


async def main(where: str, runs: int, after_s: float, lock_s: float) -> None:
    store = MemoryStore() if where == "memory" else SQLiteStore(where)
    orchestrator = Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=CATALOG,
        store=store,
        evaluator=LLMJudgeEvaluator(panel_size=1),
        evaluation_threshold=8.5,
        max_iterations=1,
    )
    session = await orchestrator.create_session("alice", cost_limit=10.0)
    print(session.id, flush=True)
    if lock_s:  # the runs' writes wait in the store's worker thread for the lock
        held = threading.Event()
        threading.Thread(target=hold_write_lock, args=(where, lock_s, held), daemon=True).start()
        held.wait()
    pending = [asyncio.create_task(orchestrator.run(f"question {i}", session=session)) for i in range(runs)]
    await asyncio.sleep(after_s)
    del pending
    raise RuntimeError("the program's own error")


asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 0.0))
