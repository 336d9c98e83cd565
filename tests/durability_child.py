"""Run by test_durability.py in a subprocess that gets SIGKILLed mid-orchestration."""

from __future__ import annotations

import asyncio
import sys

from orchestratex import BayesianRouter, Orchestrator, SimulatedProvider, SQLiteStore


async def main(path: str) -> None:
    store = SQLiteStore(path)
    # a seeded router too: an unseeded one sometimes picked a model that met the threshold at once, and the run
    # ended (5 events) before the test's kill after its fifth event; with these seeds it makes its 3 iterations
    orch = Orchestrator(
        providers=[SimulatedProvider(seed=3, latency_scale=0.3)],
        store=store,
        lease_ttl_s=1.0,
        max_output_tokens=800,
        router=BayesianRouter(seed=0),
    )
    doc = await orch.prepare(
        "Explain how a hash map handles collisions",
        cost_limit=5.0,
        evaluation_threshold=9.99,
        max_iterations=3,
        patience=5,
    )
    print(doc.id, flush=True)
    await orch.drive(doc)
    print("finished", flush=True)


asyncio.run(main(sys.argv[1]))
