"""Orchestrator overhead per model call, against the same calls made by a bare asyncio loop.

Runs many orchestrations with an instant FunctionProvider (3 iterations each: scores 5, 6, then
9 ≥ threshold; one judge per answer, so 6 model calls per orchestration), with MemoryStore and
with SQLiteStore, and the same number of provider calls made directly in a bare loop in the same
process. Prints µs per model call for each, the overhead (difference) and the ratio, and the
`import orchestratex` time against a bare interpreter start.

    .venv/bin/python benchmarks/overhead.py [--orchestrations 2000]

Targets (issue 2): overhead <= 50 µs per call with MemoryStore, <= 250 µs with SQLiteStore;
`import orchestratex` <= 150 ms. LiteLLM's Router.acompletion with mock_response costs
2,500-3,500 µs per call on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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

SCORES = {1: 5.0, 2: 6.0, 3: 9.0}
CALLS_PER_RUN = 6
_ATTEMPT = re.compile(r"answer attempt (\d+)")


def _attempt(text: str) -> int:
    found = _ATTEMPT.findall(text)
    return int(found[-1]) if found else 0


def _answer(request: GenerationRequest) -> str:
    """Answers say their attempt number; judges score attempt 1, 2, 3 as 5, 6, 9."""
    text = request.messages[-1].content
    if request.purpose == "judge":
        return json.dumps({"score": SCORES.get(_attempt(text), 9.0), "feedback": "more detail"})
    return f"answer attempt {_attempt(text) + 1} done"


CATALOG = ModelCatalog(
    [
        ModelProfile(name="function:a", cost_per_1k_tokens=0.001, quality=8.0),
        ModelProfile(name="function:b", cost_per_1k_tokens=0.001, quality=7.5),
    ]
)


async def orchestrations(store: Store, n: int) -> float:
    orch = Orchestrator(
        providers=[FunctionProvider(_answer)],
        catalog=CATALOG,
        store=store,
        retry=RetryPolicy(max_attempts=3, initial_wait=0),
        evaluation_threshold=8.5,
    )
    session = await orch.create_session("bench", cost_limit=1e6)
    await orch.run("warm up", session=session)
    start = time.perf_counter()
    for i in range(n):
        result = await orch.run(f"Write function number {i}", session=session, domain="coding")
        assert result.iterations == 3, result.iterations
    elapsed = time.perf_counter() - start
    await orch.aclose()
    return elapsed


async def bare(n: int) -> float:
    provider = FunctionProvider(_answer)
    model = CATALOG.get("function:a")
    gen = GenerationRequest(model=model, messages=[Message(role="user", content="Write function")])
    judge = GenerationRequest(model=model, messages=[Message(role="user", content="judge")], purpose="judge")
    start = time.perf_counter()
    for _ in range(n):
        for _ in range(CALLS_PER_RUN // 2):
            await provider.generate(gen)
            await provider.generate(judge)
    return time.perf_counter() - start


def import_time(runs: int = 7) -> tuple[float, float]:
    def run(code: str) -> float:
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    return run("import orchestratex"), run("pass")


async def main(n: int) -> None:
    calls = n * CALLS_PER_RUN
    base = await bare(n) / calls
    print(f"{n} orchestrations x {CALLS_PER_RUN} model calls = {calls} calls per configuration")
    print(f"bare asyncio loop            {base * 1e6:8.1f} µs/call")
    with tempfile.TemporaryDirectory() as tmp:
        for label, store in (("MemoryStore", MemoryStore()), ("SQLiteStore", SQLiteStore(Path(tmp) / "bench.db"))):
            per_call = await orchestrations(store, n) / calls
            overhead = per_call - base
            print(
                f"orchestrator + {label:12} {per_call * 1e6:8.1f} µs/call  overhead {overhead * 1e6:7.1f} µs/call  "
                f"ratio to bare {per_call / base:6.1f}x"
            )
            await store.close()
    with_pkg, bare_start = import_time()
    print(
        f"import orchestratex          {(with_pkg - bare_start) * 1000:8.1f} ms "
        f"(interpreter with import {with_pkg * 1000:.0f} ms, bare interpreter {bare_start * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orchestrations", type=int, default=2000)
    asyncio.run(main(parser.parse_args().orchestrations))
