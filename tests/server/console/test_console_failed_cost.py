"""The console's table of a run's verdicts shows what calls that gave nothing kept were billed (the iteration's
`failed_cost`), so the run's figures add up to its total. A real headless Chromium against a real server process."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in

pytestmark = pytest.mark.slow


def user_with_a_refused_call(console: Console, user: str) -> Console:
    """A new user whose one run's first pick refused on content grounds with its usage (billed, at $0.001 per 1k
    tokens: $0.001050); the console of that user."""
    from orchestratex import FunctionProvider, Orchestrator, Usage
    from orchestratex.exceptions import ContentFiltered
    from orchestratex.providers import GenerationRequest
    from orchestratex.routing import BayesianRouter
    from orchestratex.stores import open_store

    from ...helpers import NO_WAIT, catalog
    from ..server_process import create_key

    key = create_key(console.server.store_url, user)
    with httpx.Client(base_url=console.server.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        session_id = client.post("/api/sessions/", json={}).json()["_id"]

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "fine"}'
        if request.model.name == "function:a":
            raise ContentFiltered("refused", status_code=400, usage=Usage(input_tokens=1000, output_tokens=50))
        return "an answer"

    async def run() -> None:
        store = await open_store(console.server.store_url)
        try:
            async with Orchestrator(
                providers=[FunctionProvider(answer)],
                catalog=catalog("a", "b", quality={"a": 9.0, "b": 7.0}),
                router=BayesianRouter(explore=False),
                retry=NO_WAIT,
                store=store,
            ) as orchestrator:
                result = await orchestrator.run("Say hi", session=session_id, max_iterations=1)
                assert result.orchestration.iterations[0].failed_cost == 0.00105
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:  # (Playwright's loop runs in this thread)
        pool.submit(lambda: asyncio.run(run())).result()
    return Console(console.server, key, user)


def test_what_a_refused_call_was_billed_is_in_the_verdicts_table(desktop: Watched, console: Console) -> None:
    """Before: the table listed the judge's verdict ($0.000…) and nothing of the $0.001050 the refusal was billed,
    which was in the run's total and on no card of the feed nor row of the table."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, user_with_a_refused_call(console, "rafa"))
    page.locator(ENDED).wait_for()
    row = page.locator("#verdicts tr.failed-cost")
    expect(row.locator("th")).to_have_text("billed for nothing kept")
    expect(row.locator("td").nth(0)).to_have_text("1")
    expect(row.locator("td").nth(3)).to_have_text("$0.001050")
    assert desktop.problems() == []


def test_a_running_runs_cost_in_the_list_says_it_is_at_least_that(desktop: Watched, console: Console) -> None:
    """The list of runs showed a running run's cost as the sum of its events' costs, which leave out what calls that
    gave nothing kept were billed (the iteration's `failed_cost`): a refusal billed $0.001050 was missing from the
    figure until the run ended, when it jumped to the stored total. While a run goes on, its figure now reads "at
    least", and the stored total once it has ended."""
    import threading

    from playwright.sync_api import expect

    from orchestratex import FunctionProvider, Orchestrator, Usage
    from orchestratex.exceptions import ContentFiltered
    from orchestratex.providers import GenerationRequest
    from orchestratex.routing import BayesianRouter
    from orchestratex.stores import open_store

    from ...helpers import NO_WAIT, catalog
    from ..server_process import create_key
    from .test_console_browser import money

    key = create_key(console.server.store_url, "ines")
    with httpx.Client(base_url=console.server.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        session_id = client.post("/api/sessions/", json={}).json()["_id"]
    judging = threading.Event()
    judged = threading.Event()

    async def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            judging.set()
            await asyncio.to_thread(judged.wait, 60)  # (held until the page has shown the running figure)
            return '{"score": 9, "feedback": "fine"}'
        if request.model.name == "function:a":
            raise ContentFiltered("refused", status_code=400, usage=Usage(input_tokens=1000, output_tokens=50))
        return "an answer"

    async def run() -> float:
        store = await open_store(console.server.store_url)
        try:
            async with Orchestrator(
                providers=[FunctionProvider(answer)],
                catalog=catalog("a", "b", quality={"a": 9.0, "b": 7.0}),
                router=BayesianRouter(explore=False),
                retry=NO_WAIT,
                store=store,
            ) as orchestrator:
                result = await orchestrator.run("Say hi", session=session_id, max_iterations=1)
                assert result.orchestration.iterations[0].failed_cost == 0.00105
                return result.total_cost
        finally:
            await store.close()

    page = desktop.page
    log_in(page, Console(console.server, key, "ines"))
    page.locator("#session-facts dd").first.wait_for()
    meta = page.locator("#orchestration-list .pick-meta")
    with ThreadPoolExecutor(1) as pool:  # (Playwright's loop runs in this thread)
        done = pool.submit(lambda: asyncio.run(run()))
        try:
            assert judging.wait(60)
            page.locator("#feed li[data-type=response_generated]").wait_for()
            expect(meta).to_have_text("— · at least $0.000022")  # (the answer: the refusal's $0.001050 is not in it)
        finally:
            judged.set()
        total = done.result()
    page.locator(ENDED).wait_for()
    expect(meta).to_have_text(f"9.0/10 · {money(total)}")  # (the stored total: the refusal in it)
    assert desktop.problems() == []
