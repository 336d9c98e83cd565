"""Many concurrent orchestrations with simulated latency: wall time against the critical path,
and peak memory per in-flight orchestration.

Each orchestration runs against the offline simulator (real sleeps: `latency_scale` times the
simulated latency) with a MemoryStore. Its critical path is the sum of its sequential call
latencies (a generation, then its judges — concurrent judges count once, as the slowest); with
many orchestrations in flight the run cannot finish before the longest critical path, so

    ratio = wall time / longest critical path

is the orchestrator's (and the event loop's) cost on top of the unavoidable waiting.

    .venv/bin/python benchmarks/concurrency.py [--sizes 1,1000,10000] [--latency-scale 1.0]

Targets (issue 2): ratio <= 1.05 for one orchestration, <= 1.25 at 1,000 concurrent; 10,000
concurrent under 2 GB peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import time

from orchestratex import MemoryStore, Orchestrator, RunResult, SimulatedProvider

PROMPTS = [
    "Write a Python function to calculate fibonacci numbers",
    "Explain how a hash map handles collisions",
    "Summarise the causes of the French revolution",
    "Solve 3x + 5 = 20 and explain each step",
]


def critical_path_s(result: RunResult, scale: float) -> float:
    total_ms = 0.0
    for it in result.orchestration.iterations:
        total_ms += it.latency_ms
        if it.evaluation is not None:
            total_ms += max((v.latency_ms for v in it.evaluation.verdicts), default=0.0)
    return total_ms * scale / 1000


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(n: int, scale: float) -> None:
    gc.collect()
    before = rss_mb()
    orch = Orchestrator(providers=[SimulatedProvider(seed=11, latency_scale=scale)], store=MemoryStore())
    session = await orch.create_session("bench")
    start = time.perf_counter()
    results = await asyncio.gather(
        *(orch.run(PROMPTS[i % len(PROMPTS)], session=session, max_iterations=3) for i in range(n))
    )
    wall = time.perf_counter() - start
    peak = rss_mb()
    longest = max(critical_path_s(r, scale) for r in results)
    calls = sum(len(r.orchestration.iterations) * 2 for r in results)
    failed = sum(r.status != "completed" for r in results)
    print(
        f"{n:>6} concurrent: wall {wall:7.2f} s, longest critical path {longest:6.2f} s, ratio {wall / longest:5.2f}, "
        f"{calls} model calls, {failed} failed; peak RSS {peak:7.1f} MB "
        f"(+{peak - before:.1f} MB, {(peak - before) * 1024 / n:.1f} KB per in-flight orchestration)"
    )
    await orch.aclose()


async def main(sizes: list[int], scale: float) -> None:
    print(f"latency_scale {scale}: simulated call latencies of about 0.5-3 s, times {scale}")
    for n in sizes:
        await measure(n, scale)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,1000,10000")
    parser.add_argument("--latency-scale", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.latency_scale))
