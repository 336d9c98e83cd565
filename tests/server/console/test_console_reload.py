"""Reloading the console, in a real headless Chromium against a real server process: the page comes back to what
it showed."""

from __future__ import annotations

import pytest

from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in
from .test_console_runs import new_session_with_runs

pytestmark = pytest.mark.slow


def test_a_reload_shows_the_orchestration_picked_again(desktop: Watched, console: Console) -> None:
    """A reload kept the key and the selected session, but not the orchestration picked from the list: reading an
    older run's answer and verdicts, a reload (or the browser restoring the tab) showed the newest run instead, and
    the one being read had to be found again in the list."""
    from playwright.sync_api import expect

    _, (older, newest) = new_session_with_runs(console, "Explain TCP", "Explain UDP", max_iterations=1)
    page = desktop.page
    log_in(page, console)
    expect(page.locator("#live-title")).to_have_text(f"Orchestration {newest}")  # (the newest, followed)
    page.locator(f"#orchestration-list button[data-orchestration='{older}']").click()
    expect(page.locator("#live-title")).to_have_text(f"Orchestration {older}")
    page.reload()
    page.locator("#app-view").wait_for(state="visible")
    page.locator(ENDED).wait_for()
    page.locator("#verdicts table").wait_for()
    expect(page.locator("#live-title")).to_have_text(f"Orchestration {older}")
    expect(page.locator(f"#orchestration-list button[data-orchestration='{older}']")).to_have_attribute(
        "aria-current", "true"
    )
    assert "Explain TCP" in (page.locator("#feed .prompt").text_content() or "")
    assert desktop.problems() == []
