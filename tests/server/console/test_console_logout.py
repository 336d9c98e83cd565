"""Logging out of the console, in a real headless Chromium against a real server process: nothing of the user is
left in the page for the next person at that browser."""

from __future__ import annotations

import pytest

from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in
from .test_console_runs import new_session_with_runs

pytestmark = pytest.mark.slow


def test_log_out_leaves_nothing_of_the_user_in_the_page(desktop: Watched, console: Console) -> None:
    """**Log out** hid the views but kept them filled: the page still held the user's session ids, prompts, answers
    and the judges' feedback (in its DOM, for the next person at that browser to read with the developer tools), and
    the start form kept the draft prompt, which the next user to log in on that tab found typed for them."""
    from playwright.sync_api import expect

    session_id, (run,) = new_session_with_runs(console, "Summarise my medical file", max_iterations=1)
    page = desktop.page
    log_in(page, console)
    page.locator(ENDED).wait_for()
    page.locator("#verdicts table").wait_for()
    page.get_by_label("Prompt").fill("My private draft")
    page.get_by_label("Models").fill("sim:gpt-4o")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("User id")).to_be_focused()
    held = page.evaluate("document.body.textContent")
    for secret in ("Summarise my medical file", session_id, run, "alice", "Simulated"):
        assert secret not in held
    assert page.evaluate("[...document.querySelectorAll('input, textarea')].map((e) => e.value)") == [""] * 7
    log_in(page, console)  # (and the console works again for the next one)
    page.locator(ENDED).wait_for()
    expect(page.get_by_label("Prompt")).to_have_value("")
    assert desktop.problems() == []
