"""The console's stream after the server's store lost events the page had received (restored from a backup): the
server closes a stream asked for a `since` past its last event with 4422, and the page resubscribes from what the
server has. A real headless Chromium against a real server process on SQLite."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in, new_session

pytestmark = pytest.mark.slow

SOCKETS = """
window.sockets = [];
window.WebSocket = class extends WebSocket {
  constructor(...args) { super(...args); window.sockets.push(this); }
};
"""
"""Keeps the page's WebSockets in reach of the test, to drop the stream as a network would."""


def test_a_stream_refused_after_a_rollback_resubscribes_from_what_the_server_has(
    desktop: Watched, console: Console
) -> None:
    """Before: every reconnection with `?since=<last seq received>` was refused (422 at the handshake, which a browser
    is not told: it could not be told from a server restarting), the page said a proxy or a stream limit might be the
    cause, and no event of the session was shown again, a new run's neither."""
    from playwright.sync_api import expect

    page = desktop.page
    page.add_init_script(SOCKETS)
    log_in(page, console)
    sid = new_session(page)
    page.get_by_label("Prompt").fill("Explain photosynthesis to a child")
    page.get_by_label("Max iterations").fill("1")
    page.get_by_role("button", name="Start").click()
    page.locator(ENDED).wait_for(timeout=90_000)
    assert page.locator("#feed li").count() > 2
    database = console.server.store_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:  # (a rollback: the store restored as it was after the run's 2nd event)
        db.execute("DELETE FROM events WHERE session_id = ? AND seq > 2", (sid,))
        db.execute("UPDATE sessions SET event_seq = 2 WHERE id = ?", (sid,))
    page.evaluate("window.sockets.at(-1).close(4000)")  # (the connection drops)
    expect(page.locator("#stream-state")).to_have_text("Live: events appear as they happen.", timeout=30_000)
    expect(page.locator("#feed li")).to_have_count(2)  # (the run as the server has it now)
    headers = {"Authorization": f"Bearer {console.key}"}
    with httpx.Client(base_url=console.server.base_url, headers=headers, timeout=30) as client:
        thread = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Name a colour"}).json()
        body = {"thread_id": thread["_id"], "settings": {"max_iterations": 1}}
        oid = client.post("/api/orchestration/start", json=body).json()["_id"]
    run = page.locator(f"#orchestration-list button[data-orchestration='{oid}']")
    expect(run.locator(".status")).to_have_text("completed", timeout=90_000)  # (its events, from seq 3 on, all shown)
    expect(page.locator("#orchestration-list li")).to_have_count(2)
    expect(page.locator("#stream-error")).to_be_empty()
    assert page.evaluate("window.sockets.at(-1).url").endswith("?since=0")  # (every event the server has)
    assert desktop.problems() == []
