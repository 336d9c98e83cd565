"""`Orchestrator.cancel(id)` called by an event handler of that very run (stop once an answer is in, or once it has
cost enough): the run ends `cancelled` before its next call, and its caller gets the result.

Before, `cancel` cancelled the run's task and awaited it from within that task: awaiting itself, the cancellation
was swallowed, `cancel` returned True and the run went on paying to its end; on a run that never waited (instant
models, a MemoryStore) the cancellation then fell on the caller after the run had returned."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest

from orchestratex import BayesianRouter, Event, FunctionProvider, Orchestrator, UserError
from orchestratex.providers import GenerationRequest
from orchestratex.stores import MemoryStore

from ..helpers import NO_WAIT, catalog


def _orchestrator(calls: list[tuple[str, str]], *, waits: bool, failing: str | None = None) -> Orchestrator:
    """Judges that never accept (the run would go on); `failing` answers nothing, and is the router's first pick."""

    async def fn(request: GenerationRequest) -> str:
        calls.append((request.purpose, request.model.name))
        if waits:
            await asyncio.sleep(0.001)
        if request.purpose == "judge":
            return json.dumps({"score": 3, "feedback": "go on"})
        return "" if request.model.name == failing else "an answer"  # (an empty answer: the model's failure)

    return Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality={"a": 9.5, "b": 7.0, "c": 7.0}),
        store=MemoryStore(),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )


@pytest.mark.parametrize("waits", [False, True], ids=["instant", "waits"])
@pytest.mark.parametrize("on", ["model_selected", "response_generated", "evaluation_completed"])
async def test_a_handler_cancelling_its_own_run_ends_it_before_its_next_call(on: str, waits: bool) -> None:
    calls: list[tuple[str, str]] = []
    orch = _orchestrator(calls, waits=waits)
    said: list[bool] = []
    calls_then: list[int] = []

    async def stop(event: Event) -> None:
        if event.type == on and not said:
            said.append(await orch.cancel(event.orchestration_id))
            calls_then.append(len(calls))

    async with orch:
        result = await orch.run("Say something", max_iterations=5, patience=5, on_event=stop)
        assert said == [True]
        assert len(calls) == calls_then[0]  # no call after the cancel
        assert result.status == "cancelled" and result.stop_reason == "cancelled"
        assert result.orchestration.error == "the orchestration was cancelled"
        assert [e.type for e in result.events][-1] == "orchestration_failed"
        assert [str(e.type) for e in result.events].count(on) == 1
        stored = await orch.store.get_orchestration(result.id)
        session = await orch.store.get_session(result.orchestration.session_id)
        assert stored.status == "cancelled" and stored.total_cost == result.total_cost
        assert session.total_cost == result.total_cost and session.reserved_cost == 0
        counted = [getattr(e, "cost", 0.0) for e in result.events if e.type != "orchestration_failed"]
        assert abs(sum(counted) - result.total_cost) < 1e-12
        await asyncio.sleep(0)  # (no cancellation left pending on the caller's task)


async def test_a_handler_cancelling_at_a_fallbacks_selection_stops_before_the_fallbacks_call() -> None:
    calls: list[tuple[str, str]] = []
    orch = _orchestrator(calls, waits=False, failing="function:a")
    selected: list[str] = []

    async def stop(event: Event) -> None:
        if event.type == "model_selected":
            selected.append(event.reasoning)
            if event.reasoning.startswith("fallback"):
                assert await orch.cancel(event.orchestration_id)

    async with orch:
        result = await orch.run("Say something", max_iterations=3, on_event=stop)
    assert [r.startswith("fallback") for r in selected] == [False, True]
    assert result.status == "cancelled"
    assert calls == [("generate", "function:a")]  # the fallback was selected, never called


