"""The console's messages for a key that cannot be one and for a rate limit, in a real headless Chromium against a
real server process."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Console, Watched
from .test_console_browser import log_in, new_session

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("typed", "odd"), [("ox_ключ", "к (U+043A)"), ("ox_a\u00a0b", "\u00a0 (U+00A0)")])
def test_a_key_with_a_character_no_key_holds_is_refused_with_a_message(
    desktop: Watched, console: Console, typed: str, odd: str
) -> None:
    """A key holding a character outside ASCII (a typo, a no-break space pasted with it) said "the server cannot
    be reached": the browser cannot send it in a header, and the console took that for a network failure."""
    from playwright.sync_api import expect

    page = desktop.page
    page.goto(console.server.base_url)
    page.get_by_label("User id").fill(console.user)
    page.get_by_label("API key").fill(typed)
    page.get_by_role("button", name="Log in").click()
    char, code = odd.split(" ")
    expected = f'The API key cannot hold "{char}" {code}: paste it exactly as orchestratex keys create printed it.'
    expect(page.locator("#login-error")).to_have_text(expected)
    assert page.evaluate("document.activeElement.id") == "login-key"
    assert page.locator("#app-view").is_hidden()
    assert desktop.problems() == []


def test_a_rate_limit_says_when_to_retry_once(desktop: Watched, console: Console) -> None:
    """The server's 429 says "retry in N s" and the console added "(retry in N s)" from `Retry-After` again."""
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()
    log_in(page, console)
    session_id = new_session(page)
    detail = f"rate limit reached: 100 requests per 60 s for session {session_id}; retry in 42 s"

    def limited(route: Any) -> None:
        body = json.dumps({"detail": detail, "status_code": 429})
        route.fulfill(status=429, content_type="application/json", body=body, headers={"Retry-After": "42"})

    page.route(f"**/api/sessions/{session_id}", limited)
    error = page.locator("#sessions-error")
    for _ in range(4):  # the next read of the session is refused (a poll may come before the route is in place, and
        page.clock.fast_forward(10_000)  # a loaded machine may draw the answer after the wait: CI failed after two)
        if _shown_within(error, detail):
            break
    expect(error).to_have_text(detail)
    assert [p for p in desktop.problems() if "429" not in p] == []


def test_a_slow_read_answered_late_does_not_erase_a_newer_refusal(desktop: Watched, console: Console) -> None:
    """Reads of the session overlap: the first one (with its threads) was slow, a poll meanwhile was refused by a rate
    limit and said so, and the first read's late success erased that message (CI saw it shown, then gone)."""
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()
    log_in(page, console)
    held: list[Any] = []
    page.route("**/api/threads/session/**", lambda route: held.append(route))  # the next session's threads wait
    with page.expect_request("**/api/threads/session/**"):
        session_id = new_session(page)
    detail = f"rate limit reached: 100 requests per 60 s for session {session_id}; retry in 42 s"

    def limited(route: Any) -> None:
        body = json.dumps({"detail": detail, "status_code": 429})
        route.fulfill(status=429, content_type="application/json", body=body, headers={"Retry-After": "42"})

    page.route(f"**/api/sessions/{session_id}", limited)
    error = page.locator("#sessions-error")
    for _ in range(4):  # the poll is refused
        page.clock.fast_forward(10_000)
        if _shown_within(error, detail):
            break
    expect(error).to_have_text(detail)
    assert len(held) == 1
    with page.expect_request_finished(lambda request: "/api/threads/session/" in request.url):
        held[0].continue_()  # the first read now succeeds, older than the refusal shown
    assert not _shown_within(error, "", ms=1500)
    expect(error).to_have_text(detail)


def test_a_reload_while_the_store_is_down_logs_in_again_once_it_answers(desktop: Watched, console: Console) -> None:
    """A page reloaded while the server answered 503 (its store down for a moment, a restart) showed the login form
    with the error and an empty key field, for good: the key kept in the tab was never tried again, and a key is
    printed once. The console now tries it again after `Retry-After`, saying so, and logs in once the store answers."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, console)
    refused: list[str] = []

    def unavailable(route: Any) -> None:
        refused.append(route.request.url)
        detail = "the database is unavailable (busy or unreachable): retry in 1 s"
        body = json.dumps({"detail": detail, "status_code": 503})
        route.fulfill(status=503, content_type="application/json", body=body, headers={"Retry-After": "1"})

    page.route("**/api/sessions/user/**", unavailable)
    page.reload()
    expect(page.locator("#login-error")).to_contain_text("trying again in 1 s")
    expect(page.locator("#login-error")).to_contain_text("the database is unavailable")
    page.unroute("**/api/sessions/user/**")
    page.locator("#app-view").wait_for(state="visible", timeout=15_000)
    assert page.locator("#who-user").text_content() == console.user
    assert refused
    assert [p for p in desktop.problems() if "503" not in p] == []


def _shown_within(locator: Any, text: str, ms: float = 3000) -> bool:
    """Whether `locator` shows `text` within `ms` milliseconds."""
    from playwright.sync_api import expect

    try:
        expect(locator).to_have_text(text, timeout=ms)
    except AssertionError:
        return False
    return True
