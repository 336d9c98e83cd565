"""An orchestration as OpenAI's `ChatCompletion` (and its chunks), with the `orchestratex` extension field.

- `model` is the model that wrote the final answer (as OpenAI answers with the dated model it ran);
  the requested name is `orchestratex.requested_model`.
- `usage` sums every call of the orchestration: each attempt and each judge.
- `orchestratex` carries the orchestration's id, session, thread, score, iterations, cost, stop reason.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..orchestrator import CircuitBreaker
from ..orchestrator._run import RETRY_AFTER_NOTE
from ..records import Orchestration
from ..usage import Usage
from ._openai_chat import Target
from ._openai_errors import NO_RETRY, OpenAIError

__all__ = [
    "StopFilter",
    "completion",
    "extension",
    "failure",
    "finish_reason",
    "first_extension",
    "interrupted",
    "openai_usage",
    "started_extension",
    "total_usage",
]

_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter", "max_tokens": "length"}


def total_usage(doc: Orchestration) -> Usage:
    """Tokens of every call the orchestration made: each attempt's answer and each judge's verdict, and the failed
    calls a provider billed (`Orchestration.usage`; an orchestration stored before it was counted: its iterations')."""
    if doc.usage is not None:
        return doc.usage
    usage = Usage()
    for it in doc.iterations:
        usage = usage + it.usage
        if it.evaluation is not None:
            for verdict in it.evaluation.verdicts:
                usage = usage + verdict.usage
    return usage


def openai_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def extension(doc: Orchestration, target: Target, simulated: bool) -> dict[str, Any]:
    """The `orchestratex` field: which orchestration this was and how it went."""
    return {
        "orchestration_id": doc.id,
        "session_id": doc.session_id,
        "thread_id": doc.thread_id,
        "status": doc.status,
        "score": doc.final_score,
        "iterations": len(doc.iterations),
        "cost": doc.total_cost,
        "stop_reason": doc.stop_reason,
        "final_model": doc.final_model,
        "models": [it.model_name for it in doc.iterations],
        "requested_model": target.requested,
        "simulated": simulated,
    }


def first_extension(doc: Orchestration, target: Target, simulated: bool) -> dict[str, Any]:
    """The `orchestratex` field of a stream's first answer chunk sent while its run goes on (a live answer): which
    orchestration it is. Clients that keep the first chunk's fields (the openai SDK's `stream()` helper, whose final
    completion has no other) can then follow it; the last chunk has the whole field."""
    return {
        "orchestration_id": doc.id,
        "session_id": doc.session_id,
        "thread_id": doc.thread_id,
        "status": "running",
        "requested_model": target.requested,
        "simulated": simulated,
    }


def started_extension(doc: Orchestration, target: Target, simulated: bool, status: str | None = None) -> dict[str, Any]:
    """The `orchestratex` field of an error about an orchestration that had started but whose end the answer does not
    hold (the server stopped it, the key was revoked, the store failed as it ended): which orchestration it is, to
    follow with `GET /api/orchestration/status/{id}` (such errors named it in their message only), and its `status`
    when known."""
    ext = first_extension(doc, target, simulated)
    if status is None:
        del ext["status"]
    else:
        ext["status"] = status
    return ext


class StopFilter:
    """Cuts a text (whole or streamed piece by piece) before the first of the `stop` sequences.

    Streamed, it holds back the tail that could still begin a stop sequence, so no piece of one
    is ever sent.
    """

    def __init__(self, stops: list[str]) -> None:
        self.stops = stops
        self.longest = max((len(s) for s in stops), default=0)
        self.buffer = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """What of `text` (after what came before) can be sent now."""
        if self.stopped or not self.stops:
            return "" if self.stopped else text
        self.buffer += text
        cut = self._first_match()
        pending = self._first_partial()  # a longer stop sequence may still start here (more text could end it)
        if cut >= 0 and (pending < 0 or pending >= cut):
            out, self.buffer, self.stopped = self.buffer[:cut], "", True
            return out
        keep = len(self.buffer) if pending < 0 else pending
        out, self.buffer = self.buffer[:keep], self.buffer[keep:]
        return out

    def flush(self) -> str:
        """The rest once the text has ended (cut before a stop sequence it holds, if any)."""
        if self.stopped:
            out = ""
        else:
            cut = self._first_match()
            out, self.stopped = (self.buffer, False) if cut < 0 else (self.buffer[:cut], True)
        self.buffer = ""
        return out

    def _first_match(self) -> int:
        return min((i for i in (self.buffer.find(s) for s in self.stops) if i >= 0), default=-1)

    def _first_partial(self) -> int:
        """The first position from which the buffer's end is a proper prefix of a stop sequence, or -1."""
        size = len(self.buffer)
        for p in range(max(size - self.longest + 1, 0), size):
            tail = self.buffer[p:]
            if any(len(s) > len(tail) and s.startswith(tail) for s in self.stops):
                return p
        return -1

    def cut(self, text: str) -> str:
        """All of `text` at once."""
        return self.feed(text) + self.flush()


def finish_reason(doc: Orchestration, stopped: bool) -> str:
    if stopped:
        return "stop"
    best = doc.best_iteration
    reason = best.finish_reason if best is not None else None
    return _FINISH.get(reason or "stop", "stop")


def completion(doc: Orchestration, target: Target, stops: list[str], simulated: bool) -> dict[str, Any]:
    """The `ChatCompletion` of a completed orchestration."""
    cut = StopFilter(stops)
    text = cut.cut(doc.final_response or "")
    return {
        "id": f"chatcmpl-{doc.id}",
        "object": "chat.completion",
        "created": int(doc.created_at.timestamp()),
        "model": doc.final_model or target.requested,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason(doc, cut.stopped),
            }
        ],
        "usage": openai_usage(total_usage(doc)),
        "orchestratex": extension(doc, target, simulated),
    }


