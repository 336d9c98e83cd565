"""Many concurrent orchestrations: wall time against the critical path of the model latencies, and peak memory.

1. **Fixed latency, both stores.** 1,000 concurrent single-iteration orchestrations in one process,
   every model call taking exactly 50 ms, then 1 s (a `FunctionProvider` that sleeps: one generation,
   then one judge, so the critical path is 2 x the latency), with a MemoryStore and a SQLiteStore.
   `ratio = wall / critical path` is what the orchestrator, the store and the event loop add on
   top of the unavoidable waiting. A `bare loop` line first makes the same calls from as many plain
   tasks, with nothing around them: the floor in one process on this machine, and what the target
   leaves each orchestration above it (CPU time, since the runs take turns on one core).
2. **Peak memory.** 10,000 concurrent orchestrations of 3 iterations with 2 judges each (scores 5, 6,
   then 9; every call sleeps 1 s, so all are in flight together), MemoryStore, in a fresh subprocess
   whose peak RSS (`VmHWM`, else `ru_maxrss`) is reported.
3. **The simulator** (what the original script measured): concurrent orchestrations against
   `SimulatedProvider` with its simulated latencies (0.5–3 s per call, times `--latency-scale`);
   the ratio is wall over the longest critical path recorded in the results.

    .venv/bin/python benchmarks/concurrency.py [--quick] [--concurrent 1000] [--latencies 0.05,1]
                                               [--rss-orchestrations 10000] [--sizes 1,1000]
                                               [--gc-full-every N]

Each line of sections 1 and 2 says how long the cyclic garbage collector paused the run, and section 1 when
each of its full collections came (seconds after the runs started) and how long it paused. With many
orchestrations in flight its full collections (which walk every tracked object) dominate; `--gc-full-every N`
runs everything with `gc.set_threshold(700, 10, N)` (Python's default is 10: a full collection at most every
10 middle-generation ones), the setting docs/performance.md discusses.

`--quick` (tens of seconds) runs 1,000 at 50 ms only, the memory run with 2,000 orchestrations, and
the simulator with one orchestration; a flag given with it keeps its value.

Targets (issue 12): 1,000 concurrent at 50 ms per call, wall <= 1.5x the critical path on both stores;
at 1 s per call <= 1.1x; 10,000 concurrent of 3 iterations with 2 judges, peak RSS <= 500 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from _args import (
    default_help,
    fill_defaults,
    non_negative_int,
    positive_float,
    positive_floats,
    positive_int,
    positive_ints,
    run_child,
)

from orchestratex import (
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    MemoryStore,
    Message,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    RunResult,
    SimulatedProvider,
    SQLiteStore,
    Store,
)

PROMPTS = [
    "Write a Python function to calculate fibonacci numbers",
    "Explain how a hash map handles collisions",
    "Summarise the causes of the French revolution",
    "Solve 3x + 5 = 20 and explain each step",
]
CATALOG = ModelCatalog(
    [
        ModelProfile(name="function:a", cost_per_1k_tokens=0.001, quality=8.0),
        ModelProfile(name="function:b", cost_per_1k_tokens=0.001, quality=7.8),
        ModelProfile(name="function:c", cost_per_1k_tokens=0.001, quality=7.6),
    ]
)
_ATTEMPT = re.compile(r"answer attempt (\d+)")


class GCPauses:
    """Seconds the cyclic garbage collector paused this process while the block ran, and its full collections:
    when each began (after `began`) and how long it paused. With up to 3 full collections each is
    shown: at 1 s per call a full collection delays what happens around it (docs/performance.md)."""

    def __init__(self) -> None:
        self.seconds, self._start = 0.0, 0.0
        self.fulls: list[tuple[float, float]] = []
        """(when it began, seconds paused) of each full collection (`perf_counter`)."""
        self.began = 0.0
        """What the full collections are timed from: the block's start, or the workload's when it says."""

    @property
    def full(self) -> int:
        return len(self.fulls)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            paused = time.perf_counter() - self._start
            self.seconds += paused
            if info["generation"] == 2:
                self.fulls.append((self._start, paused))

    def __enter__(self) -> GCPauses:
        self.began = time.perf_counter()
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def __str__(self) -> str:
        fulls = f"{self.full} full"
        if 0 < self.full <= 3:
            fulls += ": " + ", ".join(
                f"at {at - self.began:.2f} s for {paused * 1000:.0f} ms" for at, paused in self.fulls
            )
        return f"GC paused {self.seconds:.2f} s ({fulls})"


def sleeper(
    latency_s: float, iterations: int, first_calls: list[float] | None = None
) -> Callable[[GenerationRequest], Coroutine[Any, Any, str]]:
    """Every call sleeps `latency_s`; judges score attempts 5, 6, … and the last allowed one 9. With
    `first_calls`, the `perf_counter` of each run's first call is appended to it."""
    scores = {i: 5.0 + (i - 1) for i in range(1, iterations)} | {iterations: 9.0}

    async def answer(request: GenerationRequest) -> str:
        found = _ATTEMPT.findall(request.messages[-1].content)
        if first_calls is not None and request.purpose == "generate" and not found:
            first_calls.append(time.perf_counter())
        await asyncio.sleep(latency_s)
        attempt = int(found[-1]) if found else 0
        if request.purpose == "judge":
            return json.dumps({"score": scores.get(attempt, 9.0), "feedback": "more detail"})
        return f"answer attempt {attempt + 1} done"

    return answer


