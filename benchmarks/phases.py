"""Where one orchestration's CPU time goes between its model calls, MemoryStore and SQLiteStore (issue 12).

A single-iteration orchestration with one judge makes two model calls, and its own work falls in
three parts: up to the generation's call (preparing the document, routing, pricing the candidates
and their judges, `Store.start`), from the answer to the judge's call (storing the answer, building
and pricing the judge's request), and from the verdict to the end (storing it, the final commit,
the result). Runs go one after another with an instant `FunctionProvider`, so each part is the
orchestrator's and the store's CPU time alone.

Why the first part matters on its own: when 1,000 runs start at once (`concurrency.py`, section 1),
each runs until its first model call before the next one begins, so the last first call goes out
about 1,000 x the first part after the start; at 1 s per call the wall time is about the 2 s of the
critical path plus that (docs/performance.md, "Where the time goes today").

    .venv/bin/python benchmarks/phases.py [--runs 2000] [--rounds 3]

Prints, per store, the median of each part over `--runs` runs, as the median over `--rounds` rounds
with their range.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from _args import positive_int
from concurrency import CATALOG, PROMPTS  # the same workload as section 1 of concurrency.py

from orchestratex import (
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    MemoryStore,
    Orchestrator,
    SQLiteStore,
    Store,
)

PARTS = ("up to the first call", "answer -> judge's call", "verdict -> end")


class Marks:
    """When the provider was called, by purpose, during the current run."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def answer(self, request: GenerationRequest) -> str:
        self.at.setdefault(request.purpose, time.perf_counter())
        if request.purpose == "judge":
            return json.dumps({"score": 9.0, "feedback": "fine"})
        return "an answer"


async def one_round(store: Store, runs: int) -> list[float]:
    """The median of each part over `runs` runs, in µs."""
    marks = Marks()
    orch = Orchestrator(
        providers=[FunctionProvider(marks.answer)],
        catalog=CATALOG,
        store=store,
        evaluator=LLMJudgeEvaluator(panel_size=1),
        evaluation_threshold=8.5,
        max_iterations=1,
    )
    session = await orch.create_session("bench", cost_limit=1e6)
    for _ in range(200):  # warm up: caches, the router's statistics
        await orch.run("warm up", session=session, domain="coding")
    parts: list[list[float]] = [[], [], []]
    for i in range(runs):
        marks.at.clear()
        began = time.perf_counter()
        result = await orch.run(PROMPTS[i % len(PROMPTS)], session=session, domain="coding")
        ended = time.perf_counter()
        assert result.status == "completed", result.orchestration.error
        generate, judge = marks.at["generate"], marks.at["judge"]
        for part, seconds in zip(parts, (generate - began, judge - generate, ended - judge), strict=True):
            part.append(seconds * 1e6)
    await orch.aclose()
    await store.close()
    return [statistics.median(part) for part in parts]


async def main(args: argparse.Namespace) -> None:
    print(f"one single-iteration orchestration with one judge at a time; median µs per part over {args.runs} runs,")
    print(f"median [min-max] over {args.rounds} rounds")
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("MemoryStore", "SQLiteStore"):
            rounds = []
            for r in range(args.rounds):
                store: Store = MemoryStore() if label == "MemoryStore" else SQLiteStore(Path(tmp) / f"phases-{r}.db")
                rounds.append(await one_round(store, args.runs))
            cells = []
            for i, name in enumerate(PARTS):
                values = [round_[i] for round_ in rounds]
                cells.append(f"{name} {statistics.median(values):5.0f} [{min(values):.0f}-{max(values):.0f}]")
            total = statistics.median(sum(round_) for round_ in rounds)
            print(f"  {label:12} " + "   ".join(cells) + f"   total {total:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive_int, default=2000)
    parser.add_argument("--rounds", type=positive_int, default=3)
    asyncio.run(main(parser.parse_args()))
