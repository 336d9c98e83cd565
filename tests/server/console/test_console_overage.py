"""A run that cost more than its limit (a provider billing past what was reserved for its call: `overage_cost`) says
so in the console. A real headless Chromium against a real server process."""

from __future__ import annotations

import pytest

from .conftest import Console, Watched
from .scripted import user_with_a_run
from .test_console_browser import ENDED, log_in

pytestmark = pytest.mark.slow


def test_a_run_that_cost_more_than_its_limit_says_by_how_much(desktop: Watched, console: Console) -> None:
    """Before: a run limited to $0.01 whose provider billed $0.50 for a call reserved at about $0.002 showed its total
    of over a dollar, above its limit, and nothing said why; the notes under it now name the overage and the limit."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, user_with_a_run(console, "oscar", cost=0.5, score=9, max_iterations=1, cost_limit=0.01))
    page.locator(ENDED).wait_for()
    note = page.locator("#verdicts p.note.overage")
    expect(note).to_contain_text("over its cost limit of $0.0100")
    expect(note).to_contain_text("billed $")
    expect(note).to_contain_text("more than was reserved")
    assert desktop.problems() == []
