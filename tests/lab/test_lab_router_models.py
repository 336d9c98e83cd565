"""A fitted router measured on a table of other models: none in common is a UserError saying what to do, some in
common a warning naming the models the router cannot choose and those the table lacks."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from orchestratex import lab
from orchestratex.exceptions import UserError
from orchestratex.routing.fitted import FittedRouter

from .lab_synthetic import synthetic_table

NONE_IN_COMMON = r"fitted on \['small', 'medium', 'large'\], and table 'other' has none of them \(\['x', 'y'\]\)"


def renamed(models: tuple[str, ...], *, name: str) -> lab.OutcomeTable:
    """The synthetic test table with its three columns named `models` (a two-name tuple keeps the first two)."""
    table = synthetic_table(40, seed=2)
    cols = list(range(len(models)))
    return lab.OutcomeTable(
        name=name,
        models=models,
        prompts=table.prompts,
        quality=table.quality[:, cols],
        cost=table.cost[:, cols],
        tasks=table.tasks,
    )


@pytest.fixture
def router() -> FittedRouter:
    return FittedRouter(alpha=1.0).fit(synthetic_table(120, seed=1))


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "orchestratex.routing" and r.levelno == logging.WARNING]


def test_no_model_in_common_is_a_user_error_everywhere(router: FittedRouter) -> None:
    other = renamed(("x", "y"), name="other")
    with pytest.raises(UserError, match=NONE_IN_COMMON + ": fit the router on outcomes of these models"):
        router.predict_table(other)
    with pytest.raises(UserError, match=NONE_IN_COMMON):
        lab.fitted_curve(router, other)
    with pytest.raises(UserError, match=NONE_IN_COMMON):
        asyncio.run(lab.replay(router, other, lab.profiles_for(other)))
    with pytest.raises(UserError, match=NONE_IN_COMMON):
        asyncio.run(lab.replay_loop(other, router=router))


def test_some_models_in_common_warn_once_naming_the_others(
    router: FittedRouter, caplog: pytest.LogCaptureFixture
) -> None:
    partial = renamed(("small", "z", "large"), name="partial")
    caplog.set_level(logging.WARNING, "orchestratex.routing")
    q, _ = router.predict_table(partial)
    assert q.shape == (40, 3)  # the router's own columns, as documented
    [message] = warnings_of(caplog)
    assert "fitted on ['small', 'medium', 'large'] and table 'partial' has ['small', 'z', 'large']" in message
    assert "chooses only among ['small', 'large']" in message
    assert "never ['z'] (it was fitted on no outcome of them)" in message
    assert "['medium'] are not offered (table 'partial' lacks them)" in message

    caplog.clear()
    curve = lab.fitted_curve(router, partial)  # was a KeyError: the table has no 'medium'
    assert len(warnings_of(caplog)) == 1
    assert {m for p in curve.points for m in p.shares} <= {"small", "large"}
    assert any("large" in p.shares for p in curve.points)

    caplog.clear()
    replay = asyncio.run(lab.replay_loop(partial, router=FittedRouter(alpha=1.0).fit(synthetic_table(120, seed=1))))
    assert len(warnings_of(caplog)) == 1 and "table 'partial'" in warnings_of(caplog)[0]
    assert set(replay.shares()) <= {"small", "large"}


def test_the_same_models_in_another_order_or_a_subset_of_rows_say_nothing(
    router: FittedRouter, caplog: pytest.LogCaptureFixture
) -> None:
    table = synthetic_table(40, seed=2)
    caplog.set_level(logging.WARNING, "orchestratex.routing")
    shuffled = table.with_models("large", "small", "medium")
    plain, reordered = lab.fitted_curve(router, table), lab.fitted_curve(router, shuffled)
    assert warnings_of(caplog) == []
    np.testing.assert_allclose([p.quality for p in plain.points], [p.quality for p in reordered.points])
