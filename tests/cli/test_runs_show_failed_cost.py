"""`orchestratex runs show` of a run that was billed for a call that gave nothing kept (a refusal that came with its
usage): the per-iteration lines add up to the run's total, as `Iteration.failed_cost` does. A real process."""

from __future__ import annotations

import asyncio
import re

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator, Usage
from orchestratex.exceptions import ContentFiltered
from orchestratex.routing import BayesianRouter
from orchestratex.stores import open_store

from ..helpers import NO_WAIT, catalog
from .conftest import run_cli


def _refused_then_answered(url: str) -> tuple[str, float]:
    """A run on the store at `url` whose first pick refused on content grounds, billed 1,050 tokens; its id and cost."""

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "fine"}'
        if request.model.name == "function:a":
            raise ContentFiltered("refused", status_code=400, usage=Usage(input_tokens=1000, output_tokens=50))
        return "an answer"

    async def main() -> tuple[str, float]:
        orch = Orchestrator(
            providers=[FunctionProvider(fn)],
            catalog=catalog("a", "b", "c", quality={"a": 9.0, "b": 8.0, "c": 7.0}),
            router=BayesianRouter(explore=False),
            retry=NO_WAIT,
            store=await open_store(url),
        )
        async with orch:
            result = await orch.run("Hello", max_iterations=1)
        (it,) = result.orchestration.iterations
        assert it.failed_cost > 0 and it.cost > 0 and it.evaluation is not None
        return result.orchestration.id, result.total_cost

    return asyncio.run(main())


def test_show_counts_what_a_refused_call_was_billed_on_its_iteration(store_url: str) -> None:
    """Before: #1 showed the answer's cost and its judge's, and nothing of the $0.001050 the refusal was billed: the
    lines added up to less than the `result:` line's total."""
    oid, total = _refused_then_answered(store_url)
    done = run_cli("runs", "show", oid, "--store", store_url)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"${total:.6f}" in out.split("\n#1", 1)[0], out  # the result line
    billed = re.search(r"^   billed for nothing kept: \$(\d+\.\d{6})", out, re.MULTILINE)
    assert billed is not None, out
    assert billed[1] == "0.001050", out
    answer = re.search(r"^#1 .* · \$(\d+\.\d{6}) · ", out, re.MULTILINE)
    judges = re.findall(r"^   judge \S+: .*\(\$(\d+\.\d{6})\)", out, re.MULTILINE)
    assert answer is not None and judges, out
    parts = float(answer[1]) + sum(float(j) for j in judges) + float(billed[1])
    assert abs(parts - total) < 5e-6, out