async def test_cancel_from_the_last_events_handler_is_too_late_and_suspend_from_a_handler_is_refused() -> None:
    calls: list[tuple[str, str]] = []
    orch = _orchestrator(calls, waits=False)
    said: list[object] = []

    async def late(event: Event) -> None:
        if event.type == "orchestration_completed":
            said.append(await orch.cancel(event.orchestration_id))
        if event.type == "model_selected":
            try:
                await orch.suspend(event.orchestration_id)
            except UserError as exc:
                said.append(str(exc))

    async with orch:
        result = await orch.run("Say something", max_iterations=1, on_event=late)
    assert result.status == "completed"
    assert "called from that orchestration's own task" in str(said[0])
    assert said[1] is False


@pytest.mark.parametrize("by", ["handler", "another task"])
async def test_cancel_or_suspend_from_the_last_events_handler_of_a_cancelled_run_returns_false(by: str) -> None:
    # A handler that cancels once a condition holds (an answer is in, it has cost enough) called `cancel` again at the
    # run's last event, `orchestration_failed` of the cancelled run, where the condition still held: that event's
    # handlers run in a task of their own (the final commit of a cancelled run is shielded), so `cancel` waited for
    # the run to end, which waited for the handler: the run never returned. So did `suspend` there.
    calls: list[tuple[str, str]] = []
    orch = _orchestrator(calls, waits=True)
    said: list[tuple[str, bool]] = []
    running: list[asyncio.Task[object]] = []

    async def stop(event: Event) -> None:
        if event.type == "response_generated":
            if by == "handler":
                said.append((event.type, await orch.cancel(event.orchestration_id)))
            else:
                running.append(asyncio.ensure_future(orch.cancel(event.orchestration_id)))
        if event.type == "orchestration_failed":
            said.append(("cancel", await orch.cancel(event.orchestration_id)))
            said.append(("suspend", await orch.suspend(event.orchestration_id)))

    async with orch:
        result = await asyncio.wait_for(  # (a guard: it hung)
            orch.run("Say something", max_iterations=5, patience=5, on_event=stop), timeout=60
        )
        assert result.status == "cancelled" and result.stop_reason == "cancelled"
        if running:
            assert await running[0] is True
    assert said[-2:] == [("cancel", False), ("suspend", False)]
    assert said[:-2] == ([("response_generated", True)] if by == "handler" else [])


@pytest.mark.parametrize("on", ["response_generated", "orchestration_completed", "orchestration_failed"])
async def test_aclose_from_a_handler_of_one_of_its_runs_is_refused_not_a_hang(on: str) -> None:
    # `await orchestrator.aclose()` in an event handler (close once the answer is in) waited for every run to end,
    # that one too, which waited for its handler: from the last event's handler the run never returned; from an
    # earlier one the run was cancelled under the handler and the orchestrator left half closed
    calls: list[tuple[str, str]] = []
    orch = _orchestrator(calls, waits=True)
    said: list[str] = []

    async def close(event: Event) -> None:
        if event.type == "response_generated" and on == "orchestration_failed":
            await orch.cancel(event.orchestration_id)
        if event.type == on and not said:
            try:
                await orch.aclose()
            except UserError as exc:
                said.append(str(exc))

    result = await asyncio.wait_for(  # (a guard: it hung)
        orch.run("Say something", max_iterations=2, patience=5, on_event=close), timeout=60
    )
    assert said and said[0].startswith(f"aclose() was called from an event handler of orchestration {result.id}: ")
    assert result.status == ("cancelled" if on == "orchestration_failed" else "completed")
    assert (await orch.run("And again", max_iterations=1)).status == "completed"  # not left half closed
    await orch.aclose()


async def test_cancel_and_suspend_take_the_orchestration_as_start_and_drive_do() -> None:
    # `doc = await orchestrator.prepare(...)`, `orchestrator.start(doc)`, then `await orchestrator.cancel(doc)` raised
    # "TypeError: unhashable type: 'Orchestration'" (suspend too), though start and drive take the Orchestration
    calls: list[tuple[str, str]] = []
    orch = _orchestrator(calls, waits=True)
    pending = await orch.prepare("Say something", max_iterations=1)
    assert await orch.cancel(pending) is True
    assert (await orch.store.get_orchestration(pending.id)).status == "cancelled"
    held = asyncio.Event()
    started = await orch.prepare("Say something else", max_iterations=3, patience=5)

    def note(event: Event) -> None:
        if event.type == "response_generated":
            held.set()

    orch.handlers = note
    task = orch.start(started)
    await held.wait()
    assert await orch.suspend(started) is True
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await orch.store.get_orchestration(started.id)).status == "running"  # suspended, to be resumed
    with pytest.raises(UserError, match=r"^cancel\(\) takes an orchestration's id \(or the Orchestration\), not int"):
        await orch.cancel(cast(Any, 5))
    await orch.aclose()


