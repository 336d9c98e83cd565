"""Cost–quality plots (matplotlib, imported only when plotting)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import UserError
from ._deps import require
from ._metrics import Curve, OperatingPoint, check_curves

__all__ = ["plot_curves"]


def plot_curves(
    curves: Sequence[Curve],
    points: Mapping[str, OperatingPoint] | None = None,
    *,
    ax: Any = None,
    hull: bool = True,
    title: str | None = None,
    xlabel: str = "mean cost per prompt ($)",
    ylabel: str = "mean quality",
) -> Any:
    """Draw each curve (its non-decreasing convex hull, or its raw points) and labelled single points.

    `points` maps each label to an `OperatingPoint` (`single_model_points(table)`, `{"loop": replay.point()}`).
    Returns the matplotlib `Axes` (a new figure's when `ax` is not given).
    """
    curves = check_curves(
        "plot_curves(curves)", curves, empty=True
    )  # (two curves of one name would share a legend entry)
    marked = _check_points(points)
    if ax is None:
        plt = require("matplotlib.pyplot")
        _, ax = plt.subplots(figsize=(8, 5))
    for curve in curves:
        xy = curve.hull() if hull else [(p.cost, p.quality) for p in curve.points]
        # (a hull of one point, a curve whose cheapest point is also its best, is a line of no length: mark it)
        marker = "." if not hull else "o" if len(xy) == 1 else None
        ax.plot([x for x, _ in xy], [y for _, y in xy], marker=marker, label=curve.name)
    for label, point in marked.items():
        ax.scatter([point.cost], [point.quality], s=18)
        ax.annotate(label, (point.cost, point.quality), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if curves:  # (points alone are annotated: a legend of nothing is a matplotlib warning)
        ax.legend(fontsize=8, loc="lower right")
    return ax


def _check_points(points: object) -> Mapping[str, OperatingPoint]:
    """`plot_curves`' `points` as a mapping of labels to `OperatingPoint`s, else a `UserError` saying how to write it
    (before, a point alone or a list of them, as `replay.point()` gives one, failed inside with an AttributeError)."""
    if points is None:
        return {}
    example = 'points={"loop": replay.point()}'
    if isinstance(points, OperatingPoint) or not isinstance(points, Mapping):
        raise UserError(
            f"plot_curves(curves, points): points maps each label to a lab.OperatingPoint, e.g. {example} or "
            f"lab.single_model_points(table); got {type(points).__name__}"
        )
    odd = next(((k, v) for k, v in points.items() if not isinstance(v, OperatingPoint)), None)
    if odd is not None:
        raise UserError(
            f"plot_curves(curves, points): the point labelled {odd[0]!r} is {type(odd[1]).__name__} {odd[1]!r}, not a "
            f"lab.OperatingPoint(cost, quality): e.g. {example}"
        )
    return points
