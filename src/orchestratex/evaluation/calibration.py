"""Judge scores calibrated to the probability that an answer is acceptable.

A judge's 0–10 score is an opinion; what a threshold should mean is a probability. A calibration
maps a (median) judge score to P(acceptable), fitted from pairs of (score, was the answer really
acceptable) — outcome data such as the lab's replays (`orchestratex.lab`) or your own labelled runs.
`LLMJudgeEvaluator(calibration=...)` then reports `Evaluation.probability` and sets the evaluation's
score to `10 × probability`, so `evaluation_threshold=8` means "stop once the answer is acceptable
with probability ≥ 0.8". Pure Python: no numpy needed to fit or apply one.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

from .._plain import is_real
from ..exceptions import UserError

__all__ = ["IsotonicCalibration", "LogisticCalibration", "ScoreCalibration", "calibration_from_dict"]


def _pairs(scores: Iterable[float], outcomes: Iterable[bool | float]) -> list[tuple[float, float]]:
    for name, values in (("scores", scores), ("outcomes", outcomes)):
        if isinstance(values, str | bytes) or not isinstance(values, Iterable):  # ("89" was two scores, 8 and 9)
            raise UserError(f"{name} is a list (one per judged answer), not {type(values).__name__} {values!r:.40}")
    xs, ys = list(scores), list(outcomes)
    if len(xs) != len(ys):
        raise UserError(f"scores and outcomes must pair up: {len(xs)} scores but {len(ys)} outcomes")
    try:
        pairs = [(float(s), float(o)) for s, o in zip(xs, ys, strict=True)]
    except (TypeError, ValueError):  # ("yes" raised float()'s ValueError, None its TypeError)
        s, o = next((s, o) for s, o in zip(xs, ys, strict=True) if not (_real(s) and _real(o)))
        raise UserError(
            f"the pair ({s!r}, {o!r}) is not (a judge score 0–10, an outcome 0/1 or False/True): give numbers"
        ) from None
    if not pairs:
        raise UserError("a calibration needs at least one (score, outcome) pair")
    for s, o in pairs:
        if not 0 <= s <= 10 or not math.isfinite(s):
            raise UserError(f"judge score {s} is outside 0–10")
        if not 0 <= o <= 1:
            raise UserError(f"outcome {o} is not a truth value (0/1 or False/True)")
    return pairs


def _real(value: object) -> bool:
    """Whether `float()` reads `value`."""
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


class ScoreCalibration(ABC):
    """Maps a judge score (0–10) to the probability that the answer is acceptable."""

    kind: str = ""

    @abstractmethod
    def probability(self, score: float) -> float:
        """P(acceptable | judge score = `score`), in [0, 1]."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description; `calibration_from_dict` reads it back."""

    def score_for(self, probability: float) -> float:
        """The lowest judge score (to 0.01) whose calibrated probability reaches `probability`; 10.0, the top of the
        scale and the strictest `evaluation_threshold`, if none does (`probability(10)` says what a 10 gives)."""
        if not is_real(probability) or not 0 <= probability <= 1:  # (numpy's too: `np.float32(0.8)` was refused)
            raise UserError(f"score_for takes a probability between 0 and 1 (0.8 for 80 %); got {probability!r}")
        for hundredths in range(1001):
            if self.probability(hundredths / 100) >= probability:
                return hundredths / 100
        return 10.0


