"""How far bandit feedback can take an online router on RouterBench, measured on the *train* split only.

    .venv/bin/python benchmarks/routing_online_study.py [--seeds 8]

The question behind issue 6's online target: started empty and fed only the chosen model's
outcome, can a router come within 3 points of the fitted router (same cost knob) over the last
half of a 945-prompt stream, at no higher cost? This study answers it without touching the test
split: streams are random 945-prompt draws from RouterBench *train*, and the fitted router it is
compared with predicts each prompt out of fold (5-fold CV on train), at the cost knob chosen on
train for <= $0.0020 per prompt.

Prints:
1. Why the question is hard: per task, the two best models by `quality − knob × cost` on train,
   the gap between them, the spread of a 0/1 outcome, and the observations of *each* model that
   a 2-sigma separation of the two needs, against the prompts of that task in a stream's first half.
2. `ContextualRouter` over a grid of its public settings (noise `score_sd`, `explore_share`,
   `pool_strength`, `min_tries`): last-half accuracy and cost against the fitted router's.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _args import positive_int
from _data import bad_data_exits

from orchestratex import lab
from orchestratex.routing.contextual import ContextualRouter
from orchestratex.routing.fitted import FittedRouter
from routing import cv_predictions, data_directory, online_target_met

STREAM = 945  # the size of RouterBench test, the stream of the benchmark's online run
GRID = {
    "score_sd": (0.1, 0.2, 0.45),
    "explore_share": (0.05, 0.2),
    "pool_strength": (2.0, 8.0),
    "min_tries": (1, 3),
}


def separation(train: lab.OutcomeTable, knob: float) -> None:
    print(f"\n1. Per task on train, at cost knob {knob:.4g}: the top two models by quality − knob × cost")
    tasks = np.asarray([train.task_of(i) for i in range(len(train))])
    for task in train.task_names:
        rows = tasks == task
        acc, cost = train.quality[rows].mean(axis=0), train.cost[rows].mean(axis=0)
        utility = acc - knob * cost
        first, second = np.argsort(-utility)[:2]
        gap = float(utility[first] - utility[second])
        sd = float(np.sqrt(max(acc[first] * (1 - acc[first]), acc[second] * (1 - acc[second]))))
        need = 2 * (2 * sd / gap) ** 2 if gap > 0 else float("inf")
        share = rows.mean() * STREAM / 2
        print(
            f"   {task:14s} {train.models[first]} ({utility[first]:.3f}) vs {train.models[second]} "
            f"({utility[second]:.3f}): gap {gap:.3f}, outcome sd {sd:.2f} -> ~{need:.0f} observations of each "
            f"for 2 sigma; a stream's first half holds ~{share:.0f} {task} prompts for all {len(train.models)} models"
        )


def study(train: lab.OutcomeTable, seeds: int) -> None:
    profiles = lab.profiles_for(train, provider="routerbench")
    q, c = cv_predictions(train, functools.partial(FittedRouter, alpha=30.0))
    point = lab.sweep(train, q, c, name="cv").best_within(0.0020)
    if point is None or point.knob is None:
        sys.exit("no knob of the fitted router's CV curve fits $0.0020")
    knob = point.knob
    separation(train, knob)
    streams = [np.random.default_rng(1000 + s).permutation(len(train))[:STREAM] for s in range(seeds)]
    half = STREAM // 2
    fitted = []
    for order in streams:
        last = train.subset(order[half:])
        fitted.append(lab.sweep(last, q[order[half:]], c[order[half:]], name="f", cost_weights=[knob]).points[0])
    f_acc = float(np.mean([p.quality for p in fitted]))
    f_cost = float(np.mean([p.cost for p in fitted]))
    print(
        f"\n2. Last half of {seeds} train streams of {STREAM} prompts; fitted router (out of fold, same knob): "
        f"accuracy {f_acc:.4f} at ${f_cost:.5f}"
    )
    met, grid = 0, list(itertools.product(*GRID.values()))
    for values in grid:
        settings = dict(zip(GRID, values, strict=True))
        points = []
        for seed, order in enumerate(streams):
            router = ContextualRouter(cost_weight=knob, seed=seed, **settings)  # type: ignore[arg-type]
            played = asyncio.run(lab.replay(router, train.subset(order), profiles))
            points.append(played.point(half))
        acc = float(np.mean([p.quality for p in points]))
        cost = float(np.mean([p.cost for p in points]))
        ok = online_target_met(acc, cost, f_acc, f_cost)
        met += ok
        label = ", ".join(f"{k} {v:g}" for k, v in settings.items())
        print(
            f"   {label:60s} accuracy {acc:.4f} at ${cost:.5f}: {100 * (acc - f_acc):+.2f} points, "
            f"cost ×{cost / f_cost:.2f}{'  [within 3 points, no dearer]' if ok else ''}",
            flush=True,
        )
    print(f"   settings meeting 'within 3 points at no higher cost' on train streams: {met} of {len(grid)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=positive_int, default=8, help="train streams per setting")
    args = parser.parse_args()
    train = lab.load_routerbench(data_directory(), "train")
    print(f"== Online routing on RouterBench train streams ({len(train)} train prompts; the test split is not read)")
    study(train, args.seeds)


if __name__ == "__main__":
    with bad_data_exits("routing_online_study.py"):
        main()
