"""Routing measured on real per-prompt outcomes (RouterBench, RouteLLM), offline: no provider is called.

    .venv/bin/python benchmarks/routing.py [--seeds 5]

Reads the data from `$ORCHESTRATEX_DATA_DIR`, else `../shared/data/routing` next to the repo.
Held-out data stays held out: every hyper-parameter (the ridge `alpha`, the cost knob of each
budget) is chosen by 5-fold cross-validation inside RouterBench *train*; the test split is
scored once, at the end. RouteLLM's sets have no split: they are scored by 5-fold CV (on
MT-Bench the feature set and the ridge `alpha` are chosen by an inner 5-fold CV inside each outer
training fold, so its figure includes that selection).

Each measurement runs for the hashed TF-IDF features (default) and, when the `embeddings` extra
is installed, for MiniLM sentence embeddings too (`FittedRouter(features="minilm")`; adds about
two minutes: every prompt is embedded once, MMLU's 14k prompts are left out).

Prints:
1. RouterBench test (arc_challenge + mbpp + winogrande, 945 prompts, 11 models): the fitted and
   task-only routers' operating points at the knobs chosen on train for $0.0020 and $0.0005 per
   prompt, AIQ of every curve, and the baselines (each model alone, random, oracle); and, on
   train, the ceiling of any routing by task alone at those budgets.
2. The fitted router's median decision latency over 11 candidates.
3. RouteLLM GSM8K, MMLU, MT-Bench (contaminated prompts excluded): APGR, CPT(50%), CPT(80%),
   and MT-Bench's score at 25% GPT-4 calls and the GPT-4 share needed for 8.7579.
4. Online: the RouterBench test prompts as a shuffled stream from an empty start, bandit
   feedback only; accuracy and cost over the last half, against the fitted router with the same
   cost knob on the same prompts.

Targets (issue 6): RouterBench test accuracy >= 0.880 at <= $0.0020, >= 0.850 at <= $0.0005;
MT-Bench 8.7579 with <= 25% GPT-4 calls; online within 3 points of the fitted router at no
higher cost; decision <= 1 ms median.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _data import bad_data_exits, routing_data
from numpy.typing import NDArray

from orchestratex import lab
from orchestratex.catalog import ModelProfile
from orchestratex.lab._embed import embeddings_available
from orchestratex.routing import BayesianRouter, Router, Task
from orchestratex.routing.contextual import ContextualRouter
from orchestratex.routing.fitted import FittedRouter

ROOT = Path(__file__).resolve().parent.parent
ALPHAS = (3.0, 10.0, 30.0, 100.0)
MT_ALPHAS = (1.0, 3.0, 10.0, 30.0)
BUDGETS = (0.0020, 0.0005)
GOALS = {0.0020: 0.880, 0.0005: 0.850}


@functools.cache
def _make(features: str) -> Callable[..., FittedRouter]:
    """A FittedRouter factory for a feature set; MiniLM routers share one embedder (and its cache)."""
    if features == "minilm":
        from orchestratex.lab._embed import MiniLMEmbedder

        embedder = MiniLMEmbedder(cache_size=20_000)
        return functools.partial(FittedRouter, features="minilm", embedder=embedder)
    return FittedRouter


def feature_sets() -> list[str]:
    return ["tfidf", "minilm"] if embeddings_available() else ["tfidf"]


def cv_predictions(
    table: lab.OutcomeTable, make: Callable[[], FittedRouter], k: int = 5
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Out-of-fold (quality, cost) predictions of routers built by `make()` and fitted on the other folds."""
    q = np.zeros_like(table.quality)
    c = np.zeros_like(table.cost)
    for train_rows, test_rows in table.kfold(k, seed=0):
        router = make().fit(table.subset(train_rows))
        q[test_rows], c[test_rows] = router.predict_table(table.subset(test_rows))
    return q, c


