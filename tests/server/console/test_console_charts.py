"""A session's charts in the console, in a real headless Chromium against a real server process: their labels."""

from __future__ import annotations

import pytest

from .conftest import Console, Watched
from .scripted import user_with_a_run
from .test_console_browser import log_in

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("user", "cost", "label"), [("olga", 617.25, "$1234.5000"), ("piet", 1.9e-7, "$0.00000038")])
def test_the_highest_cost_is_labelled_whole(
    desktop: Watched, console: Console, user: str, cost: float, label: str
) -> None:
    """The cost chart kept 46 of its 320 units left of its axis for the highest cost's label: a longer label was cut
    at its left, so a session that spent $1234.50 showed a scale topped by "234.5000"."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, user_with_a_run(console, user, cost=cost, score=9, max_iterations=1))
    ticks = page.locator("#cost-chart text.tick")
    expect(ticks.first).to_have_text(label)
    for tick in ticks.all():
        left = tick.evaluate("(text) => text.getBBox().x")
        assert left >= 0, f"the label {tick.text_content()!r} begins {-left:.1f} units left of the chart"
    assert desktop.problems() == []
