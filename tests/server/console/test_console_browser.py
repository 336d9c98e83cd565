"""The web console in a real headless Chromium against a real server process: log in, start a run
from the form and watch its events arrive, on a desktop and on a phone, and with the keyboard only."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..server_process import CLI, ServerProcess, child_env, create_key
from .conftest import SERVER_ENV, Console, Watched

pytestmark = pytest.mark.slow

HOSTILE = '<img src=x onerror="document.title=1"><b>bold</b> Write a Python function to reverse a string'
ENDED = "#feed li[data-type=orchestration_completed], #feed li[data-type=orchestration_failed]"


def money(value: float) -> str:
    """As the console writes dollars (dom.js `money`)."""
    return "$0" if value == 0 else f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def session_of(console: Console, orchestration_id: str) -> str:
    headers = {"Authorization": f"Bearer {console.key}"}
    url = f"{console.server.base_url}/api/orchestration/status/{orchestration_id}"
    session_id: str = httpx.get(url, headers=headers).json()["session_id"]
    return session_id


def log_in(page: Any, console: Console) -> None:
    page.goto(console.server.base_url)
    page.get_by_label("User id").fill(console.user)
    page.get_by_label("API key").fill(console.key)
    page.get_by_role("button", name="Log in").click()
    page.locator("#app-view").wait_for(state="visible")


def new_session(page: Any) -> str:
    """Click "New session" and return its id once the console has selected it (not the one selected before)."""
    current = page.locator("#session-list button[aria-current=true]")
    before = current.get_attribute("data-session") if current.count() else None
    page.get_by_role("button", name="New session").click()
    page.wait_for_function(
        "(before) => { const b = document.querySelector('#session-list button[aria-current=true]');"
        " return b !== null && b.dataset.session !== before; }",
        arg=before,
    )
    session_id: str = current.get_attribute("data-session")
    return session_id


def record_arrivals(page: Any) -> None:
    """Note, in the page, when each card of the live feed appears (ms since the page loaded)."""
    page.evaluate(
        """() => {
          window.arrivals = [];
          new MutationObserver((changes) => {
            for (const change of changes) for (const node of change.addedNodes)
              if (node.dataset && node.dataset.type) window.arrivals.push([node.dataset.type, performance.now()]);
          }).observe(document.getElementById('feed'), {childList: true});
        }"""
    )


def test_log_in_start_a_run_and_watch_its_events_arrive(desktop: Watched, console: Console) -> None:
    page = desktop.page
    log_in(page, console)
    assert page.locator("#who-user").text_content() == "alice"
    record_arrivals(page)

    page.get_by_label("Prompt").fill(HOSTILE)
    page.get_by_label("Domain").select_option("coding")
    page.get_by_label("Max iterations").fill("3")
    page.get_by_label("Threshold (0–10)").fill("9.9")  # high: the run refines, so events keep coming
    page.get_by_role("button", name="Start").click()

    page.locator("#feed li[data-type=model_selected]").first.wait_for()
    page.locator(ENDED).wait_for(timeout=90_000)
    page.locator("#verdicts table").wait_for()

    arrivals: list[list[Any]] = page.evaluate("window.arrivals")
    types = [t for t, _ in arrivals]
    assert types[0] == "orchestration_started" and types[-1] in ("orchestration_completed", "orchestration_failed")
    assert {"model_selected", "response_generated", "evaluation_completed"} <= set(types)
    assert arrivals[-1][1] - arrivals[0][1] > 300, f"the events came in one batch, not live: {arrivals}"
    seqs = [int(s) for s in page.locator("#feed li").evaluate_all("(ns) => ns.map((n) => n.dataset.seq)")]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) == len(arrivals)

    # the routing decision with its reason and the alternatives, each judge's verdict, costs, stop reason
    routed = page.locator("#feed li[data-type=model_selected]").first
    assert "routed to" in routed.locator(".event-title").inner_text()
    assert routed.locator(".reasoning").inner_text().strip()
    assert routed.locator("table.alternatives tbody tr").count() >= 2
    assert routed.locator("tr.chosen").count() == 1
    judged = page.locator("#feed li[data-type=evaluation_completed]").first
    assert "/10" in judged.locator(".event-title").inner_text() and judged.locator(".feedback").inner_text()
    assert page.locator("#verdicts table.verdicts tbody tr").count() >= 1
    assert "$" in page.locator("#feed li[data-type=response_generated]").first.inner_text()
    assert "stop reason" in page.locator(ENDED).inner_text()

    # what the user typed is shown as text, never run or parsed as HTML
    assert page.locator("#feed img, #feed b, #orchestration-list img").count() == 0
    assert HOSTILE in page.locator("#feed li[data-type=orchestration_started] .prompt").inner_text()
    # (the onerror would have made it "1"; the title names the run by its prompt, as text)
    assert re.fullmatch(rf"(completed|failed) · {re.escape(HOSTILE[:39])}… · OrchestrateX console", page.title())

    # the session's list and charts include the run
    page.locator("#orchestration-list .status:not(.running)").first.wait_for()
    assert page.locator("#cost-chart svg rect.bar").count() == 1
    assert page.locator("#score-chart svg circle.dot").count() <= 1
    assert page.locator("#cost-chart svg title").first.text_content()

    # the store agrees with the page
    oid = page.locator("#orchestration-list button").first.get_attribute("data-orchestration")
    status = httpx.get(
        f"{console.server.base_url}/api/orchestration/status/{oid}",
        headers={"Authorization": f"Bearer {console.key}"},
    ).json()
    assert status["status"] in ("completed", "failed")
    assert money(status["total_cost"]) in page.locator(ENDED).inner_text()
    assert desktop.problems() == []


def test_a_second_run_streams_into_the_open_session(desktop: Watched, console: Console, finished_run: str) -> None:
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, console)
    page.locator("#orchestration-list button").first.wait_for()
    before = page.locator("#orchestration-list button").count()
    page.get_by_label("Prompt").fill("Write a Python function that checks whether a number is prime")
    page.get_by_label("Threshold (0–10)").fill("9.5")
    page.get_by_role("button", name="Start").click()
    page.locator(ENDED).wait_for(timeout=90_000)
    page.locator("#verdicts table").wait_for()
    expect(page.locator("#orchestration-list button")).to_have_count(before + 1)
    expect(page.locator("#cost-chart rect.bar")).to_have_count(before + 1)
    if shot := os.environ.get("ORCHESTRATEX_CONSOLE_SCREENSHOT"):  # the picture of docs/console.md
        page.screenshot(path=shot, clip={"x": 0, "y": 0, "width": 1280, "height": 1300}, full_page=True)
    # an older run opens from the list, with its stored events
    page.locator("#orchestration-list button").last.click()
    page.locator("#feed li[data-type=orchestration_started]").wait_for()
    page.locator("#verdicts table").wait_for()
    assert page.locator("#orchestration-list button[aria-current=true]").count() == 1
    assert desktop.problems() == []


def test_a_wrong_key_is_refused_with_a_message(desktop: Watched, console: Console) -> None:
    page = desktop.page
    page.goto(console.server.base_url)
    page.get_by_label("User id").fill("alice")
    page.get_by_label("API key").fill("ox_not-a-key")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert").filter(has_text="The server refused this API key: unknown API key")
    alert.wait_for()
    assert page.locator("#app-view").is_hidden()
    # only the 401 of the refused key reaches the console log
    assert all("401" in p for p in desktop.problems())


def test_a_revoked_key_is_said_to_be_revoked(desktop: Watched, console: Console) -> None:
    """Logging in with a revoked key said "The server does not know this API key.", as for a mistyped one: the user
    pasted it again, while the server had said it was revoked and a new one was needed."""
    import json
    import subprocess

    url = console.server.store_url
    key = create_key(url, "erin")
    listed = subprocess.run([*CLI, "keys", "list", "--user", "erin", "--json", "--store", url], capture_output=True,
                            text=True, env=child_env(), timeout=60, check=True)  # fmt: skip
    (entry,) = json.loads(listed.stdout)
    subprocess.run([*CLI, "keys", "revoke", entry["_id"], "--store", url], env=child_env(), timeout=60, check=True)
    page = desktop.page
    page.goto(console.server.base_url)
    page.get_by_label("User id").fill("erin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").filter(has_text="this API key was revoked: ask for a new one").wait_for()
    assert page.locator("#app-view").is_hidden()
    assert all("401" in p for p in desktop.problems())


def test_keyboard_only_login(desktop: Watched, console: Console) -> None:
    page = desktop.page
    page.goto(console.server.base_url)
    page.locator("html[data-ready=true]").wait_for(state="attached")
    assert page.evaluate("document.activeElement.id") == "login-user"  # the page starts in the first field
    page.keyboard.press("Shift+Tab")  # before it, only the skip link
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "login-user"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the focused field shows no focus ring"
    page.keyboard.type(console.user)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "login-key"
    page.keyboard.type(console.key)
    page.keyboard.press("Enter")
    page.locator("#app-view").wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "sessions-title"  # focus moves to the content
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.tagName")
    assert focused == "BUTTON"
    assert desktop.problems() == []


def test_readable_on_a_phone(phone: Watched, console: Console, finished_run: str) -> None:
    page = phone.page
    log_in(page, console)
    page.locator(f"#session-list button[data-session='{session_of(console, finished_run)}']").click()
    page.locator(f"#orchestration-list button[data-orchestration='{finished_run}']").click()
    page.locator(ENDED).wait_for()
    width = page.evaluate("window.innerWidth")
    assert width == 375
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways on a phone"
    for selector in ("#start-prompt", "#start-submit", "#feed", "#cost-chart svg"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, selector
    size = float(page.evaluate("getComputedStyle(document.querySelector('#start-prompt')).fontSize").removesuffix("px"))
    assert size >= 16, "inputs under 16 px make phones zoom in"
    tap = page.locator("#start-submit").bounding_box()
    assert tap is not None and tap["height"] >= 40
    assert phone.problems() == []


def test_long_words_do_not_widen_the_page_on_a_phone(phone: Watched, console: Console) -> None:
    """A thread whose prompt is one long word (a URL, a hash), or a refusal naming a long model name, made the page
    1000 px and more wide: it scrolled sideways, and the browser widened the layout until taps missed."""
    with httpx.Client(base_url=console.server.base_url, headers={"Authorization": f"Bearer {console.key}"}) as client:
        session_id = client.post("/api/sessions/", json={}).json()["_id"]  # (the newest: the console opens it)
        body = {"session_id": session_id, "original_prompt": "https://example.com/" + "x" * 500}
        assert client.post("/api/threads/", json=body).status_code == 201
    page = phone.page
    log_in(page, console)
    page.get_by_label("Prompt").fill("Explain recursion")
    page.get_by_label("Models").fill("m" * 300)
    page.get_by_role("button", name="Start").click()
    page.get_by_role("alert").filter(has_text=f"Models: no model '{'m' * 40}").wait_for()
    page.locator("#thread-list li").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "the page scrolls sideways on a phone"
    assert all("status of 404" in p for p in phone.problems())  # the model looked up


def test_a_refused_start_leaves_no_thread_behind(desktop: Watched, console: Console) -> None:
    """The form's numbers are checked in the page (a whole number of iterations, the fields' ranges), and so are the
    models: a start the server refused for an unknown model left behind the thread made for it (the API cannot delete
    one), and the next start, its prompt changed, made another. Now no thread is made before the models are known."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, console)
    session_id = new_session(page)
    headers = {"Authorization": f"Bearer {console.key}"}

    def prompts() -> list[str]:
        url = f"{console.server.base_url}/api/threads/session/{session_id}"
        return [t["original_prompt"] for t in httpx.get(url, headers=headers).json()]

    error = page.locator("#start-error")
    page.get_by_label("Prompt").fill("Explain recursion with an example")
    for field, value, message in [
        ("Max iterations", "1.5", 'Max iterations: "1.5" is not a whole number.'),
        ("Max iterations", "0", "Max iterations: give at least 1."),
        ("Threshold (0–10)", "11", "Threshold (0–10): give at most 10."),
        ("Cost limit (US$)", "-1", "Cost limit (US$): give at least 0."),
    ]:
        page.get_by_label(field).fill(value)
        page.get_by_role("button", name="Start").click()
        expect(error).to_have_text(message)
        page.get_by_label(field).fill("")
    page.get_by_label("Models").fill("sim:gpt-4o, no-such-model")
    for _ in range(2):  # refused, twice
        page.get_by_role("button", name="Start").click()
        page.get_by_role("alert").filter(has_text="Models: unknown model 'no-such-model'").wait_for()
        error.evaluate("(node) => { node.textContent = ''; }")
    assert prompts() == []
    page.get_by_label("Prompt").fill("Explain recursion with two examples")  # (the user rewords it meanwhile)
    page.get_by_label("Models").fill("")
    page.get_by_label("Max iterations").fill("1")
    page.get_by_role("button", name="Start").click()
    page.locator(ENDED).wait_for(timeout=90_000)
    assert prompts() == ["Explain recursion with two examples"]
    assert all("status of 404" in p for p in desktop.problems())  # the unknown model looked up, twice


