"""Overhead per model call of this source tree against another git revision's, in one interleaved run.

Extracts `src/` of `--ref` (default `main`) with `git archive` into a temporary directory, then
alternates subprocesses of `benchmarks/overhead.py --emit-json` with `PYTHONPATH` set to either tree
(the order swaps every round), so both see the same machine load. Prints µs per model call of each
store (median, min–max over rounds) and the ratio before / after per round.

`--workload simulated` times instead sequential orchestrations of up to 3 iterations against the
offline simulator (zero latency) and its whole default catalog, with a session budget: the router
plans its cascade over every model, which the two-model workload of `overhead.py` never exercises.

    .venv/bin/python benchmarks/before_after.py [--ref main] [--rounds 5] [--orchestrations 300] [--iterations 1]
                                                [--workload overhead|simulated]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from _args import positive_int, run_child

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


SIMULATED = """
import asyncio, json, sys, time
from orchestratex import MemoryStore, Orchestrator, SimulatedProvider

async def main(n):
    orch = Orchestrator(providers=[SimulatedProvider(seed=7, latency_scale=0)], store=MemoryStore())
    session = await orch.create_session("bench", cost_limit=100.0)
    await orch.run("warm up", session=session, max_iterations=3)
    start = time.perf_counter()
    for i in range(n):
        await orch.run(f"Explain how a hash map handles collisions, case {i}", session=session, max_iterations=3)
    print(json.dumps({"simulated orchestration": [(time.perf_counter() - start) / n]}))

asyncio.run(main(int(sys.argv[1])))
"""


def _round(src: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    if args.workload == "simulated":
        command = [sys.executable, "-c", SIMULATED, str(args.orchestrations)]
    else:
        command = [sys.executable, str(HERE / "overhead.py"), "--emit-json", "--rounds", "1"]
        command += ["--orchestrations", str(args.orchestrations), "--iterations", str(args.iterations)]
    out = run_child(command, env, f"the {args.workload} workload on {src}")
    figures: dict[str, list[float]] = json.loads(out.strip().splitlines()[-1])
    return figures


def _archive(ref: str) -> bytes:
    """`src/` of `ref` as a tar archive; exits with git's message if it cannot."""
    done = subprocess.run(["git", "archive", ref, "src"], cwd=ROOT, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"git archive {ref} src failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def main(args: argparse.Namespace) -> None:
    archive = _archive(args.ref)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        trees = {"before": Path(tmp) / "src", "after": ROOT / "src"}
        samples: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for which in order:
                for label, values in _round(trees[which], args).items():
                    samples[which].setdefault(label, []).extend(values)
    print(
        f"{args.rounds} interleaved rounds of {args.orchestrations} orchestrations; "
        f"before = {args.ref}, after = this tree"
    )
    unit = "µs/orchestration" if args.workload == "simulated" else "µs/call"
    for label in samples["after"]:
        before, after = samples["before"][label], samples["after"][label]
        ratios = [b / a for b, a in zip(before, after, strict=True)]
        print(
            f"{label:12} before {statistics.median(before) * 1e6:7.1f} {unit}, after "
            f"{statistics.median(after) * 1e6:7.1f} {unit}; before / after {statistics.median(ratios):.2f}x "
            f"(min {min(ratios):.2f} – max {max(ratios):.2f})"
        )


def git_revision(text: str) -> str:
    """A revision of this repository that names a commit."""
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{text}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
    )
    if found.returncode != 0:
        raise argparse.ArgumentTypeError(f"no commit {text!r} in {ROOT}")
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=git_revision, default="main", help="the revision to compare with (default main)")
    parser.add_argument("--rounds", type=positive_int, default=5)
    parser.add_argument("--orchestrations", type=positive_int, default=300)
    parser.add_argument("--iterations", type=int, choices=(1, 2, 3), default=1)
    parser.add_argument("--workload", choices=("overhead", "simulated"), default="overhead")
    main(parser.parse_args())
