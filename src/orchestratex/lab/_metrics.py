"""Cost–quality curves and the metrics of RouterBench (AIQ) and RouteLLM (PGR, APGR, CPT)."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from ..exceptions import UserError

__all__ = ["Curve", "OperatingPoint", "aiq", "apgr", "check_curves", "cpt", "hull", "pgr"]


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """What a router achieves at one setting of its cost knob, averaged over a table's prompts."""

    cost: float
    """Mean cost per prompt (US dollars, or the share of strong-model calls on a two-model set)."""
    quality: float
    """Mean quality per prompt, on the table's scale."""
    knob: float | None = None
    """The setting that produced it (e.g. `cost_weight`), when there is one."""
    shares: Mapping[str, float] = field(default_factory=dict)
    """Share of prompts routed to each model."""


@dataclass(frozen=True, slots=True)
class Curve:
    """A router's operating points, cheapest first."""

    name: str
    points: tuple[OperatingPoint, ...]

    def __post_init__(self) -> None:
        if isinstance(self.points, str | bytes) or not isinstance(self.points, Iterable):
            raise UserError(f"curve {self.name!r}: points is a list of lab.OperatingPoint(cost, quality)")
        object.__setattr__(self, "points", tuple(self.points))
        if not self.points:
            raise UserError(f"curve {self.name!r} has no points")
        odd = next((p for p in self.points if not isinstance(p, OperatingPoint)), None)
        if odd is not None:  # (a (cost, quality) pair, as hull() takes them, failed with "no attribute 'cost'")
            pair = f"lab.OperatingPoint{tuple(odd)!r}" if isinstance(odd, tuple) and len(odd) == 2 else "…"
            raise UserError(
                f"curve {self.name!r}: a point is a lab.OperatingPoint(cost, quality), not {type(odd).__name__} "
                f"{odd!r}: write {pair}"
            )
        for p in self.points:
            if not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in (p.cost, p.quality)) or p.cost < 0:
                raise UserError(
                    f"curve {self.name!r} has the point (cost {p.cost!r}, quality {p.quality!r}): a point's cost and "
                    "quality are finite numbers, the cost >= 0 (was a table cell unobserved? use table.complete())"
                )
        object.__setattr__(self, "points", tuple(sorted(self.points, key=lambda p: (p.cost, -p.quality))))

    @property
    def max_cost(self) -> float:
        return self.points[-1].cost

    def best_within(self, max_cost: float) -> OperatingPoint | None:
        """The best-quality point whose mean cost is at most `max_cost` (None if all cost more)."""
        fitting = [p for p in self.points if p.cost <= max_cost]
        return max(fitting, key=lambda p: (p.quality, -p.cost)) if fitting else None

    def cheapest_reaching(self, quality: float) -> OperatingPoint | None:
        """The cheapest point of at least `quality` (None if none reaches it)."""
        reaching = [p for p in self.points if p.quality >= quality]
        return min(reaching, key=lambda p: (p.cost, -p.quality)) if reaching else None

    def hull(self) -> list[tuple[float, float]]:
        """The non-decreasing convex hull of the points (see `hull`)."""
        return hull([(p.cost, p.quality) for p in self.points])

    def as_rows(self) -> list[dict[str, float | None]]:
        """The points as plain dictionaries (cost, quality, knob)."""
        return [{"cost": p.cost, "quality": p.quality, "knob": p.knob} for p in self.points]


