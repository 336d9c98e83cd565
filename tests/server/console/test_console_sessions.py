"""A user's many sessions in the console, in a real headless Chromium against a real server process."""

from __future__ import annotations

import httpx
import pytest

from ..server_process import create_key
from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in

pytestmark = pytest.mark.slow


def test_every_session_of_a_user_with_many_is_in_reach(desktop: Watched, console: Console) -> None:
    """The list kept the newest 200 sessions and nothing said there were more: older ones could not be opened. And
    the list grew without end, pushing the selected session's runs and charts thousands of pixels down the page."""
    from playwright.sync_api import expect

    key = create_key(console.server.store_url, "gina")
    with httpx.Client(base_url=console.server.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        ids = [client.post("/api/sessions/", json={}).json()["_id"] for _ in range(203)]  # oldest first
    page = desktop.page
    log_in(page, Console(console.server, key, "gina"))
    sessions = page.locator("#session-list button")
    expect(sessions).to_have_count(200)
    assert sessions.first.get_attribute("data-session") == ids[-1]  # newest first
    view = page.locator("#session-view").bounding_box()
    assert view is not None and view["y"] < 1500, "the selected session is far down the page"

    older = page.get_by_role("button", name="Show older sessions (3 more)")
    older.focus()
    page.keyboard.press("Enter")
    expect(sessions).to_have_count(203)
    assert older.is_hidden()
    oldest = page.locator(f"#session-list button[data-session='{ids[0]}']")
    assert page.evaluate("document.activeElement.dataset.session") == ids[2]  # the first one added
    oldest.click()
    expect(page.locator("#session-title")).to_have_text(f"Session {ids[0]}")
    page.reload()  # the selected session is in the list again, though older than the newest 200
    expect(page.locator("#session-list button[aria-current=true]")).to_have_attribute("data-session", ids[0])
    assert desktop.problems() == []


def test_a_double_click_on_new_session_makes_one(desktop: Watched, console: Console) -> None:
    """Each click of a double click created a session: the button took a second press while the first was sent."""
    from playwright.sync_api import expect

    key = create_key(console.server.store_url, "hugo")
    page = desktop.page
    log_in(page, Console(console.server, key, "hugo"))
    page.get_by_role("button", name="New session").dblclick()
    expect(page.locator("#session-list button")).to_have_count(1)
    page.wait_for_timeout(500)  # (time for a second one to be made)
    url = f"{console.server.base_url}/api/sessions/user/hugo"
    assert len(httpx.get(url, headers={"Authorization": f"Bearer {key}"}).json()) == 1
    expect(page.locator("#session-list button")).to_have_count(1)
    assert page.evaluate("document.activeElement.id") == "new-session"  # the focus stays on the button
    assert desktop.problems() == []


def test_the_newest_threads_of_a_session_with_many_are_listed(desktop: Watched, console: Console) -> None:
    """The console read one page of a session's threads (`?limit=1000`, oldest first): a session of more than
    1,000 threads (a `/v1` session makes one per call) listed its oldest 1,000, and a thread started from the form
    never appeared. Every thread is now read, and a refresh reads only the newer ones."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from playwright.sync_api import expect

    from orchestratex.records import Thread
    from orchestratex.stores import open_store

    key = create_key(console.server.store_url, "ivan")
    with httpx.Client(base_url=console.server.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        session_id = client.post("/api/sessions/", json={}).json()["_id"]

    async def add_threads() -> None:  # (straight into the server's store: through the API, the rate limit applies)
        store = await open_store(console.server.store_url)
        try:
            for i in range(1002):
                thread = Thread(session_id=session_id, user_id="ivan", original_prompt=f"old prompt number {i}")
                await store.create_thread(thread)
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:  # (Playwright's loop runs in this thread)
        pool.submit(lambda: asyncio.run(add_threads())).result()
    page = desktop.page
    log_in(page, Console(console.server, key, "ivan"))
    threads = page.locator("#thread-list li")
    expect(threads).to_have_count(1002)
    expect(threads.first).to_contain_text("old prompt number 1001")  # newest first
    page.get_by_label("Prompt").fill("The newest prompt of all")
    page.get_by_role("button", name="Start").click()
    expect(threads).to_have_count(1003)
    expect(threads.first).to_contain_text("The newest prompt of all")
    expect(threads.last).to_contain_text("old prompt number 0")
    assert desktop.problems() == []


def test_starting_in_an_ended_session_says_to_pick_another(desktop: Watched, console: Console) -> None:
    """Pressing Start with an ended session selected (the newest, ended through the API) showed the server's refusal
    of a step the user never asked for — "session … is completed: threads can only be added to an active
    session" — instead of saying that no orchestration can start there, and what to do."""
    from playwright.sync_api import expect

    headers = {"Authorization": f"Bearer {console.key}"}
    base = console.server.base_url
    session_id = httpx.post(f"{base}/api/sessions/", json={}, headers=headers).json()["_id"]
    ended = httpx.patch(f"{base}/api/sessions/{session_id}/status", json={"status": "completed"}, headers=headers)
    assert ended.status_code == 200, ended.text
    page = desktop.page
    log_in(page, console)
    expect(page.locator("#session-list button[aria-current=true]")).to_have_attribute("data-session", session_id)
    expect(page.locator("#session-facts dd").first).to_have_text("completed")
    page.get_by_label("Prompt").fill("Explain quicksort")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#start-error")).to_have_text(
        "This session has ended (completed): no orchestration can start in it. Press New session, or pick an active"
        " session."
    )
    expect(page.get_by_role("button", name="Start")).to_be_focused()
    assert desktop.problems() == []


