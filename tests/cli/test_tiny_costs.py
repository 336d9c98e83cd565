"""`orchestratex runs list` and `runs show` of a run that cost less than a millionth of a dollar show its cost, as
`repr(RunResult)` does (`$0.0000000155`), not `$0.000000`. A real process."""

from __future__ import annotations

import asyncio

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator
from orchestratex._dollars import dollars
from orchestratex.stores import open_store

from ..helpers import NO_WAIT, catalog
from .conftest import run_cli


def _tiny_run(url: str) -> tuple[str, float]:
    def fn(request: GenerationRequest) -> str:
        return '{"score": 9, "feedback": "fine"}' if request.purpose == "judge" else "an answer"

    async def main() -> tuple[str, float]:
        orch = Orchestrator(
            providers=[FunctionProvider(fn)],
            catalog=catalog("a", "b", price=1e-7),
            retry=NO_WAIT,
            store=await open_store(url),
        )
        async with orch:
            result = await orch.run("Hello", max_iterations=1)
        return result.orchestration.id, result.total_cost

    return asyncio.run(main())


def test_a_cost_below_a_millionth_of_a_dollar_is_shown(store_url: str) -> None:
    oid, total = _tiny_run(store_url)
    assert 0 < total < 5e-7
    shown = run_cli("runs", "show", oid, "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert "$0.000000 " not in shown.stdout and "$0.000000)" not in shown.stdout, shown.stdout
    assert f" · 1 iteration · {dollars(total)} · stop: threshold" in shown.stdout, shown.stdout
    listed = run_cli("runs", "list", "--store", store_url)
    assert listed.returncode == 0, listed.stderr
    assert dollars(total).removeprefix("$") in listed.stdout, listed.stdout
