from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from orchestratex.exceptions import UserError
from orchestratex.lab import Curve, OperatingPoint, OutcomeTable, aiq, apgr, cpt, hull, pgr, ranking_curve


def _curve(name: str, *points: tuple[float, float]) -> Curve:
    return Curve(name, tuple(OperatingPoint(c, q) for c, q in points))


def test_hull_is_upper_convex_and_non_decreasing() -> None:
    points = [(0.0, 0.5), (1.0, 0.6), (2.0, 0.9), (3.0, 0.8), (4.0, 1.0), (1.5, 0.55), (5.0, 0.95)]
    # (1.0, 0.6) lies under the chord from (0, 0.5) to (2, 0.9); (3, 0.8) under (2, 0.9)–(4, 1.0);
    # nothing after the best point (4, 1.0) counts.
    assert hull(points) == [(0.0, 0.5), (2.0, 0.9), (4.0, 1.0)]
    assert hull([(1.0, 0.7), (1.0, 0.9)]) == [(1.0, 0.9)]
    with pytest.raises(ValueError):
        hull([])


def test_aiq_integrates_the_hull_extended_flat_to_the_largest_cost() -> None:
    a = _curve("a", (0.0, 0.5), (2.0, 0.9), (4.0, 1.0))
    b = _curve("b", (1.0, 0.6), (8.0, 0.8))
    result = aiq([a, b])
    # a: trapezoids 2×0.7 + 2×0.95 = 3.3, then flat 1.0 from 4 to 8 = 4  → 7.3 / 8
    assert result["a"] == pytest.approx(7.3 / 8)
    # b: nothing below its cheapest point; 7 × 0.7 = 4.9 → 4.9 / 8
    assert result["b"] == pytest.approx(4.9 / 8)
    assert aiq([a], max_cost=4.0)["a"] == pytest.approx(3.3 / 4)
    with pytest.raises(ValueError):
        aiq([])


def test_pgr_apgr_and_cpt() -> None:
    assert pgr(0.75, weak=0.5, strong=1.0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="undefined"):
        pgr(0.5, weak=0.7, strong=0.7)
    linear = _curve("linear", (0.0, 0.5), (1.0, 1.0))
    assert apgr(linear, weak=0.5, strong=1.0) == pytest.approx(0.5)
    assert cpt(linear, 0.5, weak=0.5, strong=1.0) == pytest.approx(0.5)
    assert cpt(linear, 0.8, weak=0.5, strong=1.0) == pytest.approx(0.8)
    good = _curve("good", (0.0, 0.5), (0.2, 0.9), (1.0, 1.0))
    # PGR 0 → 0.8 over [0, 0.2], 0.8 → 1 over [0.2, 1]: 0.08 + 0.72
    assert apgr(good, weak=0.5, strong=1.0) == pytest.approx(0.8)
    assert cpt(good, 0.5, weak=0.5, strong=1.0) == pytest.approx(0.125)
    assert cpt(_curve("flat", (0.0, 0.5), (1.0, 0.6)), 0.8, weak=0.5, strong=1.0) is None
    with pytest.raises(ValueError, match="shares"):
        apgr(_curve("dollars", (0.0, 0.5), (3.0, 1.0)), weak=0.5, strong=1.0)


@pytest.mark.parametrize("target", [2, 50, -0.1, float("nan"), "0.5", True])  # ("0.5": a TypeError before)
def test_cpt_refuses_a_target_outside_0_to_1(target: float) -> None:
    linear = _curve("linear", (0.0, 0.5), (1.0, 1.0))
    with pytest.raises(UserError, match=r"between 0 and 1 \(0.5 for CPT\(50%\)\)"):
        cpt(linear, target, weak=0.5, strong=1.0)
    assert cpt(linear, 1, weak=0.5, strong=1.0) == pytest.approx(1.0)
    assert cpt(linear, 0, weak=0.5, strong=1.0) == 0.0


def _two_model_table(costs: tuple[float, float]) -> OutcomeTable:
    rng = np.random.default_rng(0)
    quality = np.stack([rng.random(50) < 0.9, rng.random(50) < 0.5], axis=1).astype(float)
    return OutcomeTable(
        name="two",
        models=("strong", "weak"),
        prompts=tuple(f"p{i}" for i in range(50)),
        quality=quality,
        cost=np.tile(costs, (50, 1)),
    )


