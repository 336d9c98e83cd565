"""`drive(id, on_delta=...)` and `start(id, on_delta=...)` take a plain function that each `AnswerDelta` is handed to;
anything else is refused before the run starts, naming what to give."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from orchestratex import AnswerDelta, Orchestrator, SimulatedProvider, UserError


async def _sink(delta: AnswerDelta) -> None:  # an async def: it would be called, never awaited
    pass


async def _pieces(delta: AnswerDelta) -> AsyncIterator[str]:  # a generator function: its body would never run
    yield delta.text


@pytest.mark.parametrize("how", ["drive", "start"])
@pytest.mark.parametrize(
    ("sink", "shown"),
    [
        (_sink, r"function <function _sink at 0x[0-9a-f]+>"),
        (_pieces, r"function <function _pieces at 0x[0-9a-f]+>"),
        (5, "int 5"),
    ],
    ids=["async", "generator", "int"],
)
async def test_a_delta_sink_that_is_no_plain_function_is_refused_before_the_run(
    how: str, sink: Any, shown: str
) -> None:
    # an `async def on_delta` lost every piece of every answer ("coroutine … was never awaited"), and `on_delta=5`
    # failed the run with "TypeError: 'int' object is not callable" at its first piece, after the call was paid for;
    # an async generator function was taken and lost every piece without a word (its body never ran)
    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)])
    prepared = await orchestrator.prepare("Explain recursion", max_iterations=1)
    with pytest.raises(UserError, match=rf"^on_delta must be a plain function taking each AnswerDelta .* not {shown}$"):
        if how == "drive":
            await orchestrator.drive(prepared.id, on_delta=cast(Any, sink))
        else:
            await orchestrator.start(prepared.id, on_delta=cast(Any, sink))
    assert (await orchestrator.store.get_orchestration(prepared.id)).status == "pending"  # nothing ran
    pieces: list[AnswerDelta] = []
    task = orchestrator.start(prepared.id, on_delta=pieces.append)
    result = await asyncio.wait_for(task, 60)
    assert result.status == "completed" and "".join(p.text for p in pieces) == result.final_response
    await orchestrator.aclose()


@pytest.mark.parametrize("handler", [None, 0])
async def test_drive_refuses_on_event_that_is_no_handler_before_claiming_the_run(handler: object) -> None:
    # `drive(id, on_event=None)` raised "TypeError: Value after * must be an iterable, not NoneType" after claiming
    # the run's lease, where `run(..., on_event=None)` says what to give
    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)])
    prepared = await orchestrator.prepare("Explain recursion", max_iterations=1)
    with pytest.raises(UserError, match=r"^on_event must be a function taking an event \(or a list of them\), not "):
        await orchestrator.drive(prepared.id, on_event=cast(Any, handler))
    assert (await orchestrator.store.get_orchestration(prepared.id)).status == "pending"  # nothing ran
    assert (await orchestrator.drive(prepared.id)).status == "completed"
    await orchestrator.aclose()
