"""`stream: true`: the final answer as OpenAI `chat.completion.chunk`s over SSE, progress as SSE comments.

The stream is, in order: a comment naming the orchestration; one comment per event
(`: orchestratex model_selected iteration=1 model=…`) and, every `heartbeat_s` of silence, `: keep-alive`;
then the answer's chunks (role, content, a last one with `finish_reason` and the `orchestratex`
field), a `usage` chunk when `stream_options.include_usage`, and `data: [DONE]`. An orchestration
that ends without an answer sends `data: {"error": {...}}` instead (the openai SDK raises it).
With `stream_events` the events also arrive as chunks with no choices and `orchestratex.event`.
A client that disconnects cancels the orchestration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from ..events import EVENT_ADAPTER, Event
from ..records import Orchestration
from ._app import ServerState
from ._openai_chat import ChatCall
from ._openai_errors import OpenAIError, from_exception
from ._openai_results import (
    StopFilter,
    extension,
    failure,
    finish_reason,
    openai_usage,
    total_usage,
)

__all__ = ["EventTap", "sse_stream"]

logger = logging.getLogger("orchestratex.server")

_TERMINAL = ("orchestration_completed", "orchestration_failed")
DONE = b"data: [DONE]\n\n"


class EventTap:
    """The events of the orchestrations `/v1` streams are following, from the orchestrator's handlers."""

    def __init__(self) -> None:
        self._queues: dict[str, asyncio.Queue[Event]] = {}

    def publish(self, event: Event) -> None:
        queue = self._queues.get(event.orchestration_id)
        if queue is not None:
            queue.put_nowait(event)

    def watch(self, orchestration_id: str) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues[orchestration_id] = queue
        return queue

    def unwatch(self, orchestration_id: str) -> None:
        self._queues.pop(orchestration_id, None)


def comment(text: str) -> bytes:
    return b": " + " ".join(text.split()).encode() + b"\n\n"


def data(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def describe(event: Event) -> str:
    """One line on an event, for a progress comment."""
    head = f"orchestratex {event.type}"
    match event.type:
        case "orchestration_started":
            return f"{head} {event.orchestration_id} domain={event.domain} max_iterations={event.max_iterations}"
        case "model_selected":
            return f"{head} iteration={event.iteration} model={event.model_name}"
        case "response_generated":
            return f"{head} iteration={event.iteration} model={event.model_name} tokens={event.tokens_used}"
        case "evaluation_completed":
            return f"{head} iteration={event.iteration} score={event.score:g} judges={event.evaluator_model}"
        case "orchestration_completed":
            return f"{head} score={event.final_score:g} iterations={event.iterations} cost={event.total_cost:.6f}"
        case _:
            return f"{head} reason={event.reason} error={event.error[:200]}"


class Chunks:
    """Builds the `chat.completion.chunk`s of one stream."""

    def __init__(self, doc: Orchestration, requested: str, include_usage: bool) -> None:
        self.base: dict[str, Any] = {
            "id": f"chatcmpl-{doc.id}",
            "object": "chat.completion.chunk",
            "created": int(doc.created_at.timestamp()),
            "model": requested,
            "system_fingerprint": None,
        }
        if include_usage:
            self.base["usage"] = None
        self.include_usage = include_usage

    def delta(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return data({**self.base, "choices": [choice], **extra})

    def bare(self, **extra: Any) -> bytes:
        """A chunk with no choices (the usage chunk, or an `orchestratex` event)."""
        return data({**self.base, "choices": [], **extra})


async def _next(queue: asyncio.Queue[Event], task: asyncio.Task[Any], wait_s: float) -> Event | None:
    """The next event, or None after `wait_s` of silence; raises when the run ended without a final event."""
    if not queue.empty():
        return queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    try:
        await asyncio.wait({getter, task}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getter.done():
            getter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await getter
    if getter.done() and not getter.cancelled():
        return getter.result()
    if task.done() and queue.empty():
        if task.cancelled():
            raise OpenAIError(
                503, "the server stopped the orchestration; it resumes when a server restarts", code="stopped"
            )
        task.result()  # raises the run's error
        raise OpenAIError(500, "the orchestration ended without a final event", code="internal_error")
    return None


async def sse_stream(
    state: ServerState,
    tap: EventTap,
    call: ChatCall,
    *,
    stops: list[str],
    include_usage: bool,
    stream_events: bool,
) -> AsyncIterator[bytes]:
    """The SSE body of a streamed `/v1/chat/completions` call (the orchestration starts here)."""
    doc = call.orchestration
    queue = tap.watch(doc.id)
    task = state.runner.launch(doc)
    chunks = Chunks(doc, call.target.requested, include_usage)
    try:
        yield comment(f"orchestratex orchestration {doc.id} session={doc.session_id} thread={doc.thread_id}")
        while True:
            event = await _next(queue, task, state.settings.heartbeat_s)
            if event is None:
                yield b": keep-alive\n\n"
                continue
            yield comment(describe(event))
            if stream_events:
                yield chunks.bare(orchestratex={"event": EVENT_ADAPTER.dump_python(event, mode="json")})
            if event.type in _TERMINAL:
                break
        final: Orchestration = (await task).orchestration
        if final.status != "completed":
            yield data(failure(final, call.target, state.orchestrator.simulated).body())
            return
        chunks.base["model"] = final.final_model or call.target.requested
        cut = StopFilter(stops)
        yield chunks.delta({"role": "assistant", "content": ""})
        text = cut.cut(final.final_response or "")
        if text:
            yield chunks.delta({"content": text})
        ext = extension(final, call.target, state.orchestrator.simulated)
        yield chunks.delta({}, finish_reason(final, cut.stopped), orchestratex=ext)
        if include_usage:
            yield chunks.bare(usage=openai_usage(total_usage(final)))
        yield DONE
    except OpenAIError as exc:
        yield data(exc.body())
    except Exception as exc:
        logger.exception("streaming orchestration %s failed", doc.id)
        yield data(from_exception(exc).body())
    finally:
        tap.unwatch(doc.id)
        if not task.done():  # the client went away: stop paying for an answer nobody reads
            task.cancel()