def test_apgr_and_cpt_refuse_a_curve_in_dollars() -> None:
    dollars = _two_model_table((0.01, 0.0002))  # every cost under $1: in 0–1, yet not a share of calls
    curve = ranking_curve(dollars, dollars.quality[:, 0] - dollars.quality[:, 1], name="dollars")
    weak, strong = float(dollars.quality[:, 1].mean()), float(dollars.quality[:, 0].mean())
    refused = "'dollars': APGR and CPT need costs that are the share of strong-model calls"
    with pytest.raises(UserError, match=refused):
        apgr(curve, weak=weak, strong=strong)
    with pytest.raises(UserError, match=refused):
        cpt(curve, 0.5, weak=weak, strong=strong)
    shares = _two_model_table((1.0, 0.0))  # as load_routellm gives: the same curve, on the share axis
    curve = ranking_curve(shares, shares.quality[:, 0] - shares.quality[:, 1], name="shares")
    assert 0.8 < apgr(curve, weak=weak, strong=strong) < 0.9  # an oracle ranking: well above random (0.5)


def test_curve_queries() -> None:
    curve = _curve("c", (0.3, 0.7), (0.1, 0.5), (0.2, 0.8))
    assert [p.cost for p in curve.points] == [0.1, 0.2, 0.3]
    assert curve.best_within(0.25) == OperatingPoint(0.2, 0.8)
    assert curve.best_within(0.05) is None
    assert curve.cheapest_reaching(0.6) == OperatingPoint(0.2, 0.8)
    assert curve.cheapest_reaching(0.9) is None
    assert curve.as_rows()[0] == {"cost": 0.1, "quality": 0.5, "knob": None}
    with pytest.raises(ValueError, match="no points"):
        Curve("empty", ())


@pytest.mark.parametrize(("weak", "strong"), [("mixtral", "gpt-4"), (0.6, float("nan")), (None, 0.8)])
def test_pgr_apgr_and_cpt_refuse_a_weak_or_strong_that_is_not_a_mean_quality(weak: object, strong: object) -> None:
    # Before: TypeError "unsupported operand type(s) for -: 'float' and 'str'" for model names.
    curve = _curve("r", (0.0, 0.6), (1.0, 0.8))
    with pytest.raises(ValueError, match=r"PGR's (weak|strong) is a mean quality"):
        pgr(0.7, weak=weak, strong=strong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"PGR's (weak|strong) is a mean quality"):
        apgr(curve, weak=weak, strong=strong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"PGR's (weak|strong) is a mean quality"):
        cpt(curve, 0.5, weak=weak, strong=strong)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cost", "quality"), [(float("nan"), 0.5), (0.1, float("nan")), (float("inf"), 0.5), (-1, 0.5)]
)
def test_a_curve_refuses_a_point_that_is_not_finite_or_costs_less_than_nothing(cost: float, quality: float) -> None:
    # Before: a NaN point made the curve's hull fail with "IndexError: list index out of range" in aiq.
    with pytest.raises(UserError, match=r"curve 'c' has the point \(cost .*\): a point's cost and quality are finite"):
        Curve("c", (OperatingPoint(0.001, 0.4), OperatingPoint(cost, quality)))


def test_aiq_refuses_a_max_cost_that_is_not_finite() -> None:
    # Before: max_cost=nan gave every curve an AIQ of nan.
    with pytest.raises(UserError, match=r"AIQ needs a positive, finite largest cost \(max_cost\); got nan"):
        aiq([Curve("c", (OperatingPoint(0.001, 0.4),))], max_cost=float("nan"))


def test_aiq_cuts_a_hull_at_max_cost_between_two_of_its_points() -> None:
    """Before: the hull's points past `max_cost` were dropped and the last one before it extended flat, so a curve
    reaching (0.01, 0.9) from (0.001, 0.6) was counted at 0.6 all the way to max_cost=0.005, below what mixing its
    two points reaches there (0.733…), and ranked under a curve it beats."""
    zero = _curve("zero", (0.001, 0.6), (0.01, 0.9))
    at = 0.6 + 0.3 * 4 / 9  # the hull's quality at $0.005
    assert aiq([zero], max_cost=0.005)["zero"] == pytest.approx(0.004 * (0.6 + at) / 2 / 0.005)
    flat = _curve("flat", (0.001, 0.66))  # below zero's hull everywhere past $0.0015
    result = aiq([zero, flat], max_cost=0.005)
    assert result["zero"] > result["flat"]
    assert aiq([zero], max_cost=0.01)["zero"] == pytest.approx(0.009 * 0.75 / 0.01)  # a hull point: unchanged


def test_aiq_refuses_two_curves_of_one_name_rather_than_keep_the_last() -> None:
    """Before: `aiq([lab.fitted_curve(tfidf, test), lab.fitted_curve(task_only, test)])` (both named after the
    router, `fitted`) returned one figure, the second curve's, under that name; a single Curve failed with
    "'Curve' object is not iterable", and a generator of curves gave {} (it was read up by the largest cost)."""
    a, b = _curve("fitted", (0.0, 0.5), (1.0, 0.9)), _curve("fitted", (0.0, 0.4), (1.0, 0.6))
    with pytest.raises(UserError, match=r"two curves are named 'fitted'.*name='task-only'"):
        aiq([a, b])
    with pytest.raises(UserError, match=r"takes a list of curves, not one Curve \('fitted'\)"):
        aiq(a)  # type: ignore[arg-type]
    assert aiq(c for c in (a, _curve("other", (0.0, 0.4), (1.0, 0.6)))) == pytest.approx(  # type: ignore[arg-type]
        {"fitted": 0.7, "other": 0.5}
    )


