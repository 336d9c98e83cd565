"""The console's live stream refused at its handshake, in real headless Chromiums against a real server process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from ..server_process import ServerProcess, create_key
from .conftest import SERVER_ENV, Console, Watched, open_page
from .test_console_browser import ENDED, log_in

pytestmark = pytest.mark.slow

LIVE = "Live: events appear as they happen."


@pytest.fixture(scope="module")
def one_stream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A server that lets a user hold one event stream open at a time (`ws_max_per_user`, 20 by default)."""
    where = tmp_path_factory.mktemp("one_stream")
    url = f"sqlite:///{where / 'one.db'}"
    key = create_key(url, "alice")
    env = {**SERVER_ENV, "ORCHESTRATEX_WS_MAX_PER_USER": "1"}
    with ServerProcess(url, where, env=env, name="one-stream") as server:
        yield Console(server, key)


@pytest.fixture
def second(browser: Any, request: pytest.FixtureRequest) -> Iterator[Watched]:
    """Another tab, of another browser window."""
    yield from open_page(browser, request, viewport={"width": 1280, "height": 900})


def test_a_stream_refused_at_its_handshake_says_why_and_opens_once_it_can(
    desktop: Watched, second: Watched, one_stream: Console
) -> None:
    """A WebSocket the server refuses at its handshake (too many streams open for the user, here one: another tab
    holds it) showed nothing but "Disconnected; reconnecting…", in the live view that a session's first run opens, so
    the session's runs read "None yet in this session" with nothing said. The console now says the stream was refused
    and what to do, keeps trying, and opens it once the other tab has closed."""
    from playwright.sync_api import expect

    first = desktop.page
    log_in(first, one_stream)
    first.get_by_role("button", name="New session").click()
    expect(first.locator("#stream-state")).to_have_text(LIVE)
    first.get_by_label("Prompt").fill("Explain recursion")  # (a session with a run: its figures and charts)
    first.get_by_label("Max iterations").fill("1")
    first.get_by_role("button", name="Start").click()
    first.locator(ENDED).wait_for(timeout=90_000)

    page = second.page
    log_in(page, one_stream)
    error = page.locator("#stream-error")
    expect(error).to_contain_text("The server refused the live stream of this session")
    expect(error).to_contain_text("close some")
    expect(error).to_be_in_viewport()  # (in sight as the session opens: not below its charts)
    expect(page.locator("#runs-empty")).to_be_visible()  # (what it says is doubtful: the error above says why)

    first.goto("about:blank")  # the other tab leaves the console: its stream is given back
    expect(error).to_be_empty(timeout=30_000)  # (the console tries again, at most 10 s apart)
    expect(page.locator("#stream-state")).to_have_text(LIVE)
    assert [p for p in second.problems() if "WebSocket" not in p] == []


@pytest.fixture(scope="module")
def tiny_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A server that buffers one event per stream (`ws_queue_size`, 1000 by default): a burst of events closes the
    stream with 4008, as a page on a slow network is closed (it reconnects with `since`, losing nothing)."""
    where = tmp_path_factory.mktemp("tiny_queue")
    url = f"sqlite:///{where / 'tiny.db'}"
    key = create_key(url, "alice")
    env = {**SERVER_ENV, "ORCHESTRATEX_WS_QUEUE_SIZE": "1", "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
    with ServerProcess(url, where, env=env, name="tiny-queue") as server:
        yield Console(server, key)


def test_a_stream_closed_as_too_slow_does_not_tell_the_user_to_reconnect_by_hand(
    desktop: Watched, tiny_queue: Console
) -> None:
    """A stream the server closed for taking its events too slowly (4008) read "Disconnected (too slow: reconnect with
    ?since=<last seq received>)": the server's instruction to a client program, shown to a person, while the console
    reconnects that way by itself. It now reads "Disconnected (too slow); reconnecting in …", and no event is lost."""
    page = desktop.page
    log_in(page, tiny_queue)
    page.evaluate(
        """() => {
          window.streamStates = [];
          new MutationObserver(() => window.streamStates.push(document.getElementById('stream-state').textContent))
            .observe(document.getElementById('stream-state'), {childList: true, characterData: true, subtree: true});
        }"""
    )
    page.get_by_role("button", name="New session").click()
    for i in range(10):  # runs until one of them is too fast for the stream (a burst of its events)
        page.get_by_label("Prompt").fill(f"Explain recursion, take {i}")
        page.get_by_label("Threshold (0–10)").fill("10")
        page.get_by_role("button", name="Start").click()
        page.locator(ENDED).wait_for(timeout=90_000)
        states: list[str] = page.evaluate("window.streamStates")
        if any(state.startswith("Disconnected") for state in states):
            break
    closed = [state for state in states if state.startswith("Disconnected")]
    assert closed, states  # (else the test shows nothing)
    assert all(re.fullmatch(r"Disconnected \(too slow\); reconnecting in [\d.]+ s…", state) for state in closed), closed
    seqs = [int(s) for s in page.locator("#feed li").evaluate_all("(cards) => cards.map((c) => c.dataset.seq)")]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # (every event of the run shown once, none missed)
