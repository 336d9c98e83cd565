"""What the console says of the calls a run's total cost leaves out, for models of a real (local) provider priced at
$0 or not: a real headless Chromium, a real server process, a real OpenAI-compatible HTTP server as the provider."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestratex.testing.provider_contract import Reply, local_server

from ..server_process import ServerProcess, create_key
from .conftest import SERVER_ENV, Console, Watched
from .test_console_browser import ENDED, log_in, new_session

pytest.importorskip("orchestratex_openai")
pytestmark = pytest.mark.slow

_CATALOG = """
include_default = false

[providers.ollama]
kind = "openai"
base_url = "{base}/v1"

[[models]]
name = "ollama:llama3.2"
cost_per_1k_tokens = {price}

[[models]]
name = "ollama:qwen2.5"
cost_per_1k_tokens = 0
"""


@pytest.fixture
def called() -> Iterator[tuple[str, threading.Event]]:
    """A provider whose models never answer until the test ends (then 503): its base URL, and set once called."""
    asked, release = threading.Event(), threading.Event()

    def slow(sent: dict[str, Any]) -> Reply:
        asked.set()
        release.wait(60)
        return Reply(503)

    with local_server(slow) as base:
        try:
            yield base, asked
        finally:
            release.set()


def _served(where: Path, base: str, price: str) -> ServerProcess:
    catalog = where / "models.toml"
    catalog.write_text(_CATALOG.format(base=base, price=price))
    return ServerProcess(
        f"sqlite:///{where / 'ox.db'}", where, env={**SERVER_ENV, "ORCHESTRATEX_CATALOG": str(catalog)}
    )


@pytest.mark.parametrize(("price", "billed"), [("0", False), ("0.002", True)], ids=["free", "priced"])
def test_a_call_abandoned_by_a_cancel_is_said_maybe_billed_unless_its_models_are_free(
    desktop: Watched, called: tuple[str, threading.Event], tmp_path: Path, price: str, billed: bool
) -> None:
    """A run cancelled while its model answered: the console said the call abandoned in flight was one "which the
    provider may have billed", of Ollama models the server's catalog prices at $0 too (it asked only whether the models
    were simulated); `orchestratex runs show` no longer says so of free models. Of a priced model it still does."""
    from playwright.sync_api import expect

    base, asked = called
    server = _served(tmp_path, base, price)
    with server:
        console = Console(server, create_key(server.store_url, "alice"))
        page = desktop.page
        log_in(page, console)
        new_session(page)
        page.get_by_label("Prompt").fill("What is 6*7?")
        page.get_by_label("Models").fill("ollama:llama3.2")
        page.get_by_role("button", name="Start").click()
        assert asked.wait(60), "the run made no call"
        page.get_by_role("button", name="Cancel orchestration").click()
        page.locator(ENDED).wait_for(timeout=60_000)
        oid = (page.locator("#live-title").text_content() or "").split()[-1]
        headers = {"Authorization": f"Bearer {console.key}"}
        doc = httpx.get(f"{server.base_url}/api/orchestration/status/{oid}", headers=headers).json()
        assert (doc["status"], doc["abandoned_calls"]) == ("cancelled", 1), doc
        page.locator("#verdicts h3").wait_for()  # (the status document has been read)
        notes = page.locator("#verdicts .note")
        if billed:
            expect(notes).to_have_text(
                [
                    "The total cost does not count 1 call abandoned in flight when it was cancelled, which the"
                    " provider may have billed."
                ]
            )
        else:
            expect(notes).to_have_count(0)
    assert desktop.problems() == []
