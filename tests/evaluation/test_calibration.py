"""Calibrations map judge scores to P(acceptable), fitted from outcome data, saved and loaded as JSON."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestratex.evaluation import IsotonicCalibration, LogisticCalibration, calibration_from_dict


def noisy_judge(n: int, seed: int = 1) -> tuple[list[float], list[bool]]:
    """Correct answers score around 8, wrong ones around 4; 30 % of the answers are wrong."""
    rng = random.Random(seed)
    scores, correct = [], []
    for _ in range(n):
        ok = rng.random() > 0.3
        scores.append(min(max(rng.gauss(8 if ok else 4, 1.5), 0), 10))
        correct.append(ok)
    return scores, correct


@pytest.mark.parametrize("kind", [IsotonicCalibration, LogisticCalibration])
def test_fitted_probabilities_match_the_observed_rates(kind: type[IsotonicCalibration | LogisticCalibration]) -> None:
    scores, correct = noisy_judge(4000)
    calibration = kind.fit(scores, correct)
    for low, high in [(0, 4), (5, 6.5), (8, 10)]:
        inside = [(s, c) for s, c in zip(scores, correct, strict=True) if low <= s < high]
        observed = sum(c for _, c in inside) / len(inside)
        predicted = sum(calibration.probability(s) for s, _ in inside) / len(inside)
        assert predicted == pytest.approx(observed, abs=0.05)
    threshold = calibration.score_for(0.9)
    assert 6 < threshold < 9 and calibration.probability(threshold) >= 0.9
    again = calibration_from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert again.probability(7.3) == pytest.approx(calibration.probability(7.3))


@given(st.lists(st.tuples(st.floats(0, 10), st.booleans()), min_size=1, max_size=60))
def test_isotonic_is_monotone_and_a_probability(pairs: list[tuple[float, bool]]) -> None:
    calibration = IsotonicCalibration.fit([s for s, _ in pairs], [c for _, c in pairs])
    values = [calibration.probability(x / 4) for x in range(41)]
    assert all(0 <= v <= 1 for v in values)
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values))


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        IsotonicCalibration.fit([], [])
    with pytest.raises(ValueError, match="outside 0–10"):
        LogisticCalibration.fit([11], [True])
    with pytest.raises(ValueError, match="unknown calibration kind"):
        calibration_from_dict({"kind": "spline"})