_NO_JUDGE_READS = "no judge can read this "
"""How the error of a run begins when every judge's window is too small for its conversation and an answer
(`orchestrator._candidates`): stopped before any call, for its prompt's length."""


def _failed_only_as(doc: Orchestration, kind: str, *, judges: bool = True) -> list[str]:
    """The models of a run whose every call failed with `kind` (`ContextLengthExceeded`, `RateLimited`), none
    answering; empty when any failed otherwise, or one answered. A failed evaluation (every judge's call failing with
    `kind`) counts with `judges` only: its answer was written and paid for.

    Read from the kinds the run recorded (`Iteration.failures`); an iteration stored by a version that did not record
    them is read from its errors' words (`_failed_in_words`)."""
    if any(it.phase in ("generated", "evaluated") for it in doc.iterations):
        return []
    models: set[str] = set()
    for it in doc.iterations:
        if len(it.failures) != len(it.errors):  # (stored before the kinds were)
            return _failed_in_words(doc, kind, judges=judges)
        for error, failed_as in zip(it.errors, it.failures, strict=True):
            model = error.partition(": ")[0]  # ("<model>: <exception>: <detail>", or "evaluation: …")
            if failed_as != kind or (model == "evaluation" and not judges):
                return []
            models.add(model)
    return sorted(models)


def _failed_in_words(doc: Orchestration, kind: str, *, judges: bool) -> list[str]:
    """`_failed_only_as` of a run stored before its iterations recorded their failures' kinds: read from the errors'
    words (`<model>: <exception>: <detail>`; a failed evaluation's, `evaluation: EvaluationError: no judge produced a
    verdict (<judge>: <kind>: …)`)."""
    errors = [e.partition(": ") for it in doc.iterations for e in it.errors]
    if not errors:
        return []
    for model, _, rest in errors:
        failed_so = _judges_failed_as(rest, kind) if model == "evaluation" else rest.startswith(f"{kind}: ")
        if not failed_so or (model == "evaluation" and not judges):
            return []
    return sorted({model for model, _, _ in errors})


_NO_VERDICT = "EvaluationError: no judge produced a verdict ("
"""How a failed evaluation's error begins (`LLMJudgeEvaluator.evaluate`), each judge's `<judge>: <error>` following,
separated by `; `."""


def _judges_failed_as(error: str, kind: str) -> bool:
    """Whether every judge of a failed evaluation (its error, `EvaluationError: no judge produced a verdict (<judge>:
    <kind>: …; <judge>: <kind>: …)`) failed with `kind`. Any part holding `: ` counts as a judge's (a judge's error may
    hold `; `): one of another kind, or a part of a message read as one, gives False, the generic answer. (Read as the
    whole text holding `: <kind>: `, one judge refusing the prompt as too long and another timing out was a 400.)"""
    if not error.startswith(_NO_VERDICT) or not error.endswith(")"):
        return False
    parts = [p.partition(": ") for p in error[len(_NO_VERDICT) : -1].split("; ")]
    return bool(parts[0][1]) and all(rest.startswith(f"{kind}: ") for _, said, rest in parts if said)


_PROVIDER_WAIT = re.compile(re.escape(RETRY_AFTER_NOTE) + r"([0-9.e+]+) s\)$")


