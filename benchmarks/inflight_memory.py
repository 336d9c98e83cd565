"""What one orchestration in flight holds, by allocation site (issue 12's memory target).

The peak memory of `concurrency.py`'s 10,000-run section is reached while the runs are all in flight,
not once their results are held: what matters is what a run holds while it waits on a model. This
script starts `--runs` orchestrations of 3 iterations with 2 judges (the same workload, MemoryStore),
holds every one of them at the third iteration's judges, and then, with `tracemalloc`, reports:

- the memory allocated since the start that is still alive, per run in flight;
- the same by source file (or `--by lineno`), largest first;
- the pydantic models alive per run, by class;
- the cyclic garbage at that point: the objects a full collection would free, and their bytes (not the
  interpreter's free lists, which a collection also empties).

    .venv/bin/python benchmarks/inflight_memory.py [--runs 1000] [--by filename|lineno] [--top 20]

tracemalloc counts the bytes Python asked for, not the allocator's own overhead or the free space
left between live objects, so the peak RSS per run is larger than the figure here.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tracemalloc
from collections import Counter

from _args import positive_int
from concurrency import CATALOG, PROMPTS, sleeper
from pydantic import BaseModel

from orchestratex import FunctionProvider, GenerationRequest, LLMJudgeEvaluator, MemoryStore, Orchestrator


def cyclic_garbage() -> tuple[int, int]:
    """The objects a full collection finds unreachable now, and the bytes (tracemalloc) that freeing them frees.

    Not the fall of the traced memory across `gc.collect()`: a full collection also empties the interpreter's
    free lists (floats, tuples, frames, ...), which is memory of no run. So the garbage is kept aside
    (`DEBUG_SAVEALL`), the free lists are emptied by a second collection, and only then is it let go."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        found = gc.collect()
    finally:
        gc.set_debug(0)
    gc.collect()  # the saved garbage is referenced from gc.garbage: this one frees only the free lists
    held = tracemalloc.get_traced_memory()[0]
    gc.garbage.clear()
    gc.collect()  # the garbage's cycles
    return found, held - tracemalloc.get_traced_memory()[0]


async def held(runs: int, by: str, top: int) -> None:
    gate = asyncio.Event()
    waiting = 0
    answer = sleeper(0.0, 3)

    async def provider(request: GenerationRequest) -> str:
        nonlocal waiting
        if request.purpose == "judge" and "attempt 3" in request.messages[-1].content:
            waiting += 1
            await gate.wait()
        return await answer(request)

    orch = Orchestrator(
        providers=[FunctionProvider(provider)],
        catalog=CATALOG,
        store=MemoryStore(),
        evaluator=LLMJudgeEvaluator(panel_size=2),
        evaluation_threshold=8.5,
        max_iterations=3,
    )
    session = await orch.create_session("bench", cost_limit=1e6)
    gate.set()
    await orch.run(PROMPTS[0], session=session, domain="coding")  # lazy imports and caches: not the runs'
    gate.clear()
    waiting = 0
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    tasks = [asyncio.ensure_future(orch.run(PROMPTS[i % 4], session=session, domain="coding")) for i in range(runs)]
    while waiting < 2 * runs:  # every run waits on both judges of its third answer
        await asyncio.sleep(0.05)
    found, garbage_bytes = cyclic_garbage()
    now = tracemalloc.take_snapshot()
    models = Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, BaseModel))
    tracemalloc.stop()
    gate.set()
    results = await asyncio.gather(*tasks)
    assert all(r.status == "completed" and r.iterations == 3 for r in results)
    await orch.aclose()

    stats = now.compare_to(before, by)
    alive = sum(s.size_diff for s in stats)
    print(f"{runs} orchestrations in flight (3 iterations, 2 judges, MemoryStore), each waiting on its third answer's")
    print(f"judges: {alive / runs / 1024:.1f} KB allocated and alive per run (tracemalloc)")
    size = f", {max(garbage_bytes, 0) / runs:.0f} bytes" if found else ""
    print(f"cyclic garbage at that point (what a full collection would free): {found / runs:g} objects{size} per run")
    print(f"\nper run, by {by}:")
    for s in stats[:top]:
        where = s.traceback[0]
        place = where.filename if by == "filename" else f"{where.filename}:{where.lineno}"
        print(f"  {s.size_diff / runs:8.0f} B {s.count_diff / runs:6.1f} objects  {place}")
    shown = {k: v / runs for k, v in models.most_common() if v >= runs / 2}
    print(f"\npydantic models alive per run: {sum(shown.values()):.1f}")
    print("  " + ", ".join(f"{k} {v:g}" for k, v in shown.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=positive_int, default=1000)
    parser.add_argument("--by", choices=("filename", "lineno"), default="filename")
    parser.add_argument("--top", type=positive_int, default=20)
    args = parser.parse_args()
    asyncio.run(held(args.runs, args.by, args.top))


if __name__ == "__main__":
    main()
