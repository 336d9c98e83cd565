"""A `/v1` stream whose store is lost once its run has started: its error names the run, and says not to retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest
from openai import OpenAI

from orchestratex.exceptions import StoreUnavailable
from orchestratex.stores import MemoryStore

from .conftest import Api, in_app_loop


class _StoreLostAtTheEnd(MemoryStore):
    """A store that cannot be reached when a run commits its end (after its models were paid for)."""

    async def commit(self, orchestration: Any, events: Any = (), **rest: Any) -> Any:
        if orchestration.status == "completed":
            raise StoreUnavailable("cannot reach the database")
        return await super().commit(orchestration, events, **rest)


def test_a_store_failure_in_a_stream_names_the_run_that_started(make_api: Callable[..., Api]) -> None:
    """The stream ended with `store_unavailable`, "the database is unavailable (busy or unreachable): retry in 1 s",
    and nothing on the orchestration that had run (and been paid for): retried as it said, the call ran and paid
    again. The error now names the orchestration to follow, as the same failure without `stream` does."""
    api = make_api(store=_StoreLostAtTheEnd())
    client = OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=2)
    with pytest.raises(openai.APIError) as raised:
        for _ in client.chat.completions.create(
            model="orchestratex/fast", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            pass
    assert raised.value.code == "store_unavailable", raised.value.message
    runs = in_app_loop(api.client).call(api.store.list_orchestrations)
    assert len(runs) == 1
    assert f"orchestration {runs[0].id} had started: follow GET /api/orchestration/status/{runs[0].id}" in (
        raised.value.message
    )
