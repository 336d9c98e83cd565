"""Calibrations map judge scores to P(acceptable), fitted from outcome data, saved and loaded as JSON."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestratex import UserError
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


def _as_given(value: object) -> Any:
    """`value` as a program reading it from a file or a form passes it: untyped."""
    return value


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: IsotonicCalibration.fit([9, 2], [True]),
            r"^scores and outcomes must pair up: 2 scores but 1 outcomes$",
        ),
        (
            lambda: IsotonicCalibration.fit([9, 2], [1, 0]).score_for(80),
            r"^score_for takes a probability between 0 and 1",
        ),
        (
            lambda: LogisticCalibration.fit([9, 2], [1, 0]).score_for(1.5),
            r"^score_for takes a probability between 0 and",
        ),
        (lambda: calibration_from_dict({"kind": "isotonic", "points": [[5, 5]]}), r"point \(5.0, 5.0\) must be"),
        (lambda: calibration_from_dict({"kind": "isotonic", "points": [[5, float("nan")]]}), r"point \(5.0, nan\)"),
        (
            lambda: calibration_from_dict({"kind": "isotonic"}),
            r"^not a saved isotonic calibration \(KeyError: 'points'\)",
        ),
        (lambda: calibration_from_dict({"kind": "logistic", "slope": 1}), r"^not a saved logistic calibration"),
        (lambda: calibration_from_dict({"kind": "logistic", "slope": "inf", "intercept": 0}), r"finite slope"),
        # the saved file's text rather than what json.loads makes of it: "'str' object has no attribute 'get'"
        (
            lambda: calibration_from_dict(_as_given(json.dumps(IsotonicCalibration.fit([9, 2], [1, 0]).to_dict()))),
            r"^calibration_from_dict takes the dict to_dict\(\) gave, not str: read the saved JSON with json.loads",
        ),
        (
            lambda: calibration_from_dict(_as_given(None)),
            r"^calibration_from_dict takes the dict to_dict\(\) gave, not NoneType$",
        ),
        # labels that are not numbers: float()'s ValueError or TypeError; a string of scores was read as its digits
        (
            lambda: IsotonicCalibration.fit([9, 2], _as_given(["yes", "no"])),
            r"^the pair \(9, 'yes'\) is not \(a judge score 0–10, an outcome 0/1 or False/True\)",
        ),
        (lambda: LogisticCalibration.fit(_as_given([9, None]), [1, 0]), r"^the pair \(None, 0\) is not"),
        (
            lambda: IsotonicCalibration.fit(_as_given("92"), [1, 0]),
            r"^scores is a list \(one per judged answer\), not str '92'$",
        ),
    ],
)
def test_a_damaged_calibration_or_a_bad_probability_is_refused_naming_it(make: Any, message: str) -> None:
    """They were taken: a saved point of probability 5 scored answers 50 (an `Evaluation` that cannot exist, met
    once the answer and the judges were paid for), `score_for(80)` said 10.01, a missing key was a `KeyError`,
    and scores and outcomes of different lengths a bare `zip()` error."""
    with pytest.raises(UserError, match=message):
        make()


@pytest.mark.parametrize("kind", [IsotonicCalibration, LogisticCalibration])
def test_score_for_takes_a_probability_of_numpy(kind: type[IsotonicCalibration | LogisticCalibration]) -> None:
    # `fit` took numpy's arrays, but `score_for(np.float32(0.8))` (a probability read from a dataframe or a numpy
    # computation) said "score_for takes a probability between 0 and 1 (0.8 for 80 %); got np.float32(0.8)"
    np = pytest.importorskip("numpy")
    calibration = kind.fit(np.array([9, 9, 8, 8, 7, 6, 6, 5, 3, 2]), np.array([1, 1, 1, 0, 1, 0, 1, 0, 0, 0]))
    assert calibration.score_for(np.float32(0.75)) == calibration.score_for(0.75)
    assert calibration.score_for(np.int64(1)) == calibration.score_for(1)
    with pytest.raises(UserError, match=r"^score_for takes a probability between 0 and 1"):
        calibration.score_for(np.float64(1.5))


@pytest.mark.parametrize("kind", [IsotonicCalibration, LogisticCalibration])
def test_score_for_a_probability_no_score_reaches_is_a_threshold_the_orchestrator_takes(
    kind: type[IsotonicCalibration | LogisticCalibration],
) -> None:
    # `LogisticCalibration.fit(...).score_for(0.99)` said 10.01, above the 0–10 scale, and the run given it as its
    # `evaluation_threshold` was refused ("evaluation_threshold: Input should be less than or equal to 10")
    from orchestratex import Orchestrator

    calibration = kind.fit([9, 9, 8, 8, 7, 6, 6, 5, 3, 2], [1, 0, 1, 1, 1, 0, 1, 0, 0, 0])  # (a 9 was wrong)
    assert calibration.probability(10) < 0.99
    threshold = calibration.score_for(0.99)
    assert threshold == 10.0
    result = Orchestrator().run_sync("What is 17 * 3?", evaluation_threshold=threshold, max_iterations=1)
    assert result.final_response