async def fixed_latency(
    store: Store,
    n: int,
    latency_s: float,
    iterations: int = 1,
    judges: int = 1,
    first_calls: list[float] | None = None,
    pauses: GCPauses | None = None,
) -> float:
    """Seconds for `n` concurrent orchestrations whose every call takes `latency_s` (with `first_calls`, the
    seconds from the start at which each run's first call went out are appended to it; with `pauses`, its full
    collections are timed from the same start)."""
    sent: list[float] = []
    orch = Orchestrator(
        providers=[FunctionProvider(sleeper(latency_s, iterations, sent))],
        catalog=CATALOG,
        store=store,
        evaluator=LLMJudgeEvaluator(panel_size=judges),
        evaluation_threshold=8.5,
        max_iterations=iterations,
    )
    session = await orch.create_session("bench", cost_limit=1e6)
    start = time.perf_counter()
    if pauses is not None:
        pauses.began = start
    results = await asyncio.gather(
        *(orch.run(PROMPTS[i % len(PROMPTS)], session=session, domain="coding") for i in range(n))
    )
    wall = time.perf_counter() - start
    if first_calls is not None:
        first_calls.extend(t - start for t in sent)
    bad = [r for r in results if r.status != "completed" or r.iterations != iterations]
    assert not bad, f"{len(bad)} orchestrations did not complete as planned: {bad[0].orchestration.error}"
    await orch.aclose()
    await store.close()
    return wall


async def bare_loop(n: int, latency_s: float) -> float:
    """Seconds for `n` concurrent tasks that each make the same two calls through the same `FunctionProvider` (a
    generation, then a judge on its answer) with nothing around them: the floor of `fixed_latency` in one process
    on this machine, which no orchestrator can go below."""
    provider = FunctionProvider(sleeper(latency_s, 1))
    model = CATALOG.get("function:a")

    async def one(prompt: str) -> None:
        answer = await provider.generate(
            GenerationRequest(model=model, messages=[Message(role="user", content=prompt)])
        )
        judge = [Message(role="user", content=f"Rate this answer: {answer.text}")]
        json.loads((await provider.generate(GenerationRequest(model=model, messages=judge, purpose="judge"))).text)

    start = time.perf_counter()
    await asyncio.gather(*(one(PROMPTS[i % len(PROMPTS)]) for i in range(n)))
    return time.perf_counter() - start


async def fixed_latency_section(n: int, latencies: list[float]) -> None:
    if not latencies:
        return
    print(f"1. {n} concurrent single-iteration orchestrations (generation + 1 judge; critical path 2 x latency)")
    for latency in latencies:
        target = 1.5 if latency <= 0.05 else 1.1
        critical = 2 * latency
        gc.collect()
        floor = await bare_loop(n, latency) / critical
        print(
            f"   {latency * 1000:6.0f} ms per call, {'bare loop':12} {floor:5.3f}x the critical path: the floor"
            f" (the same calls from {n} plain tasks); {target}x leaves"
            f" {(target - floor) * critical / n * 1e6:.0f} µs of CPU per orchestration above it"
        )
        with tempfile.TemporaryDirectory() as tmp:
            for label, store in (("MemoryStore", MemoryStore()), ("SQLiteStore", SQLiteStore(Path(tmp) / "c.db"))):
                gc.collect()
                first: list[float] = []
                with GCPauses() as pauses:
                    wall = await fixed_latency(store, n, latency, first_calls=first, pauses=pauses)
                ratio = wall / critical
                print(
                    f"   {latency * 1000:6.0f} ms per call, {label:12} wall {wall:6.2f} s / critical path "
                    f"{critical:5.2f} s = {ratio:5.3f}x   target <= {target}x: {'met' if ratio <= target else 'MISSED'}"
                    f"   ({pauses}; first calls out {min(first) * 1000:.0f}-{max(first) * 1000:.0f} ms after the start)"
                )


def peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM: reset by exec, unlike `ru_maxrss`, which a child inherits)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_child(n: int) -> None:
    """Run in a fresh process: `n` concurrent 3-iteration orchestrations with 2 judges; print peak RSS."""
    before = peak_rss_kb()
    with GCPauses() as pauses:
        wall = asyncio.run(fixed_latency(MemoryStore(), n, 1.0, iterations=3, judges=2))
    peak = peak_rss_kb()
    print(json.dumps({"before_kb": before, "peak_kb": peak, "wall_s": wall, "gc": str(pauses)}))


def rss_section(n: int, gc_full_every: int | None) -> None:
    print(f"2. {n} concurrent orchestrations of 3 iterations with 2 judges (1 s per call), MemoryStore, subprocess")
    extra = ["--gc-full-every", str(gc_full_every)] if gc_full_every else []
    out = run_child([sys.executable, __file__, "--rss-child", str(n), *extra], None, "the memory run's subprocess")
    figures = json.loads(out.strip().splitlines()[-1])
    peak, before = figures["peak_kb"] / 1024, figures["before_kb"] / 1024
    per = (peak - before) * 1024 / n
    line = (
        f"   peak RSS {peak:7.1f} MB (after imports {before:.1f} MB; {per:.1f} KB per in-flight orchestration), "
        f"wall {figures['wall_s']:.1f} s / critical path 6.0 s ({figures['gc']})"
    )
    if n == 10_000:
        line += f"   target <= 500 MB: {'met' if peak <= 500 else 'MISSED'}"
    else:
        line += f"   (10,000 would be about {before + per * 10_000 / 1024:.0f} MB; target <= 500 MB)"
    print(line)


def critical_path_s(result: RunResult, scale: float) -> float:
    total_ms = 0.0
    for it in result.orchestration.iterations:
        total_ms += it.latency_ms
        if it.evaluation is not None:
            total_ms += max((v.latency_ms for v in it.evaluation.verdicts), default=0.0)
    return total_ms * scale / 1000


async def simulated(n: int, scale: float) -> None:
    orch = Orchestrator(providers=[SimulatedProvider(seed=11, latency_scale=scale)], store=MemoryStore())
    session = await orch.create_session("bench")
    start = time.perf_counter()
    results = await asyncio.gather(
        *(orch.run(PROMPTS[i % len(PROMPTS)], session=session, max_iterations=3) for i in range(n))
    )
    wall = time.perf_counter() - start
    longest = max(critical_path_s(r, scale) for r in results)
    calls = sum(len(r.orchestration.iterations) * 2 for r in results)
    failed = sum(r.status != "completed" for r in results)
    print(
        f"   {n:>6} concurrent: wall {wall:7.2f} s, longest critical path {longest:6.2f} s, "
        f"ratio {wall / longest:5.2f}, {calls} model calls, {failed} failed"
    )
    await orch.aclose()


async def main(args: argparse.Namespace) -> None:
    if args.gc_full_every:
        print(f"(gc.set_threshold(700, 10, {args.gc_full_every}): see --help)")
    await fixed_latency_section(args.concurrent, args.latencies)
    if args.rss_orchestrations:
        rss_section(args.rss_orchestrations, args.gc_full_every)
    if args.sizes:
        print(f"3. the simulator, latency_scale {args.latency_scale} (simulated latencies of about 0.5-3 s)")
        for n in args.sizes:
            await simulated(n, args.latency_scale)


NORMAL: dict[str, Any] = {"latencies": [0.05, 1.0], "rss_orchestrations": 10_000, "sizes": [1, 1000]}
QUICK: dict[str, Any] = {"latencies": [0.05], "rss_orchestrations": 2000, "sizes": [1]}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (tens of seconds); flags given win")
    parser.add_argument("--concurrent", type=positive_int, default=1000, help="orchestrations in flight (section 1)")
    parser.add_argument(
        "--latencies",
        type=positive_floats,
        help="seconds per call, comma-separated; empty: skip (default 0.05,1; --quick: 0.05)",
    )
    parser.add_argument(
        "--rss-orchestrations", type=non_negative_int, help=default_help("0: skip the memory run", 10_000, 2000)
    )
    parser.add_argument(
        "--sizes", type=positive_ints, help="simulator runs, comma-separated; empty: none (default 1,1000; --quick: 1)"
    )
    parser.add_argument("--latency-scale", type=positive_float, default=1.0, help="factor of the simulated latencies")
    parser.add_argument(
        "--gc-full-every", type=positive_int, metavar="N", help="gc.set_threshold(700, 10, N) (default: 10)"
    )
    parser.add_argument("--rss-child", type=positive_int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    fill_defaults(args, NORMAL, QUICK)
    return args


if __name__ == "__main__":
    args = parse_args()
    if args.gc_full_every:
        gc.set_threshold(700, 10, args.gc_full_every)
    if args.rss_child:
        rss_child(args.rss_child)
        sys.exit(0)
    asyncio.run(main(args))
