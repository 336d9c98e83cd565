"""What a running orchestration is waiting for, in a real headless Chromium against a real server process: the long
waits between its events read as work under way."""

from __future__ import annotations

import pytest

from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in, new_session

pytestmark = pytest.mark.slow


def test_a_running_orchestration_says_what_it_waits_for(desktop: Watched, console: Console) -> None:
    """Between two events of a run — a model writing its answer, the judges scoring it: tens of seconds each with real
    models — the feed showed nothing new and nothing said the run was still at work, or on what."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, console)
    new_session(page)
    page.evaluate(
        """() => {
          window.progress = [];
          const line = document.getElementById('run-progress');
          new MutationObserver(() => window.progress.push(line.hidden ? '' : line.textContent))
            .observe(line, {childList: true, characterData: true, subtree: true, attributes: true});
        }"""
    )
    page.get_by_label("Prompt").fill("Explain how a compiler works")
    page.get_by_label("Max iterations").fill("2")
    page.get_by_label("Threshold (0–10)").fill("10")  # (the run refines: two rounds of answer and judging)
    # Two models far below 10 for this prompt: among all, the router (unseeded) picked at times one whose first answer
    # a judge scored 10, and the run ended after one round (CI, 2026-12-07).
    page.get_by_label("Models").fill("sim:gemini-2.5-flash-lite, sim:gpt-4o-mini")
    page.get_by_role("button", name="Start").click()
    page.locator(ENDED).wait_for(timeout=90_000)
    expect(page.locator("#run-progress")).to_be_hidden()  # (it has ended: nothing is waited for)
    seen = [text for text in page.evaluate("window.progress") if text]
    assert any(text.startswith("Iteration 1: waiting for the answer of sim:") for text in seen), seen
    assert any(text.startswith("Iteration 1: sim:") and text.endswith("answered; judging the answer…") for text in seen)
    assert any(text.startswith("Iteration 2: waiting for the answer of sim:") for text in seen), seen
    assert desktop.problems() == []
