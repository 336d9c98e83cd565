"""How close the budget's reservations are to what calls really cost, replayed through the real
`Orchestrator` on RouterBench (each model answers with its recorded answer length and reports its
recorded cost), and what a one-cent budget can buy.

Prices come from the train split (`lab.profiles_for`), output lengths are learned on the train split
(a first pass), and the figures are measured once on the test split. Per generation call it prints
the median and 90th percentile of reserved / actual cost, with today's bound (byte-counted input,
exact token counts) and the old one (UTF-8 bytes in, the full `max_output_tokens` out).

    python benchmarks/reservations.py [--rows N] [--data DIR] [--quantile 0.95] [--headroom 1.5]

`--rows N` replays N prompts of each split, spread over every task (default: all of them, 2,205 train
and 945 test prompts). Data: `--data DIR`, else `$ORCHESTRATEX_DATA_DIR`, else `../shared/data/routing`
next to the repository.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import statistics
import time
from pathlib import Path

from _args import positive_float, positive_int
from _data import routing_data

from orchestratex import (
    FunctionProvider,
    Generation,
    GenerationRequest,
    MemoryStore,
    ModelCatalog,
    Orchestrator,
    OutputCapPolicy,
    Usage,
    lab,
)
from orchestratex.providers import estimate_input_tokens
from orchestratex.routing import BayesianRouter

ROOT = Path(__file__).resolve().parent.parent


def q90(xs: list[float]) -> float:
    return xs[int(0.9 * (len(xs) - 1))]


def tokens4(request: GenerationRequest) -> int:
    """The replay's tokenizer: four characters a token (the lab's price fit assumes the same)."""
    return sum(math.ceil(len(m.content) / 4) for m in request.messages)


def data_directory(given: Path | None) -> Path:
    """The routing data directory this benchmark reads (see `_data.routing_data`)."""
    return routing_data("reservations.py", given, ["routerbench"])


async def replay(rows: int | None, directory: Path, policy: OutputCapPolicy) -> None:
    train = lab.load_routerbench(directory, "train")
    test = lab.load_routerbench(directory, "test")
    profiles = lab.profiles_for(train, provider="function")
    catalog = ModelCatalog(profiles)
    by_prompt: dict[str, int] = {}
    calls: list[tuple[str, float, float, float, float]] = []  # model, reserved now, before, reported, catalog
    cut = [0]
    table = train

    def answer(request: GenerationRequest) -> Generation:
        row = by_prompt[request.messages[-1].content]
        j = table.model_index(request.model.version)
        out = max(1, math.ceil(float(table.output_chars[row, j]) / 4)) if table.output_chars is not None else 50
        sent = min(out, request.max_output_tokens)
        usage = Usage(input_tokens=tokens4(request), output_tokens=sent)
        cost = float(table.cost[row, j]) * sent / out
        model = request.model
        now = model.worst_case_cost(tokens4(request), request.max_output_tokens)
        before = model.worst_case_cost(estimate_input_tokens(request), min(2048, model.max_output_tokens))
        calls.append((model.name, now, before, cost, model.cost(usage)))
        cut[0] += sent < out
        return Generation(
            text="w " * sent, usage=usage, reported_cost=cost, finish_reason="length" if sent < out else "stop"
        )

    orch = Orchestrator(
        providers=[FunctionProvider(answer, count_tokens=tokens4)],
        catalog=catalog,
        store=MemoryStore(),
        router=BayesianRouter(seed=3),
        judging="when_needed",
        system_prompt="",
        output_cap=policy,
    )
    for phase, source in (("train", train), ("test", test)):
        table = source
        by_prompt.clear()
        calls.clear()
        cut[0] = 0
        n = len(source) if rows is None else min(rows, len(source))
        picked = [round(k * (len(source) - 1) / max(n - 1, 1)) for k in range(n)]  # spread over every task
        for i in picked:
            by_prompt[source.prompts[i]] = i
        started = time.perf_counter()
        for i in picked:
            await orch.run(source.prompts[i], max_iterations=1)
        if phase == "train":
            print(f"learned output lengths on {n} train prompts ({time.perf_counter() - started:.1f} s)")
            continue
        now = sorted(r / a for _, r, _, a, _ in calls if a > 0)
        before = sorted(b / a for _, _, b, a, _ in calls if a > 0)
        at_prices = sorted(r / c for _, r, _, _, c in calls if c > 0)
        print(f"test: {len(now)} generation calls on {n} prompts")
        print(f"  reserved / actual, now:    median {statistics.median(now):.2f}  p90 {q90(now):.2f}")
        print(f"  reserved / actual, before: median {statistics.median(before):.2f}  p90 {q90(before):.2f}")
        print(f"  reserved / catalog price of the usage, now: median {statistics.median(at_prices):.2f}")
        over = sum(1 for _, r, _, a, _ in calls if r < a)
        over_catalog = sum(1 for _, r, _, _, c in calls if r < c - 1e-12)
        print(
            f"  calls whose reported cost exceeded the reservation: {over} (the fitted prices are off for them);"
            f" whose catalog cost did: {over_catalog}"
        )
        print(f"  answers cut by their output cap (finish reason `length`): {cut[0]} of {len(calls)}")


async def cent() -> None:
    """A $0.01 budget and a gpt-4.1-priced model: excluded by the old bound, used now."""
    catalog = ModelCatalog.default().simulated()
    orch = Orchestrator(catalog=catalog, simulate=True, judges=["gpt-6-luna", "claude-haiku-5-5"])
    prompt = "Explain, in a short paragraph, why the sky is blue."
    result = await orch.run(prompt, cost_limit=0.01, max_iterations=1, preferred_models=["gpt-4.1"])
    it = result.orchestration.iterations[0]
    model = catalog.get("gpt-4.1")
    old = model.worst_case_cost(len(prompt) + len(orch.system_prompt) + 24, 2048)
    print(
        f"$0.01 budget: {result.status} with {it.model_name} (old worst case ${old:.4f} > $0.01), "
        f"answer ${it.cost:.5f} + judging ${it.evaluation.cost if it.evaluation else 0:.5f}, "
        f"total ${result.total_cost:.5f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=positive_int, help="prompts per split (default: all)")
    parser.add_argument(
        "--data", type=Path, help=f"routing data directory (default: ${lab.DATA_ENV}, else ../shared/data/routing)"
    )
    parser.add_argument("--quantile", type=positive_float, default=OutputCapPolicy().quantile, help="in (0, 1]")
    parser.add_argument("--headroom", type=positive_float, default=OutputCapPolicy().headroom, help=">= 1")
    args = parser.parse_args()
    if args.quantile > 1:
        parser.error(f"argument --quantile: must be in (0, 1], got {args.quantile}")
    if args.headroom < 1:
        parser.error(f"argument --headroom: must be >= 1, got {args.headroom}")
    directory = data_directory(args.data)
    logging.getLogger("orchestratex").setLevel(logging.ERROR)  # reported costs above the fitted prices: counted
    asyncio.run(cent())
    asyncio.run(replay(args.rows, directory, OutputCapPolicy(quantile=args.quantile, headroom=args.headroom)))


if __name__ == "__main__":
    main()
