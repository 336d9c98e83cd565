"""Store round trips and store overhead per model call, MemoryStore and SQLiteStore (issue #12, items 1-2).

Three measures, each for both stores:

- `calls/run`: store calls one orchestration makes (`--iterations`, 3 by default, one judge per answer, a
  session budget);
- `µs/call`: wall time per model call of orchestrations run one after another, with an instant provider
  (everything but the model is overhead);
- `wall/critical`: `--concurrent` orchestrations at once, each model call sleeping `--latency` seconds:
  wall time over the critical path (2 sequential calls per iteration x latency); 1.0 is the physical limit.

    .venv/bin/python benchmarks/store_roundtrips.py [--orchestrations 300] [--concurrent 1000] [--latency 0.05]
                                                    [--iterations 3] [--synchronous-full]

`--synchronous-full` adds a third store, `SQLiteStore(synchronous="full")` (an fsync per transaction: commits
that survive a power loss), to see what that durability costs with group commit (not with `--baseline`).

With `--baseline DIR` (a checkout of another version, e.g. `git worktree add /tmp/main main`), each round
runs this script once on that version's `src` and once on this one's, interleaved, and prints the
medians over `--rounds` with their spread and the ratios baseline / this. Each run says which
`orchestratex` it imported, and the script stops if that is not the tree it asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _args import non_negative_int, positive_float, positive_int, run_child

_ATTEMPT = re.compile(r"answer attempt (\d+)")


def _attempt(text: str) -> int:
    found = _ATTEMPT.findall(text)
    return int(found[-1]) if found else 0


def _answerer(iterations: int) -> Callable[[Any], str]:
    """Answers say their attempt number; judges score the last allowed attempt 9, earlier ones 5, 6."""
    scores = {i: 5.0 + (i - 1) for i in range(1, iterations)} | {iterations: 9.0}

    def answer_text(request: Any) -> str:
        text = request.messages[-1].content
        if request.purpose == "judge":
            return json.dumps({"score": scores.get(_attempt(text), 9.0), "feedback": "more detail"})
        return f"answer attempt {_attempt(text) + 1} done"

    return answer_text


def _orchestrator(store: Any, latency: float, iterations: int) -> Any:
    from orchestratex import FunctionProvider, ModelCatalog, ModelProfile, Orchestrator
    from orchestratex.orchestrator import RetryPolicy

    answer_text = _answerer(iterations)

    async def answer(request: Any) -> str:
        await asyncio.sleep(latency)
        return answer_text(request)

    catalog = ModelCatalog(
        [
            ModelProfile(name="function:a", cost_per_1k_tokens=0.001, quality=8.0),
            ModelProfile(name="function:b", cost_per_1k_tokens=0.001, quality=7.5),
        ]
    )
    return Orchestrator(
        providers=[FunctionProvider(answer if latency else answer_text)],
        catalog=catalog,
        store=store,
        retry=RetryPolicy(max_attempts=3, initial_wait=0),
        evaluation_threshold=8.5,
        max_iterations=iterations,
    )


def _stores(tmp: str) -> dict[str, Any]:
    from orchestratex import MemoryStore, SQLiteStore

    db = Path(tmp) / f"bench-{time.monotonic_ns()}.db"
    return {
        "MemoryStore": MemoryStore(),
        "SQLiteStore": SQLiteStore(db),
        "SQLite full": lambda: SQLiteStore(db, synchronous="full"),  # (only built when asked for)
    }


def _store(tmp: str, kind: str) -> Any:
    store = _stores(tmp)[kind]
    return store() if callable(store) else store


def _count(store: Any) -> Counter[str]:
    import inspect

    seen: Counter[str] = Counter()
    for name, method in inspect.getmembers(store, inspect.iscoroutinefunction):
        if name.startswith("_") or name in ("open", "close"):
            continue

        def wrap(method: Any = method, name: str = name) -> Any:
            async def call(*args: Any, **kwargs: Any) -> Any:
                seen[name] += 1
                return await method(*args, **kwargs)

            return call

        setattr(store, name, wrap())
    return seen


async def _measure(kind: str, n: int, concurrent: int, latency: float, iterations: int) -> dict[str, float]:
    out: dict[str, float] = {}
    calls_per_run = 2 * iterations  # a generation and one judge per iteration
    with tempfile.TemporaryDirectory() as tmp:
        # store calls per orchestration
        store = _store(tmp, kind)
        orch = _orchestrator(store, 0.0, iterations)
        session = await orch.create_session("bench", cost_limit=1e6)
        await orch.run("warm up", session=session)
        seen = _count(store)
        result = await orch.run("Write function number 0", session=session, domain="coding")
        assert result.iterations == iterations, result.iterations
        out["calls/run"] = sum(seen.values())
        # sequential overhead per model call
        start = time.perf_counter()
        for i in range(n):
            result = await orch.run(f"Write function number {i}", session=session, domain="coding")
            assert result.iterations == iterations, result.iterations
        out["µs/call"] = (time.perf_counter() - start) / (n * calls_per_run) * 1e6
        await orch.aclose()
        # concurrent orchestrations against the critical path
        if concurrent:
            store = _store(tmp, kind)
            orch = _orchestrator(store, latency, iterations)
            session = await orch.create_session("bench", cost_limit=1e6)
            await orch.run("warm up", session=session)
            start = time.perf_counter()
            results = await asyncio.gather(
                *(orch.run(f"Write function number {i}", session=session) for i in range(concurrent))
            )
            wall = time.perf_counter() - start
            assert all(r.iterations == iterations for r in results)
            out["wall/critical"] = wall / (calls_per_run * latency)
            await orch.aclose()
    return out


def _kinds(args: argparse.Namespace) -> tuple[str, ...]:
    return ("MemoryStore", "SQLiteStore", "SQLite full") if args.synchronous_full else ("MemoryStore", "SQLiteStore")


def _one_round(args: argparse.Namespace) -> dict[str, Any]:
    import orchestratex

    figures: dict[str, Any] = {
        kind: asyncio.run(_measure(kind, args.orchestrations, args.concurrent, args.latency, args.iterations))
        for kind in _kinds(args)
    }
    return {"orchestratex": orchestratex.__file__, "figures": figures}


def _run_on(src: Path, args: argparse.Namespace) -> tuple[str, dict[str, dict[str, float]]]:
    """One round on the tree `src`: the `orchestratex` the child imported, and its figures."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, __file__, "--json", "--orchestrations", str(args.orchestrations)]
    cmd += ["--concurrent", str(args.concurrent), "--latency", str(args.latency), "--iterations", str(args.iterations)]
    cmd += ["--synchronous-full"] if args.synchronous_full else []
    out = run_child(cmd, env, f"the run on {src}")
    done = json.loads(out.strip().splitlines()[-1])
    imported = Path(os.path.abspath(done["orchestratex"]))  # as found on PYTHONPATH (symbolic links kept)
    if not imported.is_relative_to(os.path.abspath(src)):
        sys.exit(f"the run on {src} imported orchestratex from {imported}, not from that tree")
    return str(imported), done["figures"]


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):9.1f} [{min(values):.1f}-{max(values):.1f}]"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orchestrations", type=positive_int, default=300, help="sequential ones, for µs/call")
    parser.add_argument("--concurrent", type=non_negative_int, default=1000, help="for wall/critical (0: skip)")
    parser.add_argument("--latency", type=positive_float, default=0.05, help="seconds per call of the concurrent ones")
    parser.add_argument("--iterations", type=int, choices=(1, 2, 3), default=3, help="per orchestration (default 3)")
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--baseline", type=Path, help="a checkout of the version to compare with")
    parser.add_argument("--synchronous-full", action="store_true", help="also SQLiteStore(synchronous='full')")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.synchronous_full and args.baseline is not None:
        parser.error("--synchronous-full measures this version only: drop --baseline")
    if args.baseline is not None and not (args.baseline / "src" / "orchestratex").is_dir():
        parser.error(f"argument --baseline: {str(args.baseline)!r} is not a checkout: it has no src/orchestratex")
    return args


