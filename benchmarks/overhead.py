"""Orchestrator overhead per model call, against a bare asyncio loop and LiteLLM's Router, in one run.

Each configuration makes the same model calls with an instant provider, in interleaved rounds:

- `bare`: the provider's calls made directly by a bare asyncio loop (the critical path: no latency);
- `MemoryStore` / `SQLiteStore`: orchestrations through a real `Orchestrator` with a
  `FunctionProvider` (single-iteration by default: one generation scored 9 ≥ threshold by one judge,
  so 2 model calls per orchestration; `--iterations 3` scores 5, 6, then 9: 6 calls);
- `LiteLLM`: `Router.acompletion(mock_response=...)` calls in LiteLLM's own virtualenv, a subprocess
  (created on first use, see `benchmarks/_litellm.py`; skipped with a message where it cannot be).

Prints µs per model call (median over rounds, with min–max), LiteLLM's cost over each store's (the
ratio per round: median and min–max), then the ratio of means over one run that fills a fresh
MemoryStore with 15,000 orchestrations (GC pauses included), and `import orchestratex` (and
`from orchestratex import Orchestrator`, which loads what running needs) against a bare interpreter.

    .venv/bin/python benchmarks/overhead.py [--quick] [--rounds 7] [--orchestrations 300] [--fill 15000]

`--quick` runs 3 rounds of 100 orchestrations, a 1,500-orchestration fill and 3 import runs; a flag given
with it keeps its value.

Targets (issue 12): LiteLLM / SQLiteStore >= 20x, LiteLLM / MemoryStore >= 60x (medians over rounds,
and by the ratio of means over the 15,000-orchestration fill); `import orchestratex` <= 150 ms over a
bare interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _args import default_help, fill_defaults, non_negative_int, positive_int
from _litellm import LITELLM_VERSION, LiteLLMDriver

from orchestratex import (
    FunctionProvider,
    GenerationRequest,
    MemoryStore,
    Message,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    SQLiteStore,
    Store,
)
from orchestratex.orchestrator import RetryPolicy

_ATTEMPT = re.compile(r"answer attempt (\d+)")
CATALOG = ModelCatalog(
    [
        ModelProfile(name="function:a", cost_per_1k_tokens=0.001, quality=8.0),
        ModelProfile(name="function:b", cost_per_1k_tokens=0.001, quality=7.5),
    ]
)


def _attempt(text: str) -> int:
    found = _ATTEMPT.findall(text)
    return int(found[-1]) if found else 0


def answerer(iterations: int) -> Callable[[GenerationRequest], str]:
    """Answers say their attempt number; judges score the last allowed attempt 9, earlier ones 5, 6, …"""
    scores = {i: 5.0 + (i - 1) for i in range(1, iterations)} | {iterations: 9.0}

    def answer(request: GenerationRequest) -> str:
        text = request.messages[-1].content
        if request.purpose == "judge":
            return json.dumps({"score": scores.get(_attempt(text), 9.0), "feedback": "more detail"})
        return f"answer attempt {_attempt(text) + 1} done"

    return answer


class OrchestratorRounds:
    """One orchestrator over one store, its rounds timed."""

    def __init__(self, store: Store, iterations: int) -> None:
        self.iterations = iterations
        self.orch = Orchestrator(
            providers=[FunctionProvider(answerer(iterations))],
            catalog=CATALOG,
            store=store,
            retry=RetryPolicy(max_attempts=3, initial_wait=0),
            evaluation_threshold=8.5,
            max_iterations=max(iterations, 1),
        )
        self.count = 0

    async def start(self) -> None:
        self.session = await self.orch.create_session("bench", cost_limit=1e6)
        await self.run(3)

    async def run(self, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            self.count += 1
            result = await self.orch.run(f"Write function number {self.count}", session=self.session, domain="coding")
            assert result.iterations == self.iterations, result.iterations
        return time.perf_counter() - start

    async def close(self) -> None:
        await self.orch.aclose()
        await self.orch.store.close()


async def bare(n_calls: int, iterations: int) -> float:
    provider = FunctionProvider(answerer(iterations))
    model = CATALOG.get("function:a")
    gen = GenerationRequest(model=model, messages=[Message(role="user", content="Write function")])
    judge = GenerationRequest(model=model, messages=[Message(role="user", content="judge")], purpose="judge")
    start = time.perf_counter()
    for _ in range(n_calls // 2):
        await provider.generate(gen)
        await provider.generate(judge)
    return time.perf_counter() - start


def import_time(runs: int, code: str) -> tuple[list[float], list[float]]:
    """Interleaved wall times of `python -c <code>` and of `python -c pass`."""
    with_pkg: list[float] = []
    bare_start: list[float] = []
    for _ in range(runs):
        for snippet, samples in ((code, with_pkg), ("pass", bare_start)):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", snippet], check=True)
            samples.append(time.perf_counter() - start)
    return with_pkg, bare_start


def _spread(values: list[float], scale: float = 1.0, width: int = 8) -> str:
    med, low, high = statistics.median(values) * scale, min(values) * scale, max(values) * scale
    return f"{med:{width}.1f} (min {low:.1f} – max {high:.1f})"


def _verdict(value: float, target: float) -> str:
    return "met" if value >= target else "MISSED"


async def fill_run(n: int, iterations: int) -> tuple[float, float, int]:
    """Seconds per call over `n` orchestrations filling a fresh MemoryStore, GC pause seconds, collections."""
    paused = [0.0, 0]
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            paused[0] += time.perf_counter() - started[0]
            paused[1] += 1

    runner = OrchestratorRounds(MemoryStore(), iterations)
    await runner.start()
    gc.callbacks.append(on_gc)
    try:
        elapsed = await runner.run(n)
    finally:
        gc.callbacks.remove(on_gc)
        await runner.close()
    return elapsed / (n * iterations * 2), paused[0], int(paused[1])


async def emit_json(args: argparse.Namespace) -> None:
    """Rounds of the two stores only, printed as JSON (seconds per call): `benchmarks/before_after.py` runs it."""
    calls = args.orchestrations * args.iterations * 2
    out: dict[str, list[float]] = {"MemoryStore": [], "SQLiteStore": []}
    with tempfile.TemporaryDirectory() as tmp:
        runners = {
            "MemoryStore": OrchestratorRounds(MemoryStore(), args.iterations),
            "SQLiteStore": OrchestratorRounds(SQLiteStore(Path(tmp) / "bench.db"), args.iterations),
        }
        for runner in runners.values():
            await runner.start()
        for _ in range(args.rounds):
            for label, runner in runners.items():
                gc.collect()
                out[label].append(await runner.run(args.orchestrations) / calls)
        for runner in runners.values():
            await runner.close()
    print(json.dumps(out))


async def main(args: argparse.Namespace) -> None:
    iterations, n, rounds = args.iterations, args.orchestrations, args.rounds
    calls = n * iterations * 2
    litellm: LiteLLMDriver | str = "skipped (--no-litellm)" if args.no_litellm else LiteLLMDriver.start()
    anchor = (
        f"{args.litellm_calls} LiteLLM {LITELLM_VERSION} Router calls" if not isinstance(litellm, str) else "no LiteLLM"
    )
    print(
        f"{rounds} interleaved rounds; each: {n} orchestrations x {iterations * 2} model calls = {calls} calls per "
        f"store, the same calls in a bare loop, {anchor}"
    )
    if isinstance(litellm, str):
        print(f"LiteLLM: {litellm}; its columns are left out")
    samples: dict[str, list[float]] = {"bare loop": [], "MemoryStore": [], "SQLiteStore": [], "LiteLLM Router": []}
    with tempfile.TemporaryDirectory() as tmp:
        memory = OrchestratorRounds(MemoryStore(), iterations)
        sqlite = OrchestratorRounds(SQLiteStore(Path(tmp) / "bench.db"), iterations)
        await memory.start()
        await sqlite.start()
        if not isinstance(litellm, str):
            litellm.seconds_for(20)  # warm up
        jobs: list[tuple[str, Callable[[], Awaitable[float] | float]]] = [
            ("bare loop", lambda: bare(calls, iterations)),
            ("MemoryStore", lambda: memory.run(n)),
            ("SQLiteStore", lambda: sqlite.run(n)),
        ]
        if not isinstance(litellm, str):
            driver = litellm
            jobs.append(("LiteLLM Router", lambda: driver.seconds_for(args.litellm_calls)))
        for r in range(rounds):
            for label, job in jobs[r % len(jobs) :] + jobs[: r % len(jobs)]:  # rotate the order each round
                gc.collect()
                result = job()
                seconds = await result if not isinstance(result, float) else result
                per = args.litellm_calls if label == "LiteLLM Router" else calls
                samples[label].append(seconds / per)
        await memory.close()
        await sqlite.close()
    report(samples)
    if args.fill:
        per_call, gc_s, collections = await fill_run(args.fill, iterations)
        print(
            f"\nfill run: {args.fill} orchestrations into one fresh MemoryStore: {per_call * 1e6:.1f} µs per call "
            f"(mean, GC included: {collections} collections, {gc_s:.2f} s paused)"
        )
        if samples["LiteLLM Router"]:
            ratio = statistics.fmean(samples["LiteLLM Router"]) / per_call
            print(f"  LiteLLM Router mean / MemoryStore mean: {ratio:.1f}x   target >= 60x: {_verdict(ratio, 60.0)}")
    if not isinstance(litellm, str):
        litellm.close()
    print()
    report_import_time(args.import_runs)


def report(samples: dict[str, list[float]]) -> None:
    print(f"\n{'µs per model call':24} {'median (min – max over rounds)':>36}")
    for label, values in samples.items():
        if values:
            print(f"{label:24} {_spread(values, 1e6)}")
    lite = samples["LiteLLM Router"]
    targets = {"MemoryStore": 60.0, "SQLiteStore": 20.0}
    if lite:
        print("\nLiteLLM Router / OrchestrateX, per round (higher is better)")
        for label, target in targets.items():
            ratios = [a / b for a, b in zip(lite, samples[label], strict=True)]
            med = statistics.median(ratios)
            print(f"  {label:22} {_spread(ratios, 1, 6)}x   target >= {target:.0f}x: {_verdict(med, target)}")
    print("\noverhead over the bare loop (µs per call, medians):")
    base = statistics.median(samples["bare loop"])
    for label in targets:
        print(f"  {label:22} {(statistics.median(samples[label]) - base) * 1e6:8.1f}")


def report_import_time(runs: int) -> None:
    for code, target in (("import orchestratex", 150.0), ("from orchestratex import Orchestrator", None)):
        with_pkg, bare_start = import_time(runs, code)
        delta = [(a - b) * 1000 for a, b in zip(with_pkg, bare_start, strict=True)]
        med = statistics.median(delta)
        verdict = f"   target <= {target:.0f} ms: {'met' if med <= target else 'MISSED'}" if target else ""
        print(
            f"{code}: {_spread(delta, 1, 6)} ms over a bare interpreter "
            f"(bare start {statistics.median(bare_start) * 1000:.0f} ms){verdict}"
        )


NORMAL = {"rounds": 7, "orchestrations": 300, "litellm_calls": 300, "fill": 15000, "import_runs": 7}
QUICK = {"rounds": 3, "orchestrations": 100, "litellm_calls": 100, "fill": 1500, "import_runs": 3}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (tens of seconds); flags given win")

    def option(name: str, kind: Callable[[str], int], text: str = "") -> None:
        key = name.removeprefix("--").replace("-", "_")
        parser.add_argument(name, type=kind, help=default_help(text, NORMAL[key], QUICK[key]))

    option("--rounds", positive_int)
    option("--orchestrations", positive_int, "per store and round")
    option("--litellm-calls", positive_int, "LiteLLM Router calls per round")
    option("--fill", non_negative_int, "orchestrations of the fill run, 0: none")
    parser.add_argument("--iterations", type=int, choices=(1, 2, 3), default=1)
    option("--import-runs", positive_int)
    parser.add_argument("--no-litellm", action="store_true", help="leave LiteLLM out")
    parser.add_argument("--emit-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    fill_defaults(args, NORMAL, QUICK)
    return args


if __name__ == "__main__":
    args = parse_args()
    if args.emit_json:
        asyncio.run(emit_json(args))
        sys.exit(0)
    asyncio.run(main(args))