def hull(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The non-decreasing convex hull of (cost, quality) points, as RouterBench defines it.

    The upper convex hull from the cheapest point (best quality among the cheapest) up to the
    best-quality point (cheapest among the best): what a router can reach at each cost by
    mixing its operating points at random, never paying more for less. The points are (cost, quality)
    pairs (tuples, lists, the rows of a numpy array, or `OperatingPoint`s) of finite numbers, costs >= 0;
    anything else is a `UserError`.
    """
    pts = sorted(set(_pairs(points)), key=lambda p: (p[0], -p[1]))
    start = pts[0]
    top = max(pts, key=lambda p: (p[1], -p[0]))
    pts = [p for p in pts if start[0] <= p[0] <= top[0]]
    upper: list[tuple[float, float]] = []
    for p in pts:
        if upper and p[0] == upper[-1][0]:
            continue  # same cost, lower quality (sorted so)
        while len(upper) >= 2:
            (x1, y1), (x2, y2) = upper[-2], upper[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:
                upper.pop()
            else:
                break
        upper.append(p)
    out = [upper[0]]
    for p in upper[1:]:
        if p[1] > out[-1][1]:
            out.append(p)
    return out


def _pairs(points: object) -> list[tuple[float, float]]:
    """`hull`'s points as (cost, quality) float pairs, else a `UserError` naming the first that is not one (before:
    a list of lists or a numpy array failed with "unhashable type", and a NaN quality dropped every later point)."""
    if isinstance(points, Curve):
        raise UserError(f"hull(points) takes (cost, quality) pairs; for the curve {points.name!r}, call its .hull()")
    if isinstance(points, str | bytes) or not isinstance(points, Iterable):
        raise UserError(f"hull(points) takes a list of (cost, quality) pairs, not {type(points).__name__}")
    pairs = []
    for point in points:
        if isinstance(point, OperatingPoint):
            pair: tuple[object, ...] = (point.cost, point.quality)
        elif isinstance(point, Iterable) and not isinstance(point, str | bytes):
            pair = tuple(point)
        else:
            pair = (point,)
        cost, quality = pair if len(pair) == 2 else (None, None)
        if not all(_finite(v) for v in (cost, quality)) or cast(float, cost) < 0:
            raise UserError(
                f"hull(points): the point {point!r} is not a (cost, quality) pair of finite numbers with cost >= 0 "
                "(was a table cell unobserved? use table.complete())"
            )
        pairs.append((float(cast(float, cost)), float(cast(float, quality))))
    if not pairs:
        raise UserError("no points")
    return pairs


def _finite(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def aiq(curves: Sequence[Curve], *, max_cost: float | None = None) -> dict[str, float]:
    """Average improvement in quality (RouterBench) of each curve.

    The area under each curve's non-decreasing convex hull, extended flat to `max_cost` (by
    default the largest cost among the compared curves), divided by `max_cost`. Nothing is
    counted below a curve's cheapest point; a hull that goes on past `max_cost` is cut there
    (its quality at `max_cost` read on the hull, as a random mix of its points reaches it).
    """
    curves = check_curves("aiq(curves)", curves)
    top = max_cost if max_cost is not None else max(c.max_cost for c in curves)
    if not (isinstance(top, numbers.Real) and math.isfinite(top)) or top <= 0:
        raise UserError(f"AIQ needs a positive, finite largest cost (max_cost); got {top!r}")
    result = {}
    for curve in curves:
        full = curve.hull()
        h = [p for p in full if p[0] <= top]
        if not h:
            result[curve.name] = 0.0
            continue
        if len(h) < len(full) and h[-1][0] < top:  # the hull goes on past max_cost: cut it there, not at a point
            (x1, y1), (x2, y2) = h[-1], full[len(h)]
            h.append((top, y1 + (y2 - y1) * (top - x1) / (x2 - x1)))
        area = sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in itertools.pairwise(h))
        area += (top - h[-1][0]) * h[-1][1]
        result[curve.name] = area / top
    return result


def check_curves(call: str, curves: object, *, empty: bool = False) -> list[Curve]:
    """`curves` as a list of `Curve`s with distinct names (each names its figure: a result keyed by name would
    keep only the last of two curves so named, e.g. two `fitted_curve`s of routers both named `fitted`)."""
    if isinstance(curves, Curve):
        raise UserError(f"{call} takes a list of curves, not one Curve ({curves.name!r}): put it in a list, [curve]")
    given = list(curves) if isinstance(curves, Iterable) and not isinstance(curves, str) else None
    if given is None or any(not isinstance(c, Curve) for c in given):
        raise UserError(f"{call}: curves is a list of lab.Curve (lab.fitted_curve(...), lab.oracle_curve(...))")
    if not given and not empty:
        raise UserError("no curves to compare")
    names = [c.name for c in given]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise UserError(
            f"{call}: two curves are named {twice!r}, and each figure is given by name: name them apart, e.g. "
            f"lab.fitted_curve(router, table, name='task-only')"
        )
    return given


def pgr(quality: float, *, weak: float, strong: float) -> float:
    """Performance gap recovered (RouteLLM): (router − weak) / (strong − weak)."""
    for label, value in (("quality", quality), ("weak", weak), ("strong", strong)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise UserError(
                f"PGR's {label} is a mean quality (a finite number, e.g. weak=single_model_points(table)[model]"
                f".quality), got {value!r}"
            )
    if strong == weak:
        raise UserError("PGR is undefined when the strong and weak models score the same")
    return (quality - weak) / (strong - weak)


def _pgr_line(curve: Curve, weak: float, strong: float) -> list[tuple[float, float]]:
    """(share of strong calls, PGR) from 0 to 1, cheapest point first, pinned to the weak model at 0."""
    pts = [(p.cost, pgr(p.quality, weak=weak, strong=strong)) for p in curve.points]
    if any(not -1e-9 <= s <= 1 + 1e-9 for s, _ in pts):
        raise UserError(f"curve {curve.name!r}: costs must be shares of strong-model calls (0–1)")
    _check_share_axis(curve)
    if pts[0][0] > 0:
        pts.insert(0, (0.0, 0.0))
    if pts[-1][0] < 1:
        pts.append((1.0, pts[-1][1]))
    return pts


def _check_share_axis(curve: Curve) -> None:
    """Refuse a curve whose costs are not one model's share of the calls (e.g. US dollars under $1).

    Points that record their routing `shares` must all have a cost equal to the share of one same
    model (the strong one); points without shares (built by hand) are taken as they are.
    """
    routed = [p for p in curve.points if p.shares]
    if not routed:
        return
    names = {m for p in routed for m in p.shares}
    if any(all(abs(p.cost - p.shares.get(m, 0.0)) <= 1e-9 for p in routed) for m in names):
        return
    bad = routed[-1]
    raise UserError(
        f"curve {curve.name!r}: APGR and CPT need costs that are the share of strong-model calls (0–1), but the "
        f"point of cost {bad.cost:g} routes {dict(bad.shares)}: use a two-model table with cost 1 for the strong "
        "model and 0 for the weak one (as load_routellm gives), or aiq() for costs in dollars"
    )


def apgr(curve: Curve, *, weak: float, strong: float) -> float:
    """Average PGR (RouteLLM): the area under PGR against the share of strong-model calls, 0 to 1.

    The curve's costs must be shares of strong-model calls (as `load_routellm` tables give, with
    cost 1 for the strong model and 0 for the weak one); a curve whose costs are something else
    (in US dollars, say) is refused with a `UserError`. Between points PGR is interpolated
    linearly, and past the last point it stays flat.
    """
    pts = _pgr_line(curve, weak, strong)
    return sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in itertools.pairwise(pts))


def cpt(curve: Curve, target: float, *, weak: float, strong: float) -> float | None:
    """Call-performance threshold (RouteLLM): the least share of strong calls at which PGR reaches `target`.

    `target` is a fraction between 0 and 1 (0.5 for CPT(50%)), else a `UserError`; linear between
    points; None when the curve never reaches it.
    """
    number = isinstance(target, numbers.Real) and not isinstance(target, bool)  # ("0.5" failed in a comparison)
    if not number or not 0 <= target <= 1:
        raise UserError(f"CPT target is a fraction between 0 and 1 (0.5 for CPT(50%)), got {target!r}")
    pts = _pgr_line(curve, weak, strong)
    prev = pts[0]
    if prev[1] >= target:
        return prev[0]
    for point in pts[1:]:
        if point[1] >= target:
            (x1, y1), (x2, y2) = prev, point
            return x1 + (x2 - x1) * (target - y1) / (y2 - y1)
        prev = point
    return None
