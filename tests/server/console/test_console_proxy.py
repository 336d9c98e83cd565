"""The console behind a proxy that drops the `Sec-WebSocket-Protocol` header, which carries the key of its live stream,
in a real headless Chromium against a real server process: a real TCP proxy on 127.0.0.1 between them passes every
request on, that header taken out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from .conftest import Console, Watched
from .tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

_PROTOCOL_HEADER = re.compile(rb"\r\nSec-WebSocket-Protocol:[^\r\n]*", re.IGNORECASE)


class HeaderDroppingProxy(TcpProxy):
    """Takes every `Sec-WebSocket-Protocol` request header out (as some proxies and gateways do to headers they do
    not know)."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.dropped = 0

    def forward(self, data: bytes, number: int, *, request: bool) -> bytes:
        if request:
            data, n = _PROTOCOL_HEADER.subn(b"", data)
            self.dropped += n
        return data


@pytest.fixture
def proxy(console: Console) -> Iterator[HeaderDroppingProxy]:
    proxy = HeaderDroppingProxy(console.server.port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()


def test_a_proxy_dropping_the_subprotocol_header_is_named_as_the_reason_the_stream_is_refused(
    desktop: Watched, console: Console, proxy: HeaderDroppingProxy
) -> None:
    """Behind a proxy that drops `Sec-WebSocket-Protocol`, the stream's key never reached the server, which refused
    the handshake (401) while every REST call passed. The console said the user might hold too many streams ("close
    some") or that the proxy did not pass WebSockets on: it does, and nothing said the key could be lost on the way
    (the browser tells nothing of a refused handshake, so which it is cannot be known). It now says so first, with
    the header the proxy must pass on."""
    from playwright.sync_api import expect

    page = desktop.page
    page.goto(proxy.base_url)  # (the page, its REST calls and its stream all through the proxy)
    page.get_by_label("User id").fill(console.user)
    page.get_by_label("API key").fill(console.key)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="New session").click()
    error = page.locator("#stream-error")
    expect(error).to_contain_text("Sec-WebSocket-Protocol", timeout=30_000)
    expect(error).to_contain_text("the key may not reach the server")
    expect(error).to_be_in_viewport()
    assert proxy.dropped > 0  # (the header was offered, and taken out on the way)
    assert [p for p in desktop.problems() if "WebSocket" not in p] == []
