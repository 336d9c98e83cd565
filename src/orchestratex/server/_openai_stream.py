"""`stream: true`: the final answer as OpenAI `chat.completion.chunk`s over SSE, progress as SSE comments.

The stream is, in order: a comment naming the orchestration; one comment per event
(`: orchestratex model_selected iteration=1 model=…`) and, every `heartbeat_s` of silence, `: keep-alive`;
then the answer's chunks (role, content, a last one with `finish_reason` and the `orchestratex`
field), a `usage` chunk when `stream_options.include_usage`, and `data: [DONE]`. An orchestration
that ends without an answer sends `data: {"error": {...}}` instead (the openai SDK raises it).
With `stream_events` the events also arrive as chunks with no choices and `orchestratex.event`. Every chunk's
`model` is the model at work: an attempt's from its `model_selected` on, then the final answer's.
A client that disconnects cancels the orchestration, and so does the revocation of the stream's key:
at once when it is revoked through this process's admin API, else at the next check of the key in the
store (every `ws_auth_check_s`); the stream then ends with `data: {"error": {"code": "invalid_api_key"}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.types import Receive

from ..events import EVENT_ADAPTER, Event
from ..exceptions import Conflict, OrchestrateXError
from ..orchestrator import AnswerDelta, RunResult, StreamItem
from ..orchestrator._chat import blank
from ..records import TERMINAL_ORCHESTRATION_STATUSES, Orchestration
from ._app import ServerState
from ._keys import watch_key
from ._openai_chat import ChatCall, Target
from ._openai_errors import OpenAIError, from_exception
from ._openai_results import (
    StopFilter,
    extension,
    failure,
    finish_reason,
    first_extension,
    interrupted,
    openai_usage,
    started_extension,
    total_usage,
)
from ._openai_wait import client_gone

__all__ = ["EventTap", "replayed_stream", "settled", "sse_stream"]

logger = logging.getLogger("orchestratex.server")

_TERMINAL = ("orchestration_completed", "orchestration_failed")
DONE = b"data: [DONE]\n\n"


class EventTap:
    """The events (and answer deltas) of the orchestrations `/v1` streams follow, from the orchestrator's handlers."""

    def __init__(self) -> None:
        self._queues: dict[str, asyncio.Queue[StreamItem]] = {}
        self._background: set[asyncio.Task[None]] = set()

    def publish(self, event: Event) -> None:
        queue = self._queues.get(event.orchestration_id)
        if queue is not None:
            queue.put_nowait(event)

    def watch(self, orchestration_id: str) -> asyncio.Queue[StreamItem]:
        queue: asyncio.Queue[StreamItem] = asyncio.Queue()
        self._queues[orchestration_id] = queue
        return queue

    def unwatch(self, orchestration_id: str) -> None:
        self._queues.pop(orchestration_id, None)

    def keep(self, task: asyncio.Task[None]) -> None:
        """Hold a background task until it ends."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def settled(state: ServerState, task: asyncio.Task[RunResult], orchestration_id: str) -> Orchestration | None:
    """The run's orchestration once its task is done, or None when the server handed it back as it stopped (it
    stays `running` in the store, for the next server). A run stopped from elsewhere (its session ended,
    `POST /api/orchestration/{id}/cancel`) has its task cancelled too: the store has it ended `cancelled`.

    A run whose session another process ended after the call stored it, before its task began (a loaded server),
    is stored `cancelled` by that task, which raises `Conflict` as `run` does for an ended session: that ended run
    is the answer (503 `orchestration_cancelled`, as for a run stopped once begun), not a 409 `conflict` (the SDK
    would retry that, and the run did not conflict with anything the caller sent). A `Conflict` of a run another
    process holds (not ended) is raised as it is."""
    try:
        return (await asyncio.shield(task)).orchestration
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():  # (this request's own task is being cancelled)
            raise
    except Conflict:
        doc = await state.store.get_orchestration(orchestration_id)
        if doc.status in TERMINAL_ORCHESTRATION_STATUSES:
            return doc
        raise
    doc = await state.store.get_orchestration(orchestration_id)
    return None if doc.status in ("pending", "running") else doc


def _stopped(orchestration_id: str) -> OpenAIError:
    """The error ending a stream whose run the server handed back as it stopped: it names the run to follow (the
    SDK shows no comment, so its message is all a client has), as the answer of a call without `stream` does."""
    return OpenAIError(
        503,
        f"the server stopped orchestration {orchestration_id}; it resumes when a server restarts:"
        f" follow GET /api/orchestration/status/{orchestration_id}",
        code="stopped",
    )


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
            score = "unjudged" if event.final_score is None else f"{event.final_score:g}"  # (judging="when_needed")
            return f"{head} score={score} iterations={event.iterations} cost={event.total_cost:.6f}"
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


def _revocation() -> OpenAIError:
    return OpenAIError(
        401,
        "this API key was revoked while the answer streamed: the orchestration is stopped; ask for a new key",
        code="invalid_api_key",
    )


async def _next(
    queue: asyncio.Queue[StreamItem],
    task: asyncio.Task[Any],
    wait_s: float,
    revoked: asyncio.Task[None] | None = None,
    *,
    orchestration_id: str,
) -> StreamItem | None:
    """The next item, or None after `wait_s` of silence; raises when the run ended without a final event, or
    (401) once `revoked` is done: the stream's key was revoked."""
    if revoked is not None and revoked.done():
        raise _revocation()
    if not queue.empty():
        return queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    waiting = {getter, task} if revoked is None else {getter, task, revoked}
    try:
        await asyncio.wait(waiting, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getter.done():
            getter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await getter
    if revoked is not None and revoked.done():
        raise _revocation()
    if getter.done() and not getter.cancelled():
        return getter.result()
    if task.done() and queue.empty():
        if task.cancelled():
            raise _stopped(orchestration_id)
        task.result()  # raises the run's error
        raise OpenAIError(500, "the orchestration ended without a final event", code="internal_error")
    return None


class _Answer:
    """The final answer's chunks: live from the deltas of a run that has one attempt, else once it has ended."""

    def __init__(self, chunks: Chunks, stops: list[str], live: bool, first: dict[str, Any]) -> None:
        self.chunks = chunks
        self.first = first
        """The `orchestratex` field of a role chunk sent while the run goes on (`first_extension`)."""
        self.cut = StopFilter(stops)
        self.live = live
        self.pieces: list[str] = []
        """The text of the current attempt (a restart empties it)."""
        self.started = False
        """Whether the role chunk went out (and the answer's text began)."""
        self.sent_text = False
        self.held = ""
        """White space the answer began with, sent with its first visible text: an attempt that restarts before any
        (a dropped call, an answer of white space only) has then sent nothing the stream would have to take back."""
        self.broken = False
        """An attempt restarted after some of its text was sent: the stream cannot take it back."""

    def delta(self, item: AnswerDelta) -> list[bytes]:
        if item.index == 0 and self.pieces:  # the call was retried or another model took over
            if self.sent_text:
                self.broken = True
            self.pieces, self.cut, self.held = [], StopFilter(self.cut.stops), ""
        self.pieces.append(item.text)
        if not self.live or self.broken:
            return []
        text = self.cut.feed(item.text)
        if not text:
            return []
        if not self.sent_text:
            text, self.held = self.held + text, ""
            if blank(text):
                self.held = text
                return []
        out = self._start(item.model_name, self.first)
        out.append(self.chunks.delta({"content": text}))
        self.sent_text = True
        return out

    def _start(self, model: str, ext: dict[str, Any]) -> list[bytes]:
        """The role chunk, once, with the `orchestratex` field known when it is sent: clients that keep the first
        chunk's fields (the openai SDK's `stream()` helper) had no orchestration id at all."""
        if self.started:
            return []
        self.started = True
        self.chunks.base["model"] = model
        return [self.chunks.delta({"role": "assistant", "content": ""}, orchestratex=ext)]

    def finish(self, final: Orchestration, ext: dict[str, Any]) -> list[bytes]:
        """The rest of the answer (all of it when it was not live) after the run has completed (`ext`: its whole
        `orchestratex` field)."""
        text = final.final_response or ""
        model = final.final_model or self.chunks.base["model"]
        if self.live and not self.broken and self.pieces:
            if "".join(self.pieces) != text:  # the judged answer is not the one streamed
                self.broken = self.sent_text
                self.cut = StopFilter(self.cut.stops)
            else:
                out = self._start(model, ext)
                rest = self.held + self.cut.flush()
                return [*out, self.chunks.delta({"content": rest})] if rest else out
        if self.broken:
            return []
        out = self._start(model, ext)
        rest = self.cut.cut(text)
        return [*out, self.chunks.delta({"content": rest})] if rest else out


class _Stream:
    """One streamed call: its orchestration's task and items, turned into SSE bytes."""

    def __init__(
        self,
        state: ServerState,
        tap: EventTap,
        call: ChatCall,
        stops: list[str],
        include_usage: bool,
        events: bool,
        key: tuple[str, str | None] | None = None,
    ) -> None:
        self.state, self.tap, self.call, self.include_usage, self.events = state, tap, call, include_usage, events
        doc = call.orchestration
        self.queue = tap.watch(doc.id)
        self.task = state.runner.launch(doc, on_delta=self.queue.put_nowait)
        self.watcher: asyncio.Task[None] | None = None
        self.revoked: asyncio.Task[None] | None = None
        """Done once the stream's key is revoked (`_keys.watch_key`)."""
        self.key_id = None if key is None else key[1]
        self.signal = asyncio.Event()
        """Set when the key is revoked through this process."""
        if key is not None:
            self.signal = state.sockets.open(self.key_id)
            self.revoked = asyncio.create_task(
                watch_key(state, key[0], self.signal), name=f"orchestratex-v1-key-{doc.id}"
            )
        self.started = False
        """Whether the run has begun (an item arrived): from then on, cancelling it ends it `cancelled`."""
        self.stopping = False
        self.chunks = Chunks(doc, call.target.requested, include_usage)
        first = first_extension(doc, call.target, state.orchestrator.simulated)
        self.answer = _Answer(self.chunks, stops, live=doc.settings.max_iterations == 1, first=first)
        self.held: list[dict[str, Any]] = []
        """Event chunks waiting for a model to be chosen (`stream_events`), so that none names the preset asked for."""

    def watch_disconnect(self, receive: Receive) -> None:
        """Cancel the run as soon as the client goes away (servers of ASGI 2.4+ only say so when asked)."""

        async def watch() -> None:
            await client_gone(receive)
            self.stop()

        self.watcher = asyncio.create_task(watch(), name=f"orchestratex-v1-watch-{self.call.orchestration.id}")

    async def body(self) -> AsyncIterator[bytes]:
        doc = self.call.orchestration
        yield comment(f"orchestratex orchestration {doc.id} session={doc.session_id} thread={doc.thread_id}")
        async for piece in self._progress():
            yield piece
        final = await settled(self.state, self.task, doc.id)
        if final is None:
            raise _stopped(doc.id)
        for piece in self._ending(final):
            yield piece

    async def _progress(self) -> AsyncIterator[bytes]:
        """Comments (and opt-in chunks) for each event, the live answer's chunks, until the final event; `: keep-alive`
        after `heartbeat_s` without a byte sent (a draft's pieces, which are not sent, are silence too)."""
        chunks = self.chunks
        heartbeat = self.state.settings.heartbeat_s
        sent = time.monotonic()
        while True:
            item = await _next(
                self.queue,
                self.task,
                max(sent + heartbeat - time.monotonic(), 0.0),
                self.revoked,
                orchestration_id=self.call.orchestration.id,
            )
            self.started = self.started or item is not None
            if isinstance(item, AnswerDelta):
                pieces = [chunks.bare(orchestratex={"delta": _delta_json(item)})] if self.events else []
                pieces += self.answer.delta(item)
                now = time.monotonic()
                if not pieces and now - sent >= heartbeat:  # (a draft's pieces, not sent, are silence all the same)
                    pieces = [b": keep-alive\n\n"]
                if pieces:
                    sent = now
                for piece in pieces:
                    yield piece
            elif item is None:
                sent = time.monotonic()
                yield b": keep-alive\n\n"
            else:
                sent = time.monotonic()
                yield comment(describe(item))
                if self.events:
                    for piece in self._event_chunks(item):
                        yield piece
                if item.type in _TERMINAL:
                    return

    def _event_chunks(self, event: Event) -> list[bytes]:
        """The chunks of `event` (and of those held before it), with the `model` at work: each attempt's from its
        `model_selected` on, until the answer's chunks name the model that wrote it. `orchestration_started` waits
        for the first model to be chosen (or for the run's end), as OpenAI's first chunk names the model it runs."""
        self.held.append(EVENT_ADAPTER.dump_python(event, mode="json"))
        if event.type == "orchestration_started":
            return []
        if event.type == "model_selected" and not self.answer.started:
            self.chunks.base["model"] = event.model_name
        return self.unheld()

    def unheld(self) -> list[bytes]:
        """The chunks of the events held so far (none once sent)."""
        out = [self.chunks.bare(orchestratex={"event": held}) for held in self.held]
        self.held.clear()
        return out

    def _ending(self, final: Orchestration) -> list[bytes]:
        target, simulated = self.call.target, self.state.orchestrator.simulated
        if final.status != "completed":
            return [data(failure(final, target, simulated, self.state.orchestrator.circuit).body())]
        ext = extension(final, target, simulated)
        out = self.answer.finish(final, ext)
        if self.answer.broken:
            return [*out, data(interrupted(final, target, simulated).body())]
        out.append(self.chunks.delta({}, finish_reason(final, self.answer.cut.stopped), orchestratex=ext))
        if self.include_usage:
            out.append(self.chunks.bare(usage=openai_usage(total_usage(final))))
        out.append(DONE)
        return out

    def stop(self) -> None:
        """The client went away: stop paying for an answer nobody reads.

        A run cancelled before it has begun would stay `pending` (and be resumed later by the
        server), so until its first item arrives the cancellation waits for it."""
        if self.stopping or self.task.done():
            return
        self.stopping = True
        if self.started:
            self.task.cancel()
            return
        self.tap.keep(asyncio.create_task(self._cancel_once_started(), name="orchestratex-v1-cancel"))

    async def _cancel_once_started(self) -> None:
        oid = self.call.orchestration.id
        try:
            while not self.task.done() and await _next(self.queue, self.task, 1.0, orchestration_id=oid) is None:
                pass
        except Exception:
            pass  # the run ended on its own
        finally:
            if not self.task.done():
                self.task.cancel()
            self.tap.unwatch(self.call.orchestration.id)

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
        if self.revoked is not None:
            self.revoked.cancel()
            self.state.sockets.close(self.key_id, self.signal)
        if not self.call.keyed:  # (a call with an Idempotency-Key goes on: sent again, it answers the run's end)
            self.stop()
        if not self.stopping or self.started:
            self.tap.unwatch(self.call.orchestration.id)


async def sse_stream(
    state: ServerState,
    tap: EventTap,
    call: ChatCall,
    *,
    stops: list[str],
    include_usage: bool,
    stream_events: bool,
    receive: Receive | None = None,
    key: tuple[str, str | None] | None = None,
) -> AsyncIterator[bytes]:
    """The SSE body of a streamed `/v1/chat/completions` call (the orchestration starts here); with the
    request's `receive`, a client that disconnects cancels the orchestration at once; with the caller's `key`
    (and the key's id), so does the key's revocation."""
    stream = _Stream(state, tap, call, stops, include_usage, stream_events, key)
    if receive is not None:
        stream.watch_disconnect(receive)
    try:
        async for piece in stream.body():
            yield piece
    except Exception as exc:
        for piece in stream.unheld():  # (events held for a model's choice that never came: the key revoked, …)
            yield piece
        if not isinstance(exc, OrchestrateXError | OpenAIError):
            doc = call.orchestration
            ids = {"orchestration_id": doc.id, "session_id": doc.session_id, "thread_id": doc.thread_id}
            logger.exception("streaming orchestration %s failed", doc.id, extra=ids)
        error = from_exception(exc)
        if not isinstance(exc, OpenAIError):  # (the store lost as the run ends, say: "retry" would run and pay again)
            oid = call.orchestration.id
            error.message += f" (orchestration {oid} had started: follow GET /api/orchestration/status/{oid})"
        if "orchestratex" not in error.extra:  # (the server stopped it, its key was revoked, …: which run it is)
            status = {"stopped": "running", "invalid_api_key": "cancelled"}.get(error.code or "")
            ext = started_extension(call.orchestration, call.target, state.orchestrator.simulated, status)
            error.extra = {**error.extra, "orchestratex": ext}
        yield data(error.body())
    finally:
        stream.close()


def _delta_json(item: AnswerDelta) -> dict[str, Any]:
    return {"iteration": item.iteration, "model_name": item.model_name, "text": item.text, "index": item.index}


async def replayed_stream(
    state: ServerState, earlier: Orchestration, target: Target, stops: list[str], include_usage: bool
) -> AsyncIterator[bytes]:
    """The SSE body of a streamed call sent again with its key: `: keep-alive` every `heartbeat_s` while the first
    call's orchestration runs, then its answer in one content chunk (or its error), as its own stream ended."""
    oid = earlier.id
    yield comment(f"orchestratex orchestration {oid} session={earlier.session_id} thread={earlier.thread_id} replayed")
    sent = time.monotonic()
    doc = earlier
    while doc.status not in TERMINAL_ORCHESTRATION_STATUSES:
        await asyncio.sleep(state.settings.poll_interval_s)
        doc = await state.store.get_orchestration(oid)
        if time.monotonic() - sent >= state.settings.heartbeat_s:
            sent = time.monotonic()
            yield b": keep-alive\n\n"
    simulated = state.orchestrator.simulated
    if doc.status != "completed":
        yield data(failure(doc, target, simulated, state.orchestrator.circuit).body())
        return
    chunks = Chunks(doc, doc.final_model or target.requested, include_usage)
    ext = extension(doc, target, simulated)
    cut = StopFilter(stops)
    text = cut.cut(doc.final_response or "")
    yield chunks.delta({"role": "assistant", "content": ""}, orchestratex=ext)
    if text:
        yield chunks.delta({"content": text})
    yield chunks.delta({}, finish_reason(doc, cut.stopped), orchestratex=ext)
    if include_usage:
        yield chunks.bare(usage=openai_usage(total_usage(doc)))
    yield DONE
