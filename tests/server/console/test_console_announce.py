"""What a screen reader is told of an orchestration, in a real headless Chromium against a real server process: its
live regions, read from the page's accessibility tree."""

from __future__ import annotations

import re

import pytest

from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in, new_session
from .test_console_runs import new_session_with_runs

pytestmark = pytest.mark.slow

LIVE = "[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]"
"""Elements a screen reader reads out when what they hold changes."""


def test_the_end_of_a_run_is_announced_in_one_line(desktop: Watched, console: Console) -> None:
    """The feed was the live region: every card was read out whole as it arrived — the router's table of each
    candidate, the final answer however long — and nothing said in one line how the run ended."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, console)
    new_session(page)
    page.get_by_label("Prompt").fill("Explain how a compiler works")
    page.get_by_label("Max iterations").fill("1")
    page.get_by_role("button", name="Start").click()
    page.locator(ENDED).wait_for(timeout=90_000)
    status = page.get_by_role("status").filter(has_text="Completed")
    expect(status).to_have_text(re.compile(r"Completed: \d+\.\d+/10 by sim:\S+, \$0\.\d+ in all\."))
    answer = page.locator("#feed pre.answer").inner_text()
    assert answer.strip()
    said = page.locator(LIVE).all_inner_texts()
    assert not [text for text in said if answer.strip()[:60] in text], "a live region reads the whole answer out"
    assert not page.locator(f"#feed:is({LIVE}), #feed :is({LIVE})").count(), "the feed is read out card by card"
    assert desktop.problems() == []


def test_opening_a_session_announces_its_newest_run_once(desktop: Watched, console: Console) -> None:
    """Opening a session replays the stored events of every run in it: each of their cards was read out."""
    from playwright.sync_api import expect

    new_session_with_runs(console, "What is 1 + 1?", "What is 2 + 2?", "What is 3 + 3?", max_iterations=1)
    page = desktop.page
    page.add_init_script(
        """
        window.said = [];
        addEventListener('DOMContentLoaded', () => {
          const line = document.getElementById('run-status');
          new MutationObserver(() => window.said.push(line.textContent))
            .observe(line, {childList: true, characterData: true, subtree: true});
        });
        """
    )
    log_in(page, console)
    expect(page.locator("#orchestration-list button")).to_have_count(3)
    expect(page.locator("#run-status")).to_contain_text("Completed")
    page.wait_for_timeout(1000)  # (time for any other announcement)
    assert len([text for text in page.evaluate("window.said") if text]) == 1
    assert desktop.problems() == []
