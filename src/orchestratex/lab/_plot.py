"""Cost–quality plots (matplotlib, imported only when plotting)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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

    Returns the matplotlib `Axes` (a new figure's when `ax` is not given).
    """
    curves = check_curves(
        "plot_curves(curves)", curves, empty=True
    )  # (two curves of one name would share a legend entry)
    if ax is None:
        plt = require("matplotlib.pyplot")
        _, ax = plt.subplots(figsize=(8, 5))
    for curve in curves:
        xy = curve.hull() if hull else [(p.cost, p.quality) for p in curve.points]
        # (a hull of one point, a curve whose cheapest point is also its best, is a line of no length: mark it)
        marker = "." if not hull else "o" if len(xy) == 1 else None
        ax.plot([x for x, _ in xy], [y for _, y in xy], marker=marker, label=curve.name)
    for label, point in (points or {}).items():
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
