"""The console's message for a key that cannot be one, in a real headless Chromium against a real server process."""

from __future__ import annotations

import pytest

from .conftest import Console, Watched

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("typed", "odd"), [("ox_ключ", "к (U+043A)"), ("ox_a\u00a0b", "\u00a0 (U+00A0)")])
def test_a_key_with_a_character_no_key_holds_is_refused_with_a_message(
    desktop: Watched, console: Console, typed: str, odd: str
) -> None:
    """A key holding a character outside ASCII (a typo, a no-break space pasted with it) said "the server cannot
    be reached": the browser cannot send it in a header, and the console took that for a network failure."""
    page = desktop.page
    page.goto(console.server.base_url)
    page.get_by_label("User id").fill(console.user)
    page.get_by_label("API key").fill(typed)
    page.get_by_role("button", name="Log in").click()
    char, code = odd.split(" ")
    expected = f'The API key cannot hold "{char}" {code}: paste it exactly as orchestratex keys create printed it.'
    assert page.locator("#login-error").inner_text() == expected
    assert page.evaluate("document.activeElement.id") == "login-key"
    assert page.locator("#app-view").is_hidden()
    assert desktop.problems() == []
