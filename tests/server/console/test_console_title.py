"""The console tab's title, in a real headless Chromium against a real server process: it names the orchestration
shown and its status, so tabs can be told apart and a run seen to end from another tab."""

from __future__ import annotations

import pytest

from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in, new_session

pytestmark = pytest.mark.slow


def test_the_title_names_the_run_shown_and_its_status(desktop: Watched, console: Console) -> None:
    """Every tab of the console was titled "OrchestrateX console": two tabs on two sessions could not be told apart,
    and a run followed in one tab could not be seen to end while working in another."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, console)
    new_session(page)
    expect(page).to_have_title("OrchestrateX console")  # (nothing shown yet)
    page.evaluate(
        """() => {
          window.titles = [];
          new MutationObserver(() => window.titles.push(document.title))
            .observe(document.querySelector('title'), {childList: true, characterData: true, subtree: true});
        }"""
    )
    page.get_by_label("Prompt").fill("Explain how a B-tree stays balanced")
    page.get_by_label("Max iterations").fill("2")
    page.get_by_label("Threshold (0–10)").fill("10")
    page.get_by_role("button", name="Start").click()
    page.locator(ENDED).wait_for(timeout=90_000)
    status = page.locator("#orchestration-list button[aria-current=true] .status").text_content()
    expect(page).to_have_title(f"{status} · Explain how a B-tree stays balanced · OrchestrateX console")
    assert "running · Explain how a B-tree stays balanced · OrchestrateX console" in page.evaluate("window.titles")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_title("OrchestrateX console")  # (nothing of the user left)
    assert desktop.problems() == []