def test_starting_in_a_session_paused_since_it_was_read_says_so(desktop: Watched, console: Console) -> None:
    """A session paused elsewhere (another tab, the API) after the page last read it: Start showed the server's
    refusal, "session … is paused: threads can only be added to an active session", a step the user never asked
    for, and the session's facts still said "active"."""
    from playwright.sync_api import expect

    headers = {"Authorization": f"Bearer {console.key}"}
    base = console.server.base_url
    session_id = httpx.post(f"{base}/api/sessions/", json={}, headers=headers).json()["_id"]
    page = desktop.page
    log_in(page, console)
    expect(page.locator("#session-list button[aria-current=true]")).to_have_attribute("data-session", session_id)
    expect(page.locator("#session-facts dd").first).to_have_text("active")
    paused = httpx.patch(f"{base}/api/sessions/{session_id}/status", json={"status": "paused"}, headers=headers)
    assert paused.status_code == 200, paused.text
    page.get_by_label("Prompt").fill("Explain quicksort")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#start-error")).to_have_text(
        "This session is paused: no orchestration can start in it until it is active again. Press New session, or"
        " pick an active session."
    )
    expect(page.locator("#session-facts dd").first).to_have_text("paused")
    resumed = httpx.patch(f"{base}/api/sessions/{session_id}/status", json={"status": "active"}, headers=headers)
    assert resumed.status_code == 200, resumed.text
    page.get_by_label("Max iterations").fill("1")
    page.get_by_role("button", name="Start").click()  # (and once it is active again, a start goes through)
    page.locator(ENDED).wait_for(timeout=90_000)
    threads = httpx.get(f"{base}/api/threads/session/{session_id}", headers=headers).json()
    assert [t["original_prompt"] for t in threads] == ["Explain quicksort"]
    assert all("status of 409" in p for p in desktop.problems())  # (the refused start)


