"""A finished run of scripted models (their answers, scores and costs chosen), stored in the console server's store
for a new user: what the console shows of figures no simulated model gives."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from .conftest import Console


def user_with_a_run(console: Console, user: str, *, cost: float, score: float, **settings: Any) -> Console:
    """A new user with one session holding one finished run in which every call (an answer, a judge's verdict)
    cost `cost` US$ as its provider reported, and every verdict gave `score`; the console of that user."""
    from orchestratex import FunctionProvider, Orchestrator
    from orchestratex.providers import Generation, GenerationRequest
    from orchestratex.stores import open_store

    from ...helpers import catalog
    from ..server_process import create_key

    key = create_key(console.server.store_url, user)
    with httpx.Client(base_url=console.server.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        session_id = client.post("/api/sessions/", json={}).json()["_id"]

    def answer(request: GenerationRequest) -> Generation:
        text = json.dumps({"score": score, "feedback": "fine"}) if request.purpose == "judge" else "an answer"
        return Generation(text=text, reported_cost=cost)

    async def run() -> None:
        store = await open_store(console.server.store_url)
        try:
            providers = [FunctionProvider(answer)]
            async with Orchestrator(providers=providers, catalog=catalog("a", "b"), store=store) as orchestrator:
                await orchestrator.run("Say hi", session=session_id, **settings)
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:  # (Playwright's loop runs in this thread)
        pool.submit(lambda: asyncio.run(run())).result()
    return Console(console.server, key, user)
