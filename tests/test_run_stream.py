"""`Orchestrator.run_stream`: events and answer deltas as they happen, the result after, early exit cancels."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from orchestratex import (
    AnswerDelta,
    BayesianRouter,
    FunctionProvider,
    GenerationRequest,
    ModelSelected,
    OrchestrationCompleted,
    OrchestrationFailed,
    Orchestrator,
    SimulatedProvider,
    UserError,
)
from orchestratex.exceptions import ProviderServerError

from .helpers import NO_WAIT, catalog


def orchestrator(provider: FunctionProvider) -> Orchestrator:
    return Orchestrator(
        providers=[provider], catalog=catalog("a", "b"), retry=NO_WAIT, router=BayesianRouter(explore=False)
    )


def judge(request: GenerationRequest) -> str:
    return json.dumps({"score": 9, "feedback": "fine"})


async def test_deltas_reach_the_consumer_as_the_model_produces_them() -> None:
    first_seen = asyncio.Event()

    async def answer(request: GenerationRequest) -> AsyncIterator[str]:
        yield "Hello"
        # the model only goes on once the consumer has the first piece: any buffering would deadlock
        await asyncio.wait_for(first_seen.wait(), timeout=5)
        yield ", world"

    def fn(request: GenerationRequest) -> str | AsyncIterator[str]:
        return judge(request) if request.purpose == "judge" else answer(request)

    orch = orchestrator(FunctionProvider(fn))
    items = []
    async with orch.run_stream("Greet me") as stream:
        async for item in stream:
            items.append(item)
            if isinstance(item, AnswerDelta):
                first_seen.set()
    deltas = [i for i in items if isinstance(i, AnswerDelta)]
    assert [d.text for d in deltas] == ["Hello", ", world"]
    assert [d.index for d in deltas] == [0, 1]
    assert {(d.iteration, d.orchestration_id) for d in deltas} == {(1, stream.result.id)}
    assert deltas[0].model_name == stream.result.final_model
    kinds = [i.type for i in items]
    assert kinds == [
        "orchestration_started",
        "model_selected",
        "answer_delta",
        "answer_delta",
        "response_generated",
        "evaluation_completed",
        "orchestration_completed",
    ]
    assert stream.result.final_response == "Hello, world"
    assert stream.result.events == [i for i in items if not isinstance(i, AnswerDelta)]


async def test_a_retried_answer_starts_over_at_index_zero() -> None:
    calls = 0

    def answer(request: GenerationRequest) -> object:
        nonlocal calls
        if request.purpose == "judge":
            return judge(request)
        calls += 1

        def pieces() -> object:
            yield "partial "
            if calls == 1:
                raise ProviderServerError("boom", status_code=500)
            yield "answer"

        return pieces()

    orch = orchestrator(FunctionProvider(answer))  # type: ignore[arg-type]
    async with orch.run_stream("Hi") as stream:
        deltas = [(i.index, i.text) async for i in stream if isinstance(i, AnswerDelta)]
    assert deltas == [(0, "partial "), (0, "partial "), (1, "answer")]
    assert stream.result.final_response == "partial answer"


async def test_leaving_early_cancels_the_run() -> None:
    release = asyncio.Event()

    async def answer(request: GenerationRequest) -> AsyncIterator[str]:
        yield "first"
        await release.wait()  # never set: the model would go on forever
        yield "never"

    def fn(request: GenerationRequest) -> str | AsyncIterator[str]:
        return judge(request) if request.purpose == "judge" else answer(request)

    orch = orchestrator(FunctionProvider(fn))
    async with orch.run_stream("Go") as stream:
        async for item in stream:
            if isinstance(item, AnswerDelta):
                oid = item.orchestration_id
                break
    doc = await orch.store.get_orchestration(oid)
    assert doc.status == "cancelled" and doc.stop_reason == "cancelled"
    # the result is the cancelled run, as stored (it was "the run has not finished", though it had ended)
    assert (stream.result.id, stream.result.status, stream.result.stop_reason) == (oid, "cancelled", "cancelled")
    assert stream.result.events[-1].type == "orchestration_failed"


async def test_errors_of_the_run_are_raised_by_the_iteration() -> None:
    orch = orchestrator(FunctionProvider(judge))
    with pytest.raises(UserError, match="prompt is empty"):
        async for _ in orch.run_stream("   "):
            pass


async def test_the_simulator_streams_its_answers() -> None:
    orch = Orchestrator(providers=[SimulatedProvider(seed=3, latency_scale=0)], router=BayesianRouter(seed=3))
    async with orch.run_stream("Write a haiku about the sea", max_iterations=1) as stream:
        deltas = [i for i in [item async for item in stream] if isinstance(i, AnswerDelta)]
    assert len(deltas) > 3
    assert "".join(d.text for d in deltas) == stream.result.orchestration.iterations[0].response


async def test_a_stream_whose_run_is_cancelled_by_id_ends_with_the_cancelled_result() -> None:
    """`Orchestrator.cancel(id)` stops the run, not the consumer: the stream ends as for any other end."""
    answering = asyncio.Event()

    async def slow(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return judge(request)
        answering.set()
        await asyncio.sleep(30)
        return "never"

    orch = orchestrator(FunctionProvider(slow))
    seen = []

    async def consume() -> None:
        async with orch.run_stream("Hello") as stream:
            async for item in stream:
                seen.append(item)
        assert stream.result.status == "cancelled" and stream.result.stop_reason == "cancelled"

    consumer = asyncio.create_task(consume())
    await answering.wait()
    assert await orch.cancel(seen[0].orchestration_id)
    await consumer  # neither cancelled nor failed
    last = seen[-1]
    assert isinstance(last, OrchestrationFailed) and last.reason == "cancelled"


async def test_leaving_a_stream_at_its_last_event_keeps_the_result() -> None:
    orch = orchestrator(FunctionProvider(lambda r: judge(r) if r.purpose == "judge" else "an answer"))
    async with orch.run_stream("Hello") as stream:
        async for item in stream:
            if getattr(item, "type", None) == "orchestration_completed":
                break
    assert stream.result.status == "completed" and stream.result.final_response == "an answer"
    assert (await orch.store.get_orchestration(stream.result.id)).status == "completed"


async def test_two_iterators_over_one_stream_both_end() -> None:
    orch = orchestrator(FunctionProvider(lambda r: judge(r) if r.purpose == "judge" else "an answer"))
    stream = orch.run_stream("Hello")

    async def drain() -> list[object]:
        return [item async for item in stream]

    first, second = await asyncio.wait_for(asyncio.gather(drain(), drain()), timeout=10)
    assert len(first) + len(second) == len(stream.result.events) + 1  # the events and one delta, shared out
    assert [item async for item in stream] == []  # and a third, after the end, ends at once


async def test_a_stream_entered_twice_is_refused_and_its_run_goes_on() -> None:
    orch = Orchestrator(providers=[SimulatedProvider(seed=1, latency_scale=0)])
    async with orch.run_stream("Explain TCP slow start") as stream:
        with pytest.raises(UserError, match="already entered"):
            async with stream:  # its exit would have cancelled the run the outer block reads
                pass
        items = [item async for item in stream]
    assert stream.result.status == "completed"
    assert getattr(items[-1], "type", None) == "orchestration_completed"
    with pytest.raises(UserError, match="already entered"):  # nor after: a stream is one run
        async with stream:
            pass
    await orch.aclose()


async def test_a_run_that_ended_while_its_stream_was_not_read_to_the_end_gives_its_result() -> None:
    # A scripted model answers at once: the run ends while the consumer still reads its first events (or reads none)
    orch = orchestrator(FunctionProvider(lambda r: judge(r) if r.purpose == "judge" else "An answer."))
    ended = asyncio.Event()

    def on_end(event: object) -> None:
        if isinstance(event, OrchestrationCompleted | OrchestrationFailed):
            ended.set()

    async with orch.run_stream("Say something", on_event=on_end) as stream:
        await ended.wait()  # not iterating at all
    assert stream.result.status == "completed" and stream.result.final_response == "An answer."
    async with orch.run_stream("Say something else") as stream:
        async for item in stream:
            if isinstance(item, ModelSelected):
                break
        await asyncio.wait_for(ended.wait(), timeout=5)
    # it said "the run has not finished: iterate the stream to its end", of a run that had ended `completed`
    assert stream.result.status == "completed", repr(stream)
    assert (await orch.store.get_orchestration(stream.result.id)).status == "completed"
    await orch.aclose()


async def test_items_can_be_told_apart_by_their_type_deltas_included() -> None:
    async def answer(request: GenerationRequest) -> AsyncIterator[str]:
        yield "Hello"
        yield ", world"

    orch = orchestrator(FunctionProvider(lambda r: judge(r) if r.purpose == "judge" else answer(r)))
    text, kinds = [], []
    async with orch.run_stream("Greet me") as stream:
        async for item in stream:  # `item.type` raised AttributeError at the first delta
            kinds.append(item.type)
            if item.type == "answer_delta":
                text.append(item.text)
            elif item.type == "response_generated":
                assert item.model_name.startswith("function:")
    assert "".join(text) == "Hello, world" and stream.result.status == "completed"
    assert kinds[0] == "orchestration_started" and kinds[-1] == "orchestration_completed"
    assert kinds.index("answer_delta") < kinds.index("response_generated")
    assert AnswerDelta("x", 1, "a:b", "hi").type == "answer_delta"
    await orch.aclose()


def held(release: asyncio.Event) -> FunctionProvider:
    """Answers once `release` is set (judges at once)."""

    async def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return judge(request)
        await release.wait()
        return "an answer"

    return FunctionProvider(fn)


async def test_reading_on_in_the_block_after_a_break_gets_the_rest_of_the_run() -> None:
    # `async for` left with a `break` (at the model chosen, say) and a second `async for` in the same block: the break
    # dropped the iterator, which cancelled the run, and the second loop raised a bare `CancelledError` into the
    # caller (a BaseException, taken by asyncio as the caller's own task being cancelled)
    release = asyncio.Event()
    orch = orchestrator(held(release))
    async with orch.run_stream("Hello") as stream:
        async for item in stream:
            if isinstance(item, ModelSelected):
                break
        for _ in range(5):
            await asyncio.sleep(0)  # (the dropped iterator is finalised: it cancelled the run here)
        release.set()
        rest = [item.type async for item in stream]
    assert rest[-1] == "orchestration_completed" and "response_generated" in rest
    assert stream.result.status == "completed" and stream.result.final_response == "an answer"
    await orch.aclose()


async def test_a_stream_read_again_after_a_break_without_a_block_ends_with_the_cancelled_run() -> None:
    # without a block, the `break` cancels the run (as documented); a second `async for` raised `CancelledError`
    orch = orchestrator(held(asyncio.Event()))  # (never released: the run waits for its answer until cancelled)
    stream = orch.run_stream("Hello")
    async for item in stream:
        if isinstance(item, ModelSelected):
            break
    rest = [item.type async for item in stream]  # what was queued before the cancel, then the end
    assert "orchestration_completed" not in rest
    assert (stream.result.status, stream.result.stop_reason) == ("cancelled", "cancelled")
    await orch.aclose()
