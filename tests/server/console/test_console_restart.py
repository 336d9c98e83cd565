"""The console across a restart of its server (SQLite on a file), in a real headless Chromium: the run in progress is
resumed by the next server, and the page follows it there."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..server_process import ServerProcess, create_key
from .conftest import SERVER_ENV, Console, Watched
from .test_console_browser import ENDED, log_in

pytestmark = pytest.mark.slow


def restarted(server: ServerProcess, where: Path) -> ServerProcess:
    """A server (to start) on the store and the port of `server`, stopped: the page open on it reconnects by itself."""
    again = ServerProcess(server.store_url, where, env=SERVER_ENV, name="restarted")
    again.port, again.base_url, again.ws_url = server.port, server.base_url, server.ws_url
    return again


SLOW_CALLS = {**SERVER_ENV, "ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}
"""The first server's simulated calls take their full time (0.3 to 6 s): at `SERVER_ENV`'s scale a judge's call took
under 0.1 s, and on a loaded runner the whole run had ended before the test, told of its first answer, stopped the
server, which then had no call in flight to abandon."""


@pytest.fixture
def first(tmp_path: Path) -> Iterator[Console]:
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path, env=SLOW_CALLS, name="first") as server:
        yield Console(server, key)


def test_a_run_resumed_by_the_next_server_says_what_its_total_leaves_out(
    desktop: Watched, first: Console, tmp_path: Path
) -> None:
    """A run in progress when its server stopped is resumed by the next one, which makes again the call the first had
    in flight (the status document counts it in `interrupted_calls`: the provider may have billed it twice, and the
    total cost does not count that). `orchestratex runs show` says so; the console showed the total alone."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, first)
    page.get_by_role("button", name="New session").click()
    page.locator("#session-list button[aria-current=true]").wait_for()
    page.get_by_label("Prompt").fill("Explain the CAP theorem")
    page.get_by_label("Max iterations").fill("3")
    page.get_by_label("Threshold (0–10)").fill("10")
    page.get_by_role("button", name="Start").click()
    page.locator("#feed li[data-type=response_generated]").first.wait_for()  # (now its judge is called)
    oid = (page.locator("#live-title").text_content() or "").split()[-1]
    assert first.server.proc is not None
    first.server.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while "stopping: waiting up to" not in first.server.log():  # (two signals sent 0.2 s apart to a server not
        assert time.monotonic() < deadline  # scheduled meanwhile were one: its grace let the run end, nothing resumed)
        time.sleep(0.05)
    first.server.kill(signal.SIGTERM)  # (a second: the run is handed back at once, its call abandoned in flight)
    with restarted(first.server, tmp_path):
        page.locator(ENDED).wait_for(timeout=90_000)
        headers = {"Authorization": f"Bearer {first.key}"}
        deadline = time.monotonic() + 30
        while (doc := httpx.get(f"{first.server.base_url}/api/orchestration/status/{oid}", headers=headers).json())[
            "status"
        ] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert doc["interrupted_calls"] >= 1, doc
        seqs = [int(s) for s in page.locator("#feed li").evaluate_all("(cards) => cards.map((c) => c.dataset.seq)")]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # (every event once, none missed)
        calls = doc["interrupted_calls"]
        expect(page.locator("#verdicts .note")).to_have_text(
            f"{calls} call{' was' if calls == 1 else 's were'} in flight when the server running this orchestration"
            " stopped or died, and made again when it was resumed (simulated models: nothing was billed)."
        )
    assert [p for p in desktop.problems() if "ERR_CONNECTION_REFUSED" not in p and "WebSocket" not in p] == []
