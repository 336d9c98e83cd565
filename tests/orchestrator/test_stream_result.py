"""`RunStream.result` after the iteration raised the run's error: that error again, not "the run has not finished"."""

from __future__ import annotations

from typing import Any

import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import StoreUnavailable
from orchestratex.orchestrator import RetryPolicy
from orchestratex.stores import MemoryStore


class _Down(MemoryStore):
    """A store that cannot commit a run's steps."""

    async def commit_step(self, *args: Any, **kwargs: Any) -> bool:
        raise StoreUnavailable("the store is down")


async def test_the_result_of_a_stream_whose_run_failed_is_its_error() -> None:
    async with Orchestrator(simulate=True, store=_Down(), store_retry=RetryPolicy(max_attempts=1)) as orch:
        orch.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
        stream = orch.run_stream("Hello", max_iterations=1)
        with pytest.raises(StoreUnavailable, match="the store is down"):
            async for _ in stream:
                pass
        with pytest.raises(StoreUnavailable, match="the store is down"):
            stream.result  # noqa: B018
        async with orch.run_stream("Hello", max_iterations=1) as entered:
            with pytest.raises(StoreUnavailable):
                async for _ in entered:
                    pass
        with pytest.raises(StoreUnavailable):
            entered.result  # noqa: B018