def test_a_start_answered_after_another_session_is_picked_stays_in_its_own(desktop: Watched, console: Console) -> None:
    """A session picked while a start was on its way (a slow server): the run started was shown in the session
    picked, as "waiting for the orchestration to start" for good, since none of its events comes on that session's
    stream. It stays in its own session now, and is shown there once that session is opened again."""
    from playwright.sync_api import Route, expect

    key = create_key(console.server.store_url, "hana")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=console.server.base_url, headers=headers) as client:
        other, first = (client.post("/api/sessions/", json={}).json()["_id"] for _ in range(2))
    page = desktop.page
    held: list[Route] = []
    page.route("**/api/orchestration/start", lambda route: held.append(route))  # (held back: a slow server)
    log_in(page, Console(console.server, key, "hana"))
    expect(page.locator("#session-title")).to_have_text(f"Session {first}")
    page.get_by_label("Prompt").fill("Explain tides")
    page.get_by_role("button", name="Start").click()
    page.wait_for_function("() => document.getElementById('start-submit').getAttribute('aria-busy') === 'true'")
    for _ in range(600):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the start was not sent"
    page.locator(f"#session-list button[data-session='{other}']").click()
    expect(page.locator("#session-title")).to_have_text(f"Session {other}")
    held[0].continue_()
    # (the button is free once the start's answer has been dealt with: a run it showed would be shown by then)
    expect(page.locator("#start-submit")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#live-view")).to_be_hidden()  # (the session picked has no run)
    expect(page.locator("#orchestration-list button")).to_have_count(0)

    page.locator(f"#session-list button[data-session='{first}']").click()
    page.locator(ENDED).wait_for(timeout=90_000)
    expect(page.locator("#feed li[data-type=orchestration_started] pre")).to_have_text("Explain tides")
    assert desktop.problems() == []


def test_a_start_pressed_while_a_new_session_is_made_runs_in_the_new_session(
    desktop: Watched, console: Console
) -> None:
    """New session, then Start at once, on a slow network: the start went to the session selected before, as the new
    one was not made yet, and the page then showed the new session, empty, with nothing said of the run started
    elsewhere. The start now waits for the new session and runs there, shown live."""
    from playwright.sync_api import Route, expect

    key = create_key(console.server.store_url, "ines")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=console.server.base_url, headers=headers) as client:
        before = client.post("/api/sessions/", json={}).json()["_id"]
    page = desktop.page
    log_in(page, Console(console.server, key, "ines"))
    expect(page.locator("#session-title")).to_have_text(f"Session {before}")
    held: list[Route] = []
    page.route(
        "**/api/sessions/", lambda route: held.append(route) if route.request.method == "POST" else route.continue_()
    )
    page.get_by_role("button", name="New session").click()
    for _ in range(600):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the new session was not asked for"
    page.get_by_label("Prompt").fill("Explain monsoons")
    page.get_by_label("Max iterations").fill("1")
    page.get_by_role("button", name="Start").click()
    page.wait_for_timeout(1000)  # (time for a start to be sent, were it not waiting)
    held[0].continue_()
    page.locator(ENDED).wait_for(timeout=90_000)
    expect(page.locator("#feed li[data-type=orchestration_started] pre")).to_have_text("Explain monsoons")
    with httpx.Client(base_url=console.server.base_url, headers=headers) as client:
        sessions = client.get("/api/sessions/user/ines").json()
        assert len(sessions) == 2
        made = sessions[-1]["_id"]
        assert made != before
        expect(page.locator("#session-title")).to_have_text(f"Session {made}")
        prompts = {
            sid: [t["original_prompt"] for t in client.get(f"/api/threads/session/{sid}").json()]
            for sid in (before, made)
        }
    assert prompts == {before: [], made: ["Explain monsoons"]}
    assert desktop.problems() == []