def task_ceiling(table: lab.OutcomeTable, budget: float) -> float:
    """The best accuracy of any routing by task alone within `budget`, knowing each task's per-model means.

    A linear program over the share of each task's prompts sent to each model (mixing allowed):
    an upper bound for routers that see only the task, computed on the table it is given.
    """
    from scipy.optimize import linprog

    tasks = np.asarray([table.task_of(i) for i in range(len(table))])
    names, m = table.task_names, len(table.models)
    weight = np.asarray([(tasks == t).mean() for t in names])
    acc = np.stack([table.quality[tasks == t].mean(axis=0) for t in names])
    cost = np.stack([table.cost[tasks == t].mean(axis=0) for t in names])
    one_per_task = np.kron(np.eye(len(names)), np.ones(m))
    result = linprog(
        -(weight[:, None] * acc).ravel(),
        A_ub=[(weight[:, None] * cost).ravel()],
        b_ub=[budget],
        A_eq=one_per_task,
        b_eq=np.ones(len(names)),
        bounds=(0, 1),
    )
    return float(-result.fun)


def data_directory() -> Path:
    """The routing data directory this benchmark reads (see `_data.routing_data`)."""
    needed = [f"routerbench/{task}_{split}.csv" for task in lab.ROUTERBENCH_TASKS for split in ("train", "test")]
    needed += ["routellm/gsm8k/gsm8k_responses.csv", "routellm/mt_bench/question.jsonl", "routellm/mmlu"]
    return routing_data("routing.py", None, needed, flag=False)


