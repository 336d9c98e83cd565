"""A real server process, a real headless Chromium (Debian's `chromium`, driven by Playwright), and
screenshots, page logs and the server's log kept under `test-artifacts/` when a test fails."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..server_process import ServerProcess, create_key

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("ORCHESTRATEX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
SERVER_ENV = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.15", "ORCHESTRATEX_RATE_LIMIT": "100000"}
"""Simulated calls take a little time, so that a run's events arrive one after another; and a rate limit the tests'
status polling cannot reach: the default, 100 requests a minute per session, was reached on a loaded runner by the
polls of runs slow to end (several runs of one session, the page's reads besides), and a 429's body has no status."""


@dataclass
class Console:
    """The server the browser talks to, with the key of user alice."""

    server: ServerProcess
    key: str
    user: str = "alice"


@dataclass
class Watched:
    """A browser page with what it logged: console messages and uncaught errors."""

    page: Page
    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Uncaught errors and console errors (a Content-Security-Policy refusal is one)."""
        return self.errors + [m for m in self.messages if m.startswith("error:")]


def _browser_or_skip() -> Any:
    """Playwright's Chromium launcher: skipped where no Chromium is installed, except in CI, where it must be."""
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set ORCHESTRATEX_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: Playwright is missing (scripts/_venv.sh dev installs it)")
        pytest.skip("Playwright is not installed (pip install playwright, or scripts/_venv.sh dev)")
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    where = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{where / 'console.db'}"
    key = create_key(url, "alice")
    server = ServerProcess(url, where, env=SERVER_ENV, name="console")
    with server:
        yield Console(server, key)


@pytest.fixture(scope="module")
def finished_run(console: Console) -> str:
    """The id of an orchestration of alice's that has ended, started through the REST API."""
    import time

    import httpx

    headers = {"Authorization": f"Bearer {console.key}"}
    with httpx.Client(base_url=console.server.base_url, headers=headers, timeout=30) as client:
        session = client.post("/api/sessions/", json={}).json()
        body = {"session_id": session["_id"], "original_prompt": "Explain photosynthesis to a child"}
        thread = client.post("/api/threads/", json=body).json()
        oid: str = client.post("/api/orchestration/start", json={"thread_id": thread["_id"]}).json()["_id"]
        deadline = time.monotonic() + 90
        while client.get(f"/api/orchestration/status/{oid}").json()["status"] not in ("completed", "failed"):
            assert time.monotonic() < deadline, f"orchestration {oid} did not end"
            time.sleep(0.1)
    return oid


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    setattr(item, f"report_{report.when}", report)  # read by `open_page` to keep artefacts of a failed test
    return report


def _keep_artifacts(request: pytest.FixtureRequest, watched: Watched, console: Console | None) -> None:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        watched.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    except Exception as exc:  # the page may be gone: keep the rest
        watched.errors.append(f"(no screenshot: {exc})")
    lines = [*watched.messages, *(f"pageerror: {e}" for e in watched.errors)]
    (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if console is not None and console.server.log_path.exists():
        shutil.copyfile(console.server.log_path, ARTIFACTS / f"{name}.server.log")


def open_page(browser: Browser, request: pytest.FixtureRequest, **context: Any) -> Iterator[Watched]:
    """A fresh browser context and page; on failure its screenshot and logs go to `test-artifacts/`."""
    ctx = browser.new_context(**context)
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    watched = Watched(page)
    page.on("console", lambda m: watched.messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: watched.errors.append(str(e)))
    try:
        yield watched
    finally:
        report = getattr(request.node, "report_call", None)
        if report is None or report.failed:
            console = request.getfixturevalue("console") if "console" in request.fixturenames else None
            _keep_artifacts(request, watched, console)
        ctx.close()


@pytest.fixture
def desktop(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Watched]:
    yield from open_page(browser, request, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Watched]:
    yield from open_page(
        browser, request, viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