def test_plot_curves_refuses_two_curves_of_one_name_and_draws_points_alone() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from orchestratex.lab import plot_curves

    a = _curve("fitted", (0.0, 0.5), (1.0, 0.9))
    with pytest.raises(UserError, match="two curves are named 'fitted'"):
        plot_curves([a, a])
    ax = plot_curves([], {"gpt-4": OperatingPoint(0.005, 0.95)})
    assert [t.get_text() for t in ax.texts] == ["gpt-4"]


def test_a_curve_of_cost_quality_pairs_says_to_write_operating_points() -> None:
    """Before: `Curve("mine", [(0.001, 0.8), (0.002, 0.9)])` — pairs, as `hull` takes them — failed with
    "'tuple' object has no attribute 'cost'"; a list of points is now kept as a tuple, and a generator is read."""
    pairs: Any = [(0.001, 0.8), (0.002, 0.9)]
    with pytest.raises(UserError, match=r"not tuple \(0.001, 0.8\): write lab.OperatingPoint\(0.001, 0.8\)"):
        Curve("mine", pairs)
    made = Curve("mine", [OperatingPoint(c, q) for c, q in pairs])  # type: ignore[arg-type]
    assert isinstance(made.points, tuple) and aiq([made])["mine"] == pytest.approx(0.001 * 0.85 / 0.002)


def test_plot_curves_says_how_to_give_a_loop_replays_point() -> None:
    """Before: the docs give `LoopReplay.point()` "for `plot_curves`", and `plot_curves(curves, replay.point())` (or a
    list of points, or a label's (cost, quality) pair) failed inside with "'OperatingPoint' object has no attribute
    'items'"; now a `UserError` shows the mapping to write, and the mapping draws the labelled point."""
    pytest.importorskip("matplotlib")
    import asyncio

    import matplotlib

    matplotlib.use("Agg")
    from orchestratex.lab import SimulatedJudge, plot_curves, replay_loop
    from orchestratex.routing.bandit import BayesianRouter

    table = OutcomeTable(
        name="toy",
        models=("cheap", "strong"),
        prompts=tuple(f"question {i}" for i in range(6)),
        quality=np.array([[1.0, 1.0], [0.0, 1.0]] * 3),
        cost=np.tile([0.001, 0.01], (6, 1)),
    )
    loop = asyncio.run(replay_loop(table, router=BayesianRouter(), judge=SimulatedJudge(), progress=False)).point()
    curve = _curve("fitted", (0.0, 0.5), (1.0, 0.9))
    for given in (loop, [loop]):
        with pytest.raises(UserError, match=r'points maps each label to a lab.OperatingPoint, e.g. points=\{"loop"'):
            plot_curves([curve], given)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"the point labelled 'loop' is tuple \(0.001, 0.8\), not a lab.OperatingPoint"):
        plot_curves([curve], {"loop": (0.001, 0.8)})  # type: ignore[dict-item]
    ax = plot_curves([curve], {"loop": loop})
    assert [t.get_text() for t in ax.texts] == ["loop"]


def test_hull_takes_pairs_as_lists_or_array_rows_and_refuses_a_nan() -> None:
    """Before: `hull([[0.1, 0.5], [0.2, 0.7]])` (pairs read from JSON) failed with "unhashable type: 'list'", a numpy
    array with "truth value of an array ... is ambiguous", and a NaN quality (an unobserved cell's mean) returned
    `[(0.1, nan)]`: a wrong hull that dropped the point of quality 0.7 without a word."""
    pairs = [(0.1, 0.5), (0.2, 0.45), (0.3, 0.7)]
    expected = [(0.1, 0.5), (0.3, 0.7)]
    assert hull(pairs) == expected
    assert hull([list(p) for p in pairs]) == expected  # type: ignore[misc]
    assert hull(np.asarray(pairs)) == expected  # type: ignore[arg-type]
    assert hull([OperatingPoint(c, q) for c, q in pairs]) == expected  # type: ignore[misc]
    with pytest.raises(UserError, match=r"the point \(0.1, nan\) is not a \(cost, quality\) pair of finite numbers"):
        hull([(0.1, float("nan")), (0.2, 0.7)])
    with pytest.raises(UserError, match=r"the point \(0.1, 0.5, 1\) is not a \(cost, quality\) pair"):
        hull([(0.1, 0.5, 1)])  # type: ignore[list-item]
    with pytest.raises(UserError, match=r"for the curve 'fitted', call its \.hull\(\)"):
        hull(_curve("fitted", (0.0, 0.5), (1.0, 0.9)))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="no points"):
        hull([])
