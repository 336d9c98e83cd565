"""A request the network never answers (a proxy or a Wi-Fi gone silent) no longer locks its button: the page says what
happened and the button can be pressed again; a start sent again reuses its `Idempotency-Key`, so it starts no second
run. A real headless Chromium against a real server process, the page's clock run ahead past its timeout."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in, new_session

pytestmark = pytest.mark.slow

PAST_THE_TIMEOUT_MS = 31_000
"""Past the 30 s the page waits for an answer to begin (api.js `TIMEOUT_S`)."""


def test_a_start_whose_answer_was_lost_is_sent_again_without_a_second_run(desktop: Watched, console: Console) -> None:
    """Before: the start reached the server, its answer never reached the page, and Start stayed greyed out (busy) for
    good with nothing said; a reload and a second press would have started the run twice. Now the page says the
    start's fate is not known, and Start pressed again sends the same key: the server answers the run it started."""
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()
    log_in(page, console)
    new_session(page)
    keys: list[str | None] = []

    def lost(route: Any) -> None:  # (the start reaches the server; its answer never reaches the page)
        keys.append(route.request.header_value("idempotency-key"))
        route.fetch()

    page.route("**/api/orchestration/start", lost)
    page.get_by_label("Prompt").fill("Explain photosynthesis to a child")
    start = page.get_by_role("button", name="Start")
    start.click()
    page.locator(ENDED).wait_for(timeout=90_000)  # (it started: its events come over the stream)
    expect(start).to_have_attribute("aria-busy", "true")
    page.clock.fast_forward(PAST_THE_TIMEOUT_MS)
    expect(page.locator("#start-error")).to_contain_text("whether the orchestration started is not known")
    expect(start).not_to_have_attribute("aria-busy", "true")
    page.unroute("**/api/orchestration/start")
    with page.expect_response("**/api/orchestration/start") as answered:
        start.click()
    assert answered.value.status == 202 and answered.value.header_value("idempotent-replayed") == "true"
    assert keys[0] and answered.value.request.header_value("idempotency-key") == keys[0]
    expect(page.locator("#start-error")).to_be_empty()
    expect(page.locator("#orchestration-list li")).to_have_count(1)
    expect(page.locator("#thread-list li")).to_have_count(1)
    assert desktop.problems() == []


def test_cancel_and_new_session_unanswered_say_so_and_can_be_pressed_again(desktop: Watched, console: Console) -> None:
    """Before: Cancel and New session, their requests never answered, stayed greyed out for good with nothing said."""
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()
    log_in(page, console)
    new_session(page)
    page.get_by_label("Prompt").fill("Write a long essay on the history of tea")
    page.get_by_label("Max iterations").fill("50")  # (not ended by itself while its cancel waits)
    page.get_by_label("Threshold (0–10)").fill("10")
    # Two models far below 10 for this prompt: among all, a run could reach 10 (or stop improving) within 0.6 s,
    # before the second cancel, sent up to 0.7 s after the start.
    page.get_by_label("Models").fill("sim:gemini-2.5-flash-lite, sim:gpt-4o-mini")
    page.get_by_role("button", name="Start").click()
    cancel = page.get_by_role("button", name="Cancel orchestration")
    page.route("**/api/orchestration/*/cancel", lambda route: None)  # (never answered)
    cancel.click()
    expect(cancel).to_have_attribute("aria-busy", "true")
    page.clock.fast_forward(PAST_THE_TIMEOUT_MS)
    expect(page.locator("#cancel-error")).to_contain_text("It may not have been cancelled")
    expect(cancel).not_to_have_attribute("aria-busy", "true")
    page.unroute("**/api/orchestration/*/cancel")
    cancel.click()
    page.locator(ENDED).wait_for(timeout=90_000)
    expect(page.locator("#feed li").last.locator(".event-title")).to_contain_text("Cancelled")

    page.route("**/api/sessions/", lambda route: None)  # (the POST that makes a session; never answered)
    new = page.get_by_role("button", name="New session")
    new.click()
    expect(new).to_have_attribute("aria-busy", "true")
    page.clock.fast_forward(PAST_THE_TIMEOUT_MS)
    expect(page.locator("#sessions-error")).to_contain_text("No new session is shown")
    expect(new).not_to_have_attribute("aria-busy", "true")
    assert desktop.problems() == []