@pytest.mark.parametrize("on", ["response_generated", "orchestration_completed"])
def test_close_from_a_plain_handler_of_a_run_sync_run_says_why_it_cannot(on: str) -> None:
    # `orchestrator.close()` in a plain `def` handler of a `run_sync` run (close once the answer is in) said "close()
    # cannot stop the runs under way on the running event loop (a notebook's) … Use `await orchestrator.aclose()`
    # there", in a script with no notebook, pointing at what a plain handler cannot do and a handler is refused anyway
    calls: list[tuple[str, str]] = []
    orch = _orchestrator(calls, waits=True)
    said: list[str] = []

    def close(event: Event) -> None:
        if event.type == on and not said:
            try:
                orch.close()
            except UserError as exc:
                said.append(str(exc))

    result = orch.run_sync("Say something", max_iterations=1, on_event=close)
    assert said == [
        f"close() was called from an event handler of orchestration {result.id}: it waits for every run of this "
        "orchestrator to end, that one too, which waits for its handler. Close the orchestrator once the run has "
        "returned (to stop the run from its handler, use cancel())"
    ]
    assert result.status == "completed"
    assert orch.run_sync("And again", max_iterations=1).status == "completed"
    orch.close()


@pytest.mark.parametrize("on", ["response_generated", "orchestration_completed"])
def test_run_sync_from_a_plain_handler_of_a_run_sync_run_says_what_to_do_instead(on: str) -> None:
    # a plain `def` handler starting a follow-up run with `run_sync` (to summarise the answer) was told "run_sync()
    # cannot be called from a running event loop (an async function): … Use `await orchestrator.run(...)` there
    # instead": no async function in sight, and a plain handler cannot await
    calls: list[tuple[str, str]] = []
    orch = _orchestrator(calls, waits=True)
    said: list[str] = []

    def follow_up(event: Event) -> None:
        if event.type == on and not said:
            try:
                orch.run_sync("Summarise it", max_iterations=1)
            except UserError as exc:
                said.append(str(exc))

    result = orch.run_sync("Say something", max_iterations=1, on_event=follow_up)
    assert said == [
        f"run_sync() was called from an event handler of orchestration {result.id}: handlers run on the event loop "
        "of that run, which run_sync would block. Make the handler an `async def` and `await orchestrator.run(...)` "
        "in it, or start the run once run_sync (or run) has returned"
    ]
    assert result.status == "completed"
    followed: list[str] = []

    async def async_follow_up(event: Event) -> None:  # what the message says: it works
        if event.type == on and not followed:
            followed.append((await orch.run("Summarise it", max_iterations=1)).status)

    assert orch.run_sync("Say something", max_iterations=1, on_event=async_follow_up).status == "completed"
    assert followed == ["completed"]
    orch.close()


def test_a_cancelled_run_is_returned_not_raised_as_orchestration_cancelled() -> None:
    """docs/errors.md: `except OrchestrationCancelled` around `run_sync` catches nothing; the result says it."""
    from orchestratex.exceptions import OrchestrationCancelled

    orch = _orchestrator([], waits=False)

    async def stop(event: Event) -> None:
        if event.type == "response_generated":
            assert await orch.cancel(event.orchestration_id)

    try:
        result = orch.run_sync("What is six times seven?", on_event=stop)
    except OrchestrationCancelled:  # pragma: no cover (what the page says does not happen)
        pytest.fail("a cancelled run was raised")
    assert (result.status, result.stop_reason) == ("cancelled", "cancelled")
    orch.close()