def main() -> None:
    args = parse_args()
    if args.json:
        print(json.dumps(_one_round(args)))
        return
    here = Path(__file__).resolve().parent.parent / "src"
    versions = {"this": here} if args.baseline is None else {"baseline": args.baseline / "src", "this": here}
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    imported: dict[str, str] = {}
    for _ in range(args.rounds):
        for label, src in versions.items():  # interleaved: machine noise hits both alike
            imported[label], round_figures = _run_on(src, args)
            for kind, figures in round_figures.items():
                for measure, value in figures.items():
                    samples.setdefault(label, {}).setdefault(kind, {}).setdefault(measure, []).append(value)
    for label, path in imported.items():
        print(f"{label}: {path}")
    concurrent = (
        f"{args.concurrent} concurrent at {args.latency * 1000:g} ms per call"
        if args.concurrent
        else "no concurrent run"
    )
    print(
        f"{args.orchestrations} sequential orchestrations x {2 * args.iterations} calls; {concurrent};"
        f" medians over {args.rounds} rounds [min-max]"
    )
    measures = ["calls/run", "µs/call", "wall/critical"] if args.concurrent else ["calls/run", "µs/call"]
    for kind in _kinds(args):
        for measure in measures:
            line = f"{kind:12} {measure:14}"
            for label in versions:
                line += f" {label}: {_spread(samples[label][kind][measure])}"
            if "baseline" in versions:
                ratio = statistics.median(samples["baseline"][kind][measure]) / statistics.median(
                    samples["this"][kind][measure]
                )
                line += f"   baseline/this {ratio:5.2f}x"
            print(line)


if __name__ == "__main__":
    main()