def test_the_models_hint_names_the_models_of_a_session_limited_to_some(desktop: Watched, console: Console) -> None:
    """A start with no models takes its session's: the hint under the field said "empty routes among all" in a
    session limited to one model, and a user wanting every model left the field empty and got that one only."""
    from playwright.sync_api import expect

    key = create_key(console.server.store_url, "ines")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=console.server.base_url, headers=headers) as client:
        body = {"settings": {"preferred_models": ["sim:gpt-4o-mini", "sim:o3"]}}
        limited = client.post("/api/sessions/", json=body).json()["_id"]
        free = client.post("/api/sessions/", json={}).json()["_id"]
    page = desktop.page
    log_in(page, Console(console.server, key, "ines"))
    hint = page.locator("#start-models-hint")
    expect(page.locator("#session-title")).to_have_text(f"Session {free}")
    expect(hint).to_have_text("Comma-separated names or aliases; empty routes among all.")
    page.locator(f"#session-list button[data-session='{limited}']").click()
    expect(hint).to_have_text(
        "Comma-separated names or aliases; empty routes among this session's: sim:gpt-4o-mini, sim:o3."
    )
    page.get_by_label("Prompt").fill("Explain tides")
    page.get_by_label("Max iterations").fill("1")
    page.get_by_role("button", name="Start").click()  # (the field left empty)
    page.locator(ENDED).wait_for(timeout=90_000)
    routed = page.locator("#feed li[data-type=model_selected] table.alternatives tbody th")
    assert {name.split(" ")[0] for name in routed.all_inner_texts()} == {"sim:gpt-4o-mini", "sim:o3"}
    page.locator(f"#session-list button[data-session='{free}']").click()
    expect(hint).to_have_text("Comma-separated names or aliases; empty routes among all.")
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#start-models-hint")).not_to_contain_text("sim:")  # (nothing of the user is left)
    assert desktop.problems() == []


def test_a_session_made_in_another_tab_is_listed_on_coming_back(desktop: Watched, console: Console) -> None:
    """The list of sessions was read at log-in (and at New session) only: a session made in another tab was missing
    from the first one until the next log-in, so its runs could not be opened there. Coming back to the tab now adds
    the sessions made since, the one selected kept."""
    from playwright.sync_api import expect

    key = create_key(console.server.store_url, "iris")
    iris = Console(console.server, key, "iris")
    page = desktop.page
    log_in(page, iris)
    page.get_by_role("button", name="New session").click()
    selected = page.locator("#session-list button[aria-current=true]")
    first = selected.get_attribute("data-session")
    other = desktop.page.context.new_page()  # another tab
    log_in(other, iris)
    made: list[str | None] = []
    for _ in range(2):
        before = other.locator("#session-list button").count()
        other.get_by_role("button", name="New session").click()
        expect(other.locator("#session-list button")).to_have_count(before + 1)
        made.append(other.locator("#session-list button[aria-current=true]").get_attribute("data-session"))
    other.close()

    page.bring_to_front()
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # the user comes back to the tab
    sessions = page.locator("#session-list button")
    expect(sessions).to_have_count(3)
    shown = [sessions.nth(i).get_attribute("data-session") for i in range(3)]
    assert shown == [made[1], made[0], first], (shown, made, first)
    assert selected.get_attribute("data-session") == first
    with page.expect_request_finished(lambda request: "/api/sessions/user/iris" in request.url):
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # (again: nothing new, nothing twice)
    expect(sessions).to_have_count(3)
    sessions.first.click()
    expect(page.locator("#session-title")).to_have_text(f"Session {made[1]}")
    assert desktop.problems() == []


def test_a_user_id_typed_in_another_unicode_form_logs_in(desktop: Watched, console: Console) -> None:
    """zoë's key was made for `zoë` composed; typed decomposed (`e` + U+0308, as macOS may give it), the console said
    `This key cannot open user "zoë"`, which read exactly as the key's user. It now logs her in, her sessions
    listed."""
    from playwright.sync_api import expect

    key = create_key(console.server.store_url, "zo\u00eb")
    with httpx.Client(base_url=console.server.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        session_id = client.post("/api/sessions/", json={}).json()["_id"]
    page = desktop.page
    log_in(page, Console(console.server, key, "zoe\u0308"))
    expect(page.locator(f"#session-list button[data-session='{session_id}']")).to_be_visible()
    assert desktop.problems() == []