def test_a_session_ended_elsewhere_is_shown_ended(desktop: Watched, console: Console) -> None:
    """No event says that a session's status changed (the WebSocket carries orchestration events): the console
    reads the selected session again when the page is seen again (back from another tab) and every 10 s."""
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()  # time runs as usual, and can be moved on to the next poll
    log_in(page, console)
    session_id = new_session(page)
    current = page.locator(f"#session-list button[data-session='{session_id}']")
    status = page.locator("#session-facts dd").first
    expect(status).to_have_text("active")

    def set_status(value: str) -> None:
        url = f"{console.server.base_url}/api/sessions/{session_id}/status"
        r = httpx.patch(url, json={"status": value}, headers={"Authorization": f"Bearer {console.key}"})
        assert r.status_code == 200, r.text

    set_status("paused")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # the user comes back to the tab
    expect(status).to_have_text("paused")
    set_status("completed")
    page.clock.fast_forward(10_000)  # past the next poll
    expect(status).to_have_text("completed")
    expect(current.locator(".pick-meta")).to_contain_text("completed")
    page.reload()  # a stream of the ended session: its events, then a close with 1000 (it reconnected forever)
    expect(page.locator("#stream-state")).to_have_text("The session has ended: every event is shown.")
    assert desktop.problems() == []