class IsotonicCalibration(ScoreCalibration):
    """A non-decreasing step function fitted by pool-adjacent-violators: no shape assumed beyond "a higher
    score is never worse". Scores between the fitted points are interpolated linearly."""

    kind = "isotonic"
    """`isotonic`, as `to_dict` writes it."""

    def __init__(self, points: Iterable[tuple[float, float]]) -> None:
        pts = sorted((float(x), float(p)) for x, p in points)
        if not pts:
            raise UserError("an isotonic calibration needs at least one point")
        for x, p in pts:
            if not (0 <= x <= 10 and 0 <= p <= 1):  # (NaN fails both)
                raise UserError(f"isotonic calibration point ({x}, {p}) must be (a judge score 0–10, a probability)")
        if any(b[1] < a[1] for a, b in pairwise(pts)):
            raise UserError("isotonic calibration points must not decrease")
        self.points = pts
        """The fitted (judge score, probability) points, in score order."""

    @classmethod
    def fit(cls, scores: Iterable[float], outcomes: Iterable[bool | float]) -> IsotonicCalibration:
        """Fit from judge scores and whether each answer was acceptable."""
        groups: dict[float, list[float]] = {}
        for score, outcome in _pairs(scores, outcomes):
            group = groups.setdefault(score, [0.0, 0.0])
            group[0] += outcome
            group[1] += 1
        blocks: list[list[float]] = []  # [lowest score, highest score, outcome sum, count], in score order
        for score in sorted(groups):
            blocks.append([score, score, *groups[score]])
            while len(blocks) > 1 and blocks[-2][2] / blocks[-2][3] >= blocks[-1][2] / blocks[-1][3]:
                last = blocks.pop()  # pool adjacent violators
                blocks[-1][1] = last[1]
                blocks[-1][2] += last[2]
                blocks[-1][3] += last[3]
        points: list[tuple[float, float]] = []
        for low, high, hits, n in blocks:
            points.append((low, hits / n))
            if high != low:
                points.append((high, hits / n))
        return cls(points)

    def probability(self, score: float) -> float:
        """P(acceptable | judge score = `score`): the fitted points, interpolated linearly between them."""
        xs = [x for x, _ in self.points]
        i = bisect_right(xs, score)
        if i == 0:
            return self.points[0][1]
        if i == len(xs):
            return self.points[-1][1]
        (x0, p0), (x1, p1) = self.points[i - 1], self.points[i]
        return p0 + (p1 - p0) * (score - x0) / (x1 - x0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description; `calibration_from_dict` reads it back."""
        return {"kind": self.kind, "points": [list(p) for p in self.points]}

    def __repr__(self) -> str:
        """Its points, the first and last few of many (`IsotonicCalibration([(2.0, 0.0), (9.0, 1.0)])`), not
        `<… object at 0x…>`: what a notebook shows for a fitted calibration."""
        points = [(round(x, 4), round(p, 4)) for x, p in self.points]
        if len(points) <= 6:
            return f"{type(self).__name__}({points!r})"
        head, tail = ", ".join(map(repr, points[:3])), ", ".join(map(repr, points[-2:]))
        return f"{type(self).__name__}([{head}, …, {tail}], {len(points)} points)"


class LogisticCalibration(ScoreCalibration):
    """P = 1 / (1 + exp(-(slope × score + intercept))): two parameters, smooth, fine with little data."""

    kind = "logistic"
    """`logistic`, as `to_dict` writes it."""

    def __init__(self, slope: float, intercept: float) -> None:
        self.slope = float(slope)
        """The fitted slope (per score point)."""
        self.intercept = float(intercept)
        """The fitted intercept."""
        if not (math.isfinite(self.slope) and math.isfinite(self.intercept)):
            raise UserError(f"a logistic calibration needs a finite slope and intercept; got {slope!r}, {intercept!r}")

    @classmethod
    def fit(cls, scores: Iterable[float], outcomes: Iterable[bool | float], *, l2: float = 1e-3) -> LogisticCalibration:
        """Maximum-likelihood fit (Newton's method, a small ridge `l2` keeping it finite on separable data)."""
        pairs = _pairs(scores, outcomes)
        a = b = 0.0
        for _ in range(100):
            ga = gb = haa = hab = hbb = 0.0
            for x, y in pairs:
                p = _sigmoid(a * x + b)
                w = p * (1 - p)
                ga += (p - y) * x
                gb += p - y
                haa += w * x * x
                hab += w * x
                hbb += w
            ga += l2 * a
            haa += l2
            hbb += 1e-9
            det = haa * hbb - hab * hab
            if det <= 0:
                break
            da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
            a, b = a - da, b - db
            if abs(da) + abs(db) < 1e-10:
                break
        return cls(a, b)

    def probability(self, score: float) -> float:
        """P(acceptable | judge score = `score`) = 1 / (1 + exp(-(slope × score + intercept)))."""
        return _sigmoid(self.slope * score + self.intercept)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description; `calibration_from_dict` reads it back."""
        return {"kind": self.kind, "slope": self.slope, "intercept": self.intercept}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(slope={self.slope!r}, intercept={self.intercept!r})"


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


def calibration_from_dict(data: Mapping[str, Any]) -> ScoreCalibration:
    """A calibration saved with `to_dict()` (e.g. as JSON next to your lab results)."""
    if not isinstance(data, Mapping):  # (the saved file's text, not json.loads of it: "'str' has no attribute 'get'")
        hint = ": read the saved JSON with json.loads (or json.load) first" if isinstance(data, str | bytes) else ""
        raise UserError(f"calibration_from_dict takes the dict to_dict() gave, not {type(data).__name__}{hint}")
    kind = data.get("kind")
    try:
        if kind == IsotonicCalibration.kind:
            return IsotonicCalibration((x, p) for x, p in data["points"])
        if kind == LogisticCalibration.kind:
            return LogisticCalibration(data["slope"], data["intercept"])
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, UserError):
            raise
        want = "'points': [[score, probability], ...]" if kind == "isotonic" else "'slope' and 'intercept' numbers"
        raise UserError(f"not a saved {kind} calibration ({type(exc).__name__}: {exc}): it needs {want}") from None
    raise UserError(f"unknown calibration kind {kind!r}: expected 'isotonic' or 'logistic'")
