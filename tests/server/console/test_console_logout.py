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


@pytest.mark.parametrize(
    ("button", "shown_in", "user"), [("Start", "#start-error", "frank"), ("New session", "#sessions-error", "grace")]
)
def test_a_press_refused_for_a_revoked_key_leaves_nothing_for_the_next_login(
    desktop: Watched, console: Console, button: str, shown_in: str, user: str
) -> None:
    """A key revoked while the page was open logs out at the next call: pressing Start (or New session) did, and the
    refusal of that press was then written into the hidden form (or the sessions' box), where the next login on that
    tab found it — "this API key was revoked" beside the views of a key that works."""
    import json
    import subprocess

    from playwright.sync_api import expect

    from ..server_process import CLI, child_env, create_key

    url = console.server.store_url
    page = desktop.page
    log_in(page, Console(console.server, create_key(url, user), user=user))
    page.get_by_label("Prompt").fill("Explain DNS")
    listed = subprocess.run([*CLI, "keys", "list", "--user", user, "--json", "--store", url], capture_output=True,
                            text=True, env=child_env(), timeout=60, check=True)  # fmt: skip
    (entry,) = json.loads(listed.stdout)
    subprocess.run([*CLI, "keys", "revoke", entry["_id"], "--store", url], env=child_env(), timeout=60, check=True)
    page.get_by_role("button", name=button).click()
    expect(page.locator("#login-error")).to_have_text("The server refused the key (was it revoked?): log in again.")
    page.get_by_label("User id").fill(user)  # (in the same page: a reload would empty it anyway)
    page.get_by_label("API key").fill(create_key(url, user))
    page.get_by_role("button", name="Log in").click()
    page.locator("#app-view").wait_for(state="visible")
    expect(page.locator("#sessions-empty")).to_be_visible()  # (the press made no session: its key was refused)
    expect(page.locator(shown_in)).to_have_text("")
    assert all("401" in p for p in desktop.problems())