def test_a_failed_read_of_the_session_is_not_shown_once_a_read_succeeds(desktop: Watched, console: Console) -> None:
    """A read of the selected session that fails (the server briefly unavailable) says so; the next read that
    succeeds takes the message away, rather than leaving a stale error under fresh figures."""
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()
    log_in(page, console)
    session_id = new_session(page)
    error = page.locator("#sessions-error")
    expect(page.locator("#session-facts dd").first).to_have_text("active")

    def unavailable(route: Any) -> None:
        route.fulfill(status=503, content_type="application/json", body='{"detail": "the store is unavailable"}')

    page.route(f"**/api/sessions/{session_id}", unavailable)
    page.clock.fast_forward(10_000)  # the next poll fails
    expect(error).to_have_text("the store is unavailable")
    page.unroute(f"**/api/sessions/{session_id}")
    page.clock.fast_forward(10_000)  # the one after succeeds
    expect(error).to_have_text("")
    assert [p for p in desktop.problems() if "503" not in p] == []


def test_the_console_works_under_a_path_prefix(desktop: Watched, tmp_path: Path) -> None:
    """Mounted under `/ox` (a proxy's prefix): the page loads its files, and reaches the API and the WebSocket, there
    (it asked for `/console/...`, `/api/...` and `/ws/...` at the host's root, and stayed blank)."""
    url = f"sqlite:///{tmp_path / 'prefixed.db'}"
    key = create_key(url, "alice")
    here = str(Path(__file__).resolve().parent)
    args = ["--app-dir", here]
    with ServerProcess(
        url, tmp_path, env=SERVER_ENV, name="prefixed", uvicorn_args=args, app="mounted_app:create"
    ) as server:
        page = desktop.page
        page.goto(f"{server.base_url}/ox/")
        page.get_by_label("User id").fill("alice")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Log in").click()
        page.locator("#app-view").wait_for(state="visible")
        page.get_by_label("Prompt").fill("Explain photosynthesis to a child")
        page.get_by_role("button", name="Start").click()
        page.locator("#feed li[data-type=model_selected]").first.wait_for()  # live, over /ox/ws/...
        page.locator(ENDED).wait_for(timeout=90_000)
        assert "stop reason" in page.locator(ENDED).inner_text()
    assert desktop.problems() == []
