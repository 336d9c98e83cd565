"""The API docs (`/docs`, `/redoc`) in a real headless Chromium against a real server process: they render,
and the browser requests nothing from another host (ReDoc's bundle names its logo on a CDN)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Console, Watched

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("page_path", "rendered"),
    [("/redoc", "h2:has-text('Create Session')"), ("/docs", "#operations-sessions-create_session_api_sessions__post")],
)
def test_the_api_docs_render_and_load_nothing_off_host(
    desktop: Watched, console: Console, page_path: str, rendered: str
) -> None:
    sent: list[str] = []  # every request the browser actually sends

    def route(request_route: Any) -> None:
        sent.append(request_route.request.url)
        if request_route.request.url.startswith(console.server.base_url):
            request_route.continue_()
        else:
            request_route.abort()  # (this machine has no Internet access anyway)

    page = desktop.page
    page.context.route("**/*", route)
    page.goto(f"{console.server.base_url}{page_path}")
    page.locator(rendered).first.wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    assert f"{console.server.base_url}/openapi.json" in sent
    assert [url for url in sent if not url.startswith(console.server.base_url)] == []
    blocked = [p for p in desktop.problems() if "violates the following Content Security Policy" in p]
    assert all("https://" in p and "img-src" in p for p in blocked), blocked  # only the CDN logo, refused
    assert [p for p in desktop.problems() if p not in blocked] == []