def positive(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number >= 1, e.g. --seeds 5; got {text!r}")
    return value


def online_target_met(acc: float, cost: float, fitted_acc: float, fitted_cost: float) -> bool:
    """Issue 6's online target: accuracy within 3 points of the fitted router's, at no higher cost."""
    return acc >= fitted_acc - 0.03 and cost <= fitted_cost


def fmt_point(p: lab.OperatingPoint | None) -> str:
    return "—" if p is None else f"accuracy {p.quality:.4f} at ${p.cost:.5f}/prompt"


def routerbench(data: Path) -> tuple[float, dict[str, FittedRouter], list[ModelProfile], lab.OutcomeTable]:
    train = lab.load_routerbench(data, "train")
    test = lab.load_routerbench(data, "test")
    profiles = lab.profiles_for(train, provider="routerbench")
    gpt4 = train.model_index("gpt-4-1106-preview")
    scale = float(train.cost[:, gpt4].mean()) * 1.1
    print(
        f"== RouterBench: train {len(train)} prompts (fit, CV), test {len(test)} prompts (scored once), "
        f"{len(train.models)} models"
    )
    q_task, c_task = cv_predictions(train, lambda: FittedRouter(text=False))
    cv_task = lab.sweep(train, q_task, c_task, name="task-only")
    task_knobs = {b: (p.knob if (p := cv_task.best_within(b)) else None) for b in BUDGETS}
    for budget in BUDGETS:
        point = cv_task.best_within(budget)
        print(f"  task-only knob for <= ${budget:.4f} (train CV): {task_knobs[budget]} ({fmt_point(point)})")
    print(
        "  ceiling of routing by task on train (per-task means known exactly, mixing allowed): "
        + ", ".join(f"{task_ceiling(train, b):.4f} at <= ${b:.4f}" for b in BUDGETS)
    )

    # -- per feature set: alpha by 5-fold CV on train (AIQ of the CV curve), then each budget's knob --
    routers: dict[str, FittedRouter] = {}
    knobs: dict[str, dict[float, float | None]] = {}
    for features in feature_sets():
        make = _make(features)
        cv_aiq, cv_curves = {}, {}
        for alpha in ALPHAS:
            q, c = cv_predictions(train, functools.partial(make, alpha=alpha))
            cv_curves[alpha] = lab.sweep(train, q, c, name=f"alpha={alpha:g}")
            cv_aiq[alpha] = lab.aiq([cv_curves[alpha]], max_cost=scale)[cv_curves[alpha].name]
        alpha = max(cv_aiq, key=lambda a: cv_aiq[a])
        print(
            f"  {features}: train 5-fold CV AIQ by ridge alpha: "
            + ", ".join(f"{a:g}: {v:.4f}" for a, v in cv_aiq.items())
            + f" -> alpha={alpha:g} (task-only {lab.aiq([cv_task], max_cost=scale)['task-only']:.4f})"
        )
        knobs[features] = {}
        for budget in BUDGETS:
            point = cv_curves[alpha].best_within(budget)
            knobs[features][budget] = point.knob if point else None
            print(f"    knob for <= ${budget:.4f} (train CV): {knobs[features][budget]} ({fmt_point(point)})")
        routers[features] = make(alpha=alpha).fit(train, profiles=profiles)
    task_only = FittedRouter(text=False).fit(train, profiles=profiles)

    score_test(test, routers, task_only, knobs, task_knobs)
    return knobs["tfidf"][0.0020] or 0.0, routers, profiles, test


def score_test(
    test: lab.OutcomeTable,
    routers: dict[str, FittedRouter],
    task_only: FittedRouter,
    knobs: dict[str, dict[float, float | None]],
    task_knobs: dict[float, float | None],
) -> None:
    """Score RouterBench test once, at the knobs chosen on train."""
    print("\nRouterBench TEST (scored once):")
    preds = {f"fitted/{f}": r.predict_table(test) for f, r in routers.items()}
    preds["task-only"] = task_only.predict_table(test)
    for budget in BUDGETS:
        for label, (q, c) in preds.items():
            knob = task_knobs[budget] if label == "task-only" else knobs[label.split("/")[1]][budget]
            if knob is None:
                print(f"  {label:14s} target <= ${budget:.4f}: no train-CV knob fits that budget")
                continue
            p = lab.sweep(test, q, c, name=label, cost_weights=[knob]).points[0]
            verdict = ""
            if label != "task-only":
                goal = GOALS[budget]
                ok = p.quality >= goal and p.cost <= budget
                verdict = f"  [target >= {goal:.3f} at <= ${budget:.4f}: {'MET' if ok else 'MISSED'}]"
            print(f"  {label:14s} knob {knob:8.4g} (chosen on train for <= ${budget:.4f}): {fmt_point(p)}{verdict}")

    curves = [lab.sweep(test, q, c, name=label) for label, (q, c) in preds.items()]
    curves += [lab.zero_router_curve(test), lab.oracle_curve(test)]
    top = max(c.max_cost for c in curves)
    print(f"  AIQ (hull extended flat to ${top:.5f}, divided by it):")
    for name, value in lab.aiq(curves).items():
        print(f"    {name:34s} {value:.4f}")
    for curve in curves[: len(routers)]:
        print(f"  operating points of {curve.name} on test (ex post, for the curve; not used to choose):")
        for budget in (0.0005, 0.0010, 0.0015, 0.0020, 0.0030):
            print(f"    best within ${budget:.4f}: {fmt_point(curve.best_within(budget))}")
    print("  baselines on test:")
    for name, p in lab.single_model_points(test).items():
        print(f"    {name:34s} {fmt_point(p)}")
    print(f"    {'random (uniform)':34s} {fmt_point(lab.random_point(test))}")
    print(f"    {'oracle (best, then cheapest)':34s} {fmt_point(lab.oracle_curve(test, cost_weights=[0.0]).points[0])}")


def latency(router: FittedRouter, profiles: list[ModelProfile], test: lab.OutcomeTable) -> None:
    times = []
    embedder, kept = router.embedder, 0
    if embedder is not None:  # measure a first sight of each prompt, not a cache hit
        embedder.clear_cache()
        kept, embedder.cache_size = embedder.cache_size, 0
    for i, prompt in enumerate(test.prompts):
        task = Task(prompt=prompt, domain=test.task_of(i))
        start = time.perf_counter()
        router.decide(task, profiles)
        times.append(time.perf_counter() - start)
    if embedder is not None:
        embedder.cache_size = kept
    times.sort()
    print(
        f"\n== Decision latency, FittedRouter ({router.features}) over {len(profiles)} candidates, "
        f"{len(times)} test prompts: "
        f"median {statistics.median(times) * 1e3:.3f} ms, p95 {times[int(0.95 * len(times))] * 1e3:.3f} ms "
        f"[target <= 1 ms median: {'MET' if statistics.median(times) <= 1e-3 else 'MISSED'}]"
    )


def nested_cv_gain(
    table: lab.OutcomeTable, candidates: dict[str, Callable[[], FittedRouter]], k: int = 5
) -> tuple[NDArray[np.float64], list[str]]:
    """Out-of-fold strong − weak predicted quality, with the router chosen by inner k-fold CV.

    In each outer fold, every candidate (a feature set and a ridge `alpha`) is scored by the APGR of
    an inner k-fold CV on that fold's training rows only; the best is refitted on them and predicts
    the held-out fold. Returns the gains and the candidate chosen in each outer fold.
    """
    strong, weak = (float(v) for v in table.quality.mean(axis=0))
    gain = np.zeros(len(table))
    chosen = []
    for train_rows, test_rows in table.kfold(k, seed=0):
        inner = table.subset(train_rows)
        scores = {}
        for label, make in candidates.items():
            q, _ = cv_predictions(inner, make, k)
            scores[label] = lab.apgr(
                lab.ranking_curve(inner, q[:, 0] - q[:, 1], name="inner"), weak=weak, strong=strong
            )
        best = max(scores, key=lambda label: scores[label])
        chosen.append(best)
        q, _ = candidates[best]().fit(inner).predict_table(table.subset(test_rows))
        gain[test_rows] = q[:, 0] - q[:, 1]
    return gain, chosen


def _mt_bench_verdict(curve: lab.Curve, c: Callable[[float | None], str]) -> None:
    at25 = curve.best_within(0.25)
    need = curve.cheapest_reaching(8.7579)
    ok = need is not None and need.cost <= 0.25
    print(
        f"      MT-Bench score at <= 25% GPT-4 calls: {at25.quality:.4f} ({at25.cost * 100:.1f}%); "  # type: ignore[union-attr]
        f"8.7579 first reached at {c(need.cost if need else None)} GPT-4 calls "
        f"[target <= 25%: {'MET' if ok else 'MISSED'}]"
    )


def routellm(data: Path) -> None:
    print("\n== RouteLLM (gpt-4-1106-preview vs Mixtral-8x7B), 5-fold CV, contaminated prompts excluded")

    def c(x: float | None) -> str:
        return "never" if x is None else f"{x * 100:.1f}%"

    def report(label: str, curve: lab.Curve, weak: float, strong: float) -> None:
        print(
            f"    {label}: APGR {lab.apgr(curve, weak=weak, strong=strong):.4f}, "
            f"CPT(50%) {c(lab.cpt(curve, 0.5, weak=weak, strong=strong))}, "
            f"CPT(80%) {c(lab.cpt(curve, 0.8, weak=weak, strong=strong))}"
        )

    for bench in ("gsm8k", "mmlu", "mt_bench"):
        table = lab.load_routellm(data, bench)
        strong, weak = (float(v) for v in table.quality.mean(axis=0))
        rng = np.random.default_rng(0)
        base = lab.apgr(lab.ranking_curve(table, rng.random(len(table)), name="random"), weak=weak, strong=strong)
        print(f"  {bench:8s} n={len(table):5d} weak {weak:.4f} strong {strong:.4f}, random routing APGR {base:.4f}")
        if bench == "mt_bench":
            # Every choice (feature set, alpha) is made inside each outer training fold: the score is a
            # clean out-of-fold figure, the selection included.
            every: dict[str, Callable[[], FittedRouter]] = {}
            for features in feature_sets():
                grid = {f"{features} alpha={a:g}": functools.partial(_make(features), alpha=a) for a in MT_ALPHAS}
                gain, chosen = nested_cv_gain(table, dict(grid))
                report(
                    f"{features:8s} (alpha by inner CV: {', '.join(chosen)})",
                    lab.ranking_curve(table, gain, name=features),
                    weak,
                    strong,
                )
                every |= grid
            if len(every) > len(MT_ALPHAS):
                gain, chosen = nested_cv_gain(table, every)
                curve = lab.ranking_curve(table, gain, name="selected")
                report(f"selected (features and alpha by inner CV: {', '.join(chosen)})", curve, weak, strong)
            else:
                curve = lab.ranking_curve(table, gain, name="tfidf")
            _mt_bench_verdict(curve, c)
            continue
        for features in feature_sets():
            if features == "minilm" and bench == "mmlu":
                print("    minilm   (left out: embedding 14k prompts takes several minutes)")
                continue
            q, _ = cv_predictions(table, _make(features))
            report(
                f"{features:8s} (alpha 10)", lab.ranking_curve(table, q[:, 0] - q[:, 1], name=features), weak, strong
            )


async def stream_run(router: Router, stream: lab.OutcomeTable, profiles: list[ModelProfile]) -> lab.OperatingPoint:
    played = await lab.replay(router, stream, profiles)
    return played.point(len(stream) // 2)


def online(knob: float, fitted: FittedRouter, profiles: list[ModelProfile], test: lab.OutcomeTable, seeds: int) -> None:
    print(
        f"\n== Online: RouterBench test as a shuffled stream ({len(test)} prompts), empty start, bandit feedback; "
        f"last half, mean over {seeds} seeds; cost knob {knob:.4g} (chosen on train for <= $0.0020)"
    )
    half = len(test) // 2
    rows: dict[str, list[lab.OperatingPoint]] = {
        "fitted (same knob, no learning)": [],
        "ContextualRouter": [],
        "BayesianRouter (default, as is)": [],
    }
    for seed in range(seeds):
        order = np.random.default_rng(100 + seed).permutation(len(test))
        stream = test.subset(order)
        q, c = fitted.predict_table(stream)
        rows["fitted (same knob, no learning)"].append(
            lab.sweep(
                stream.subset(np.arange(half, len(stream))), q[half:], c[half:], name="f", cost_weights=[knob]
            ).points[0]
        )
        rows["ContextualRouter"].append(
            asyncio.run(stream_run(ContextualRouter(cost_weight=knob, seed=seed), stream, profiles))
        )
        rows["BayesianRouter (default, as is)"].append(
            asyncio.run(stream_run(BayesianRouter(seed=seed), stream, profiles))
        )
    means = {k: (statistics.mean(p.quality for p in v), statistics.mean(p.cost for p in v)) for k, v in rows.items()}
    for name, (acc, cost) in means.items():
        print(f"  {name:34s} accuracy {acc:.4f} at ${cost:.5f}/prompt")
    f_acc, f_cost = means["fitted (same knob, no learning)"]
    o_acc, o_cost = means["ContextualRouter"]
    ok = online_target_met(o_acc, o_cost, f_acc, f_cost)
    print(
        f"  ContextualRouter vs fitted: {100 * (o_acc - f_acc):+.2f} points, cost ×{o_cost / f_cost:.2f} "
        f"[target within 3 points at no higher cost: {'MET' if ok else 'MISSED'}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=positive, default=5, help="streams (shuffles) averaged in the online run")
    args = parser.parse_args()
    data = data_directory()
    knob, routers, profiles, test = routerbench(data)
    for router in routers.values():
        latency(router, profiles, test)
    routellm(data)
    online(knob, routers["tfidf"], profiles, test, args.seeds)


if __name__ == "__main__":
    with bad_data_exits("routing.py"):
        main()
