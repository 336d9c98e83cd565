"""The console's live stream carries the API key in its subprotocol, not its URL, in a real headless Chromium against a
real server process: the URL of every WebSocket that fails (the server stopped, the network down) is written by
Chromium to the devtools console, and proxies log URLs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..server_process import ServerProcess, create_key
from .conftest import SERVER_ENV, Console, Watched
from .test_console_browser import ENDED, log_in

pytestmark = pytest.mark.slow

LIVE = "Live: events appear as they happen."


@pytest.fixture
def own(tmp_path: Path) -> Iterator[Console]:
    """A server of this test alone: it is stopped under the page."""
    url = f"sqlite:///{tmp_path / 'key.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path, env=SERVER_ENV, name="ws-key") as server:
        yield Console(server, key)


def test_the_live_stream_puts_the_key_in_no_url_not_even_when_it_fails(desktop: Watched, own: Console) -> None:
    """The console opened `ws://host/ws/{session_id}?since=0&token=<key>`: each failed attempt to reconnect wrote
    "WebSocket connection to '…?since=0&token=ox_…' failed" to the devtools console, key included. It now offers the
    key as the `bearer.<key>` subprotocol, and the stream works as before."""
    from playwright.sync_api import expect

    page = desktop.page
    sockets: list[str] = []
    urls: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("request", lambda request: urls.append(request.url))
    log_in(page, own)
    page.get_by_role("button", name="New session").click()
    expect(page.locator("#stream-state")).to_have_text(LIVE)
    page.get_by_label("Prompt").fill("Explain recursion")
    page.get_by_label("Max iterations").fill("1")
    page.get_by_role("button", name="Start").click()
    page.locator(ENDED).wait_for(timeout=90_000)  # (its events came over the stream)
    assert page.locator("#feed li").count() >= 3
    assert sockets and all("/ws/" in url for url in sockets)
    log = own.server.log()
    assert '"WEBSOCKET /ws/' in log  # (the access line of each handshake: its path)

    own.server.kill()  # the server stops: the console tries again, and Chromium reports each failed attempt
    expect(page.locator("#stream-state")).to_contain_text("reconnecting", timeout=30_000)
    deadline = time.monotonic() + 30
    while not any("WebSocket connection to" in m for m in desktop.messages):
        assert time.monotonic() < deadline, desktop.messages
        page.wait_for_timeout(200)

    assert len(sockets) >= 2  # (the first stream and at least one attempt after the stop)
    for url in [*sockets, *urls]:
        assert own.key not in url and "token=" not in url, url
    for line in [*desktop.messages, *desktop.errors]:
        assert own.key not in line, line
    assert own.key not in log and "token=" not in log