def _provider_wait(doc: Orchestration) -> float:
    """The longest wait the providers of a run's rate-limited calls asked for (their `Retry-After`, as the run
    recorded it: `RETRY_AFTER_NOTE`), 0 when none said."""
    waits = (float(m[1]) for it in doc.iterations for e in it.errors if (m := _PROVIDER_WAIT.search(e)))
    return max(waits, default=0.0)


def failure(doc: Orchestration, target: Target, simulated: bool, circuit: CircuitBreaker | None = None) -> OpenAIError:
    """The error for an orchestration that ended without an answer (never retried by the SDK, as it may have spent; but
    for the providers' rate limits, which nothing was paid to).

    One stopped before any call because no judge's window holds its conversation and an answer, or whose every call
    was refused as too long for the model's context, is a 400 `context_length_exceeded` (`param: "messages"`), as OpenAI
    (and vLLM, llama.cpp) answer a prompt too long: a 502 read as a server fault, which clients retry, and which those
    that shorten a conversation on `context_length_exceeded` (LangChain's `ContextOverflowError`, LiteLLM's) did not
    recognise. One whose every call was refused for its provider's rate limit (429, unpaid) is a 429
    `rate_limit_exceeded` with `Retry-After` (until the models' circuit breakers let a call through, with `circuit`),
    which the SDK waits out and retries: a 502 with `x-should-retry: false` said to give up (an answer written, then
    its judges all rate-limited, stays that 502: the answer was paid for, and a retry pays again). One whose every
    call a content filter refused (the prompt, or the answer withheld) is a 400 `content_policy_violation`: no retry or
    other model passes it, and clients that fall back on a content policy violation (LiteLLM's
    `content_policy_fallbacks`) recognise it. One whose every model's server answered that it does not serve the model
    (an Ollama model not pulled: `ModelNotFound`) is a 404 `model_not_found` (`param: "model"`), as OpenAI answers a
    model it does not have: a 502 read as a server fault."""
    reason = doc.stop_reason or "error"
    detail = doc.error or reason
    message = f"orchestration {doc.id} ended without an answer ({reason}): {detail}"
    extra = {"orchestratex": extension(doc, target, simulated)}
    too_long = reason == "error" and _failed_only_as(doc, "ContextLengthExceeded")
    if too_long or (reason == "error" and not doc.iterations and detail.startswith(_NO_JUDGE_READS)):
        return OpenAIError(
            400, message, param="messages", code="context_length_exceeded", headers=NO_RETRY, extra=extra
        )
    if reason == "error" and _failed_only_as(doc, "ContentFiltered"):  # (every model refused it on content grounds)
        return OpenAIError(
            400, message, param="messages", code="content_policy_violation", headers=NO_RETRY, extra=extra
        )
    if reason == "error" and _failed_only_as(doc, "ModelNotFound", judges=False):  # (not on the models' server)
        return OpenAIError(404, message, param="model", code="model_not_found", headers=NO_RETRY, extra=extra)
    limited = _failed_only_as(doc, "RateLimited", judges=False) if reason == "error" else []
    if limited:  # (refused for their providers' rate limits: nothing was paid, so the SDK may try again, later)
        wait = max((circuit.retry_in(m) for m in limited), default=0.0) if circuit is not None else 0.0
        wait = max(wait, _provider_wait(doc))
        headers = {"Retry-After": str(max(1, math.ceil(wait)))}
        return OpenAIError(429, message, code="rate_limit_exceeded", headers=headers, extra=extra)
    if reason == "budget":
        return OpenAIError(402, message, code="budget_exceeded", headers=NO_RETRY, extra=extra)
    if reason == "cancelled":
        return OpenAIError(503, message, code="orchestration_cancelled", headers=NO_RETRY, extra=extra)
    return OpenAIError(502, message, code="orchestration_failed", type="server_error", headers=NO_RETRY, extra=extra)


def interrupted(doc: Orchestration, target: Target, simulated: bool) -> OpenAIError:
    """The error ending a live stream whose answer restarted after part of it was sent (a model failed
    mid-answer and was retried, or another took over), or whose final answer is not the text sent (a reasoning its
    template opened, found at its `</think>`): the final answer is in the orchestration."""
    message = (
        f"the answer was interrupted mid-stream (a model failed while answering and the call was retried, or a local"
        f" reasoning model's thinking came before it, found to be thinking only at its end):"
        f" the final answer is in GET /api/orchestration/status/{doc.id}"
    )
    extra = {"orchestratex": extension(doc, target, simulated)}
    return OpenAIError(502, message, code="stream_interrupted", type="server_error", headers=NO_RETRY, extra=extra)
