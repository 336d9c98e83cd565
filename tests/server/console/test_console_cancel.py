"""Stopping a run from the console, in a real headless Chromium against a real server process."""

from __future__ import annotations

import httpx
import pytest

from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in, new_session

pytestmark = pytest.mark.slow


def test_a_running_orchestration_is_cancelled_from_the_console(desktop: Watched, console: Console) -> None:
    """The console started runs but could not stop one: a run started with the wrong prompt or settings went on
    paying for every iteration until it ended by itself. Now a Cancel button under the run shown stops it."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, console)
    new_session(page)
    page.get_by_label("Prompt").fill("Write a long essay on the history of tea")
    page.get_by_label("Max iterations").fill("8")
    page.get_by_label("Threshold (0–10)").fill("10")
    page.get_by_role("button", name="Start").click()
    cancel = page.get_by_role("button", name="Cancel orchestration")
    cancel.focus()
    page.keyboard.press("Enter")  # (with the keyboard alone)
    page.locator(ENDED).wait_for(timeout=90_000)
    last = page.locator("#feed li").last
    expect(last).to_have_attribute("data-type", "orchestration_failed")
    expect(last.locator(".event-title")).to_contain_text("Cancelled")
    expect(cancel).to_be_hidden()  # (nothing left to cancel)
    expect(page.locator("#live-title")).to_be_focused()  # (the focus is not dropped with the button)
    expect(page.locator("#orchestration-list button[aria-current=true] .status")).to_have_text("cancelled")
    oid = page.locator("#orchestration-list button[aria-current=true]").get_attribute("data-orchestration")
    headers = {"Authorization": f"Bearer {console.key}"}
    doc = httpx.get(f"{console.server.base_url}/api/orchestration/status/{oid}", headers=headers).json()
    assert (doc["status"], doc["stop_reason"]) == ("cancelled", "cancelled")
    assert len(doc["iterations"]) < 8  # (stopped before it ran its course)
    expect(page.locator("#cancel-error")).to_be_empty()
    assert desktop.problems() == []


def test_a_run_that_has_ended_offers_no_cancel(desktop: Watched, console: Console, finished_run: str) -> None:
    """A finished run shows no Cancel button: the server would only answer 409."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, console)
    page.locator(f"#orchestration-list button[data-orchestration='{finished_run}']").wait_for()
    page.locator(f"#orchestration-list button[data-orchestration='{finished_run}']").click()
    page.locator(ENDED).wait_for()
    expect(page.get_by_role("button", name="Cancel orchestration")).to_be_hidden()
    assert desktop.problems() == []
