"""`orchestratex runs show` of a run that cost more than its limit: a provider billed past what was reserved for its
call (`overage_cost`). A real process."""

from __future__ import annotations

import asyncio

import pytest

from orchestratex import FunctionProvider, Generation, GenerationRequest, Orchestrator

from ..helpers import NO_WAIT, catalog
from .conftest import run_cli


def _overbilled(url: str, *, in_a_session: bool) -> tuple[str, float, float]:
    """A run limited to $0.01 (its own limit in a session without one, or its session's), every call of which its
    provider billed $0.50; its id, total and overage."""
    from orchestratex.stores import open_store

    def fn(request: GenerationRequest) -> Generation:
        text = '{"score": 9, "feedback": "fine"}' if request.purpose == "judge" else "an answer"
        return Generation(text=text, reported_cost=0.5)

    async def main() -> tuple[str, float, float]:
        store = await open_store(url)
        orch = Orchestrator(providers=[FunctionProvider(fn)], catalog=catalog("a", "b"), retry=NO_WAIT, store=store)
        async with orch:
            session = (await orch.create_session()).id if in_a_session else None
            result = await orch.run("Hello", max_iterations=1, cost_limit=0.01, session=session)
        assert result.total_cost > 0.01 and result.overage_cost > 0
        return result.orchestration.id, result.total_cost, result.overage_cost

    return asyncio.run(main())


@pytest.mark.parametrize(("in_a_session", "limit"), [(True, "$0.01"), (False, "$0.01 for its session")])
def test_show_says_what_was_billed_past_the_reservation(store_url: str, in_a_session: bool, limit: str) -> None:
    """Before: its `result:` line showed a total of $1.000000 under `cost limit $0.01`, and nothing said why."""
    oid, total, overage = _overbilled(store_url, in_a_session=in_a_session)
    done = run_cli("runs", "show", oid, "--store", store_url)
    assert done.returncode == 0, done.stderr
    assert (
        f"note:     ${total:.6f} is over its cost limit ({limit}): ${overage:.6f} of it a provider billed past what "
        "was reserved for its calls (it reported usage beyond the request's bounds)"
    ) in done.stdout.splitlines(), done.stdout
