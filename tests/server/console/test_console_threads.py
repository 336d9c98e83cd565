"""A session's threads in the console, in a real headless Chromium against a real server process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ..server_process import ServerProcess, create_key
from .conftest import SERVER_ENV, Console, Watched
from .test_console_browser import log_in, new_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A server whose simulated models take about as long as real ones: a run lasts tens of seconds."""
    where = tmp_path_factory.mktemp("slow")
    url = f"sqlite:///{where / 'slow.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, where, env={**SERVER_ENV, "ORCHESTRATEX_SIM_LATENCY_SCALE": "5"}, name="slow") as server:
        yield Console(server, key)


def test_a_thread_started_elsewhere_is_listed_while_its_run_goes_on(desktop: Watched, slow_server: Console) -> None:
    """A run started on a new thread from elsewhere (another tab, a script, the API) showed in the console at once, but
    its thread was listed only once the run had ended: the threads were read again at a run's end alone."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, slow_server)
    expect(page.locator("#sessions-empty")).to_be_visible()  # (a user with no session yet, on a server of its own)
    session_id = new_session(page)
    page.locator("#session-facts dd").first.wait_for()  # (drawn once the new session and its threads, none, are read)
    headers = {"Authorization": f"Bearer {slow_server.key}"}
    with httpx.Client(base_url=slow_server.server.base_url, headers=headers, timeout=30) as client:
        body = {"session_id": session_id, "original_prompt": "Started by a script: compare B-trees and LSM-trees"}
        thread = client.post("/api/threads/", json=body).json()
        oid = client.post("/api/orchestration/start", json={"thread_id": thread["_id"]}).json()
        page.locator(f"#orchestration-list button[data-orchestration='{oid['_id']}']").wait_for()
        expect(page.locator("#thread-list li bdi")).to_have_text([body["original_prompt"]])
        cancelled = client.post(f"/api/orchestration/{oid['_id']}/cancel")
        assert cancelled.status_code == 200, (
            cancelled.text
        )  # (not 409: it was still running when its thread was listed)
    assert desktop.problems() == []


def test_a_thread_made_elsewhere_with_no_run_is_listed_at_the_next_poll(desktop: Watched, console: Console) -> None:
    """A thread made through the API (another tab, a script) with no run yet was listed only once the session was
    selected again: the poll read the session's status alone, and no event tells of a thread. The poll now reads the
    threads made since the last read too (only those: none, mostly)."""
    from playwright.sync_api import expect

    page = desktop.page
    page.clock.install()  # time runs as usual, and can be moved on to the next poll
    log_in(page, console)
    session_id = new_session(page)
    page.locator("#session-facts dd").first.wait_for()
    headers = {"Authorization": f"Bearer {console.key}"}
    prompts = ["Made by a script: name the planets", "Made by a script too: name the oceans"]
    with httpx.Client(base_url=console.server.base_url, headers=headers, timeout=30) as client:
        for prompt in prompts:
            made = client.post("/api/threads/", json={"session_id": session_id, "original_prompt": prompt})
            assert made.status_code == 201, made.text
            page.clock.fast_forward(10_000)  # past the next poll
            expect(page.locator("#thread-list li bdi").first).to_have_text(prompt)
    expect(page.locator("#thread-list li bdi")).to_have_text(prompts[::-1])  # (each listed once, newest first)
    assert desktop.problems() == []
