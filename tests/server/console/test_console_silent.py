"""The console's live stream over a network gone silent, in a real headless Chromium against a real server process: a
real TCP proxy on 127.0.0.1 between them stops passing anything on the connections it holds (a Wi-Fi dropped, a NAT
that forgot them), which closes nothing, while new connections pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..server_process import ServerProcess, create_key
from .conftest import SERVER_ENV, Console, Watched
from .tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow


class SilencingProxy(TcpProxy):
    """`silence()` makes every connection open so far (and, if asked, every one opened later) drop what it carries,
    both ways, without closing it."""

    pass_closes = False

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.silenced_below = 0

    def silence(self, *, new_ones_too: bool = False) -> None:
        """Every connection open so far drops what it carries; with `new_ones_too`, every one opened from now on too."""
        self.silenced_below = 2**62 if new_ones_too else self.opened

    def restore(self) -> None:
        """The connections opened from now on pass what they carry (those silenced so far stay silent)."""
        self.silenced_below = self.opened

    def forward(self, data: bytes, number: int, *, request: bool) -> bytes:
        return data if number >= self.silenced_below else b""


def record_states(page: Any) -> None:
    """Keep, in the page, every text the line of the stream's state shows (`window.states`): some last an instant."""
    page.evaluate(
        """() => {
          window.states = [];
          const line = document.getElementById('stream-state');
          new MutationObserver((changes) => {
            for (const change of changes) for (const node of change.addedNodes) window.states.push(node.textContent);
          }).observe(line, {childList: true});
        }"""
    )


@pytest.fixture
def quick_heartbeats(tmp_path: Path) -> Iterator[Console]:
    """A server whose streams send a heartbeat after 1 s of silence (15 s by default)."""
    url = f"sqlite:///{tmp_path / 'silent.db'}"
    key = create_key(url, "alice")
    env = {**SERVER_ENV, "ORCHESTRATEX_HEARTBEAT_S": "1"}
    with ServerProcess(url, tmp_path, env=env, name="heartbeats") as server:
        yield Console(server, key)


@pytest.fixture
def proxy(quick_heartbeats: Console) -> Iterator[SilencingProxy]:
    proxy = SilencingProxy(quick_heartbeats.server.port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()


def test_a_stream_gone_silent_is_reopened(desktop: Watched, quick_heartbeats: Console, proxy: SilencingProxy) -> None:
    """A network gone silent closes nothing: the page said "Live: events appear as they happen." for good, and a run
    started meanwhile never showed. The server's heartbeats missed, the console now gives the stream up, opens another
    (`since` the last event received), and the run shows."""
    from playwright.sync_api import expect

    page = desktop.page
    page.goto(proxy.base_url)  # (the page, its REST calls and its stream all through the proxy)
    page.get_by_label("User id").fill(quick_heartbeats.user)
    page.get_by_label("API key").fill(quick_heartbeats.key)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="New session").click()
    state = page.locator("#stream-state")
    expect(state).to_have_text("Live: events appear as they happen.")
    sid = page.locator("#session-list button[aria-current=true]").get_attribute("data-session")
    record_states(page)
    page.wait_for_timeout(2500)  # (a heartbeat or two: the server's interval, 1 s here)
    proxy.silence()
    headers = {"Authorization": f"Bearer {quick_heartbeats.key}"}
    with httpx.Client(base_url=quick_heartbeats.server.base_url, headers=headers, timeout=30) as client:
        thread = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Name a colour"}).json()
        body = {"thread_id": thread["_id"], "settings": {"max_iterations": 1}}
        oid = client.post("/api/orchestration/start", json=body).json()["_id"]
    run = page.locator(f"#orchestration-list button[data-orchestration='{oid}']")
    expect(run.locator(".status")).to_have_text("completed", timeout=60_000)
    assert "Nothing came from the server for 10 s (the network may have dropped); reconnecting…" in page.evaluate(
        "window.states"
    )
    expect(state).to_have_text("Live: events appear as they happen.")
    expect(page.locator("#feed li").first).to_have_attribute("data-seq", "1")
    assert [p for p in desktop.problems() if "ERR_" not in p] == []


def test_a_stream_whose_handshake_goes_unanswered_is_tried_again(
    desktop: Watched, quick_heartbeats: Console, proxy: SilencingProxy
) -> None:
    """While the network stays silent, a new stream's handshake is not answered either: it is given up as a refused one
    is, saying so, and tried again at the pace of refusals (not after twice as long each time, as for a stream that had
    opened), so that the stream opens soon after the network comes back."""
    from playwright.sync_api import expect

    page = desktop.page
    page.goto(proxy.base_url)
    page.get_by_label("User id").fill(quick_heartbeats.user)
    page.get_by_label("API key").fill(quick_heartbeats.key)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="New session").click()
    state = page.locator("#stream-state")
    expect(state).to_have_text("Live: events appear as they happen.")
    page.wait_for_timeout(2500)  # (a heartbeat or two: the server's interval, 1 s here)
    record_states(page)
    proxy.silence(new_ones_too=True)
    page.wait_for_function(
        "() => window.states.some((text) => /^The live stream did not open within 20 s; reconnecting in/.test(text))",
        timeout=60_000,
    )
    proxy.restore()
    expect(state).to_have_text("Live: events appear as they happen.", timeout=30_000)
    assert [p for p in desktop.problems() if "ERR_" not in p] == []
