"""What an idle console asks of the server: a real headless Chromium against a real server process, the page's clock
moved on past its reads. Eight tabs open on one session read it every 10 s each, 96 requests a minute: the session's
rate limit (100 a minute) was reached by idle tabs alone, and a 429 was answered by the next read 10 s later."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..server_process import ServerProcess, create_key
from .conftest import Console, Watched
from .test_console_browser import log_in, new_session

pytestmark = pytest.mark.slow


def _reads_of_threads(page: Any, session_id: str) -> list[str]:
    """The page's reads of the session's threads from now on: its polls make one each, and nothing else the page does
    while it is idle (a stream given up as silent, the page's clock run ahead, reads the session alone)."""
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if f"/api/threads/session/{session_id}" in r.url else None)
    return reads


def _pass(page: Any, seconds: int) -> None:
    """Move the page's clock on by `seconds`, 10 s at a time, each step's reads answered before the next."""
    for _ in range(seconds // 10):
        page.clock.fast_forward(10_000)
        page.wait_for_timeout(150)


class _Refusing:
    """A Playwright route handler answering 429 with `Retry-After: seconds`, counting the requests it refuses."""

    def __init__(self, seconds: int, detail: str) -> None:
        self.seconds, self.detail, self.count = seconds, detail, 0

    def __call__(self, route: Any) -> None:
        self.count += 1
        body = json.dumps({"detail": self.detail, "status_code": 429})
        route.fulfill(
            status=429, content_type="application/json", body=body, headers={"Retry-After": str(self.seconds)}
        )


def test_an_idle_console_reads_its_session_less_and_less_often(desktop: Watched, console: Console) -> None:
    """Each read finding the session as it was doubles the wait before the next, up to a minute: ten idle minutes
    make a dozen reads, not sixty; and a change made elsewhere is still shown within that minute."""
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()  # time runs as usual, and can be moved on past the next reads
    log_in(page, console)
    session_id = new_session(page)
    status = page.locator("#session-facts dd").first
    expect(status).to_have_text("active")
    reads = _reads_of_threads(page, session_id)
    _pass(page, 600)  # ten minutes
    assert 6 <= len(reads) <= 13, reads  # 10, 30, 70, 130 s, then every minute
    r = httpx.patch(
        f"{console.server.base_url}/api/sessions/{session_id}/status",
        json={"status": "paused"},
        headers={"Authorization": f"Bearer {console.key}"},
    )
    assert r.status_code == 200, r.text
    page.clock.fast_forward(60_000)  # the slowest pace
    expect(status).to_have_text("paused")
    assert desktop.problems() == []


def test_a_console_back_in_sight_reads_at_once_and_at_the_first_pace_again(desktop: Watched, console: Console) -> None:
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()
    log_in(page, console)
    session_id = new_session(page)
    expect(page.locator("#session-facts dd").first).to_have_text("active")
    _pass(page, 180)  # three idle minutes: a read a minute by now
    reads = _reads_of_threads(page, session_id)
    with page.expect_request(f"**/api/threads/session/{session_id}*"):
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # the user comes back to the tab
    with page.expect_request(f"**/api/threads/session/{session_id}*"):
        page.clock.fast_forward(10_000)
    assert len(reads) == 2, reads


def test_a_rate_limited_read_waits_for_its_retry_after(desktop: Watched, console: Console) -> None:
    """A read of the session refused by a rate limit (`Retry-After: 55`) was followed by another 10 s later, and so on,
    each refused and counted against the user; the next read now waits the 55 s."""
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()
    log_in(page, console)
    session_id = new_session(page)
    expect(page.locator("#session-facts dd").first).to_have_text("active")
    detail = f"rate limit reached: 100 requests per 60 s for session {session_id}; retry in 55 s"

    page.route(f"**/api/sessions/{session_id}", _Refusing(55, detail))
    error = page.locator("#sessions-error")
    page.clock.fast_forward(10_000)  # the next read is refused
    expect(error).to_have_text(detail)
    page.wait_for_timeout(150)
    reads = _reads_of_threads(page, session_id)
    _pass(page, 40)  # of the 55 s
    assert reads == []
    page.unroute(f"**/api/sessions/{session_id}")
    with page.expect_request(f"**/api/threads/session/{session_id}*"):
        page.clock.fast_forward(20_000)  # past the 55 s
    expect(error).to_have_text("")
    assert [p for p in desktop.problems() if "429" not in p] == []


def test_a_stream_refused_by_a_rate_limit_is_not_tried_again_before_its_retry_after(
    desktop: Watched, tmp_path: Path
) -> None:
    """A browser is told nothing of a refused handshake: a stream refused by the session's rate limit was tried again
    within 10 s, over and over, each try refused and counted against the user. The read of the session that explains
    the refusal is refused too, with a `Retry-After`; the stream now waits that long (10 minutes at most) and says
    so."""
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'limited.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_RATE_LIMIT": "3", "ORCHESTRATEX_RATE_WINDOW_S": "86400"}  # (a window the test stays in)
    with ServerProcess(url, tmp_path, env=env, name="limited") as server:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            session_id = client.post("/api/sessions/", json={}).json()["_id"]
            while client.get(f"/api/sessions/{session_id}").status_code != 429:  # the session's requests spent
                pass
        page = desktop.page
        page.clock.install()
        tries: list[str] = []
        page.on("websocket", lambda ws: tries.append(ws.url))
        log_in(page, Console(server, key))
        expect(page.locator("#stream-error")).to_contain_text("The live stream cannot be opened: rate limit reached")
        # and the line above the events says the wait (it went on saying the first retry's: "in 0.5 s")
        held = (
            "The live stream could not be opened, and the server asks to wait (a rate limit); reconnecting in 10 min…"
        )
        expect(page.locator("#stream-state")).to_have_text(held)
        page.wait_for_timeout(1000)  # (a try already on its way when the refusal was read: refused, and read again)
        before = len(tries)
        assert before >= 1
        _pass(page, 60)
        assert len(tries) - before <= 1, tries  # (one more, at most: a try made as the clock moved on)
    assert [p for p in desktop.problems() if "429" not in p and "WebSocket" not in p] == []


def test_verdicts_refused_by_a_rate_limit_are_read_again_after_its_retry_after(
    desktop: Watched, console: Console
) -> None:
    """A read of the run's verdicts refused by a rate limit (`Retry-After: 55`) was made again 10 s later, and so on,
    each refused and counted against the user; it now waits the 55 s."""
    from playwright.sync_api import expect

    from .test_console_runs import new_session_with_runs

    new_session_with_runs(console, "What is 8 + 8?", max_iterations=1)
    page = desktop.page
    page.clock.install()
    refuse = _Refusing(55, "rate limit reached: 1000 requests per 60 s for user alice; retry in 55 s")
    page.route("**/api/orchestration/status/**", refuse)
    log_in(page, console)
    expect(page.locator("#verdicts .error")).to_contain_text("The verdicts could not be read: rate limit reached")
    assert refuse.count == 1
    _pass(page, 40)  # of the 55 s
    assert refuse.count == 1
    page.unroute("**/api/orchestration/status/**")
    page.clock.fast_forward(20_000)  # past the 55 s
    expect(page.locator("#verdicts table")).to_be_visible()
    assert [p for p in desktop.problems() if "429" not in p] == []


def test_a_login_again_refused_by_a_rate_limit_waits_for_its_retry_after(desktop: Watched, console: Console) -> None:
    """A page reloaded while the user's rate limit refused its reads logged in again at most 10 s later, whatever the
    `Retry-After`, each try refused and counted; it now waits the `Retry-After`, and says how long."""
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()
    log_in(page, console)
    refuse = _Refusing(30, "rate limit reached: 1000 requests per 60 s for user alice; retry in 30 s")
    page.route("**/api/sessions/user/**", refuse)
    page.reload()
    expect(page.locator("#login-error")).to_contain_text("trying again in 30 s…")
    assert refuse.count == 1
    _pass(page, 20)  # of the 30 s
    assert refuse.count == 1
    page.unroute("**/api/sessions/user/**")
    page.clock.fast_forward(15_000)  # past the 30 s
    page.locator("#app-view").wait_for(state="visible")
    assert [p for p in desktop.problems() if "429" not in p] == []
