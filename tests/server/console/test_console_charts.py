"""A session's charts in the console, in a real headless Chromium against a real server process: their labels."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .conftest import Console, Watched
from .test_console_browser import log_in

pytestmark = pytest.mark.slow


def runs_costing(console: Console, user: str, cost: float) -> Console:
    """A new user with one session holding one finished run whose two calls (an answer and its judge) each cost
    `cost` US$, as its provider reported; the console of that user."""
    from orchestratex import FunctionProvider, Orchestrator
    from orchestratex.providers import Generation, GenerationRequest
    from orchestratex.stores import open_store

    from ...helpers import catalog
    from ..server_process import create_key

    key = create_key(console.server.store_url, user)
    with httpx.Client(base_url=console.server.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        session_id = client.post("/api/sessions/", json={}).json()["_id"]

    def answer(request: GenerationRequest) -> Generation:
        text = json.dumps({"score": 9, "feedback": "fine"}) if request.purpose == "judge" else "an answer"
        return Generation(text=text, reported_cost=cost)

    async def run() -> None:
        store = await open_store(console.server.store_url)
        try:
            providers = [FunctionProvider(answer)]
            async with Orchestrator(providers=providers, catalog=catalog("a", "b"), store=store) as orchestrator:
                await orchestrator.run("Say hi", session=session_id, max_iterations=1)
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:  # (Playwright's loop runs in this thread)
        pool.submit(lambda: asyncio.run(run())).result()
    return Console(console.server, key, user)


@pytest.mark.parametrize(("user", "cost", "label"), [("olga", 617.25, "$1234.5000"), ("piet", 1.9e-7, "$0.00000038")])
def test_the_highest_cost_is_labelled_whole(
    desktop: Watched, console: Console, user: str, cost: float, label: str
) -> None:
    """The cost chart kept 46 of its 320 units left of its axis for the highest cost's label: a longer label was cut
    at its left, so a session that spent $1234.50 showed a scale topped by "234.5000"."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, runs_costing(console, user, cost))
    ticks = page.locator("#cost-chart text.tick")
    expect(ticks.first).to_have_text(label)
    for tick in ticks.all():
        left = tick.evaluate("(text) => text.getBBox().x")
        assert left >= 0, f"the label {tick.text_content()!r} begins {-left:.1f} units left of the chart"
    assert desktop.problems() == []
