"""`Idempotency-Key` on `/v1/chat/completions`: a call sent again with its key (an SDK's retry after a timeout or a
dropped connection, with `extra_headers={"Idempotency-Key": …}`) answers the orchestration its first attempt stored,
instead of running and billing a second one.

As on `POST /api/orchestration/start` (`_idempotency`), the store holds the key: the orchestration of a call with a
key has an id derived from its user and the key, so the call sent again finds it, and two sent at once store one. The
call sent again waits for that orchestration to end (it may run in another process) and answers it as the first call
would have, with `Idempotent-Replayed: true`; one asking for something else (other messages, another session or
setting) answers 409. A call with a key is not cancelled when its client leaves: the key says it will be sent again.
(The wait: `_openai_wait.ended`, `_openai_stream.replayed_stream`.)"""

from __future__ import annotations

from fastapi import Request

from ..records import Orchestration, Thread
from ._errors import ApiError
from ._idempotency import HEADER, REPLAYED, idempotency_key
from ._openai_errors import OpenAIError

__all__ = ["REPLAYED", "check_same_call", "v1_idempotency_key"]


def v1_idempotency_key(request: Request) -> str | None:
    """The call's `Idempotency-Key` (as `/api/orchestration/start` takes it), or None; 400 `invalid_value` for one
    given twice, empty, too long or with other than printable ASCII."""
    try:
        return idempotency_key(request)
    except ApiError as exc:
        raise OpenAIError(400, str(exc.detail), code="invalid_value") from None


def check_same_call(
    earlier: Orchestration, doc: Orchestration, thread: Thread | None, *, model: bool, cap: bool
) -> None:
    """409 unless `doc` (this call's orchestration, as planned) asks for what `earlier` (stored with the same key) is:
    its session (and thread, when the call names one), conversation and settings. The models and the answer's cap are
    compared only when the call gave them (`model`: one model or `preferred_models`; `cap`: `max_tokens`): a preset's
    usable models may change between the two attempts (a model cooling down)."""
    asked, was = doc.settings, earlier.settings
    pairs = {
        "session_id": (doc.session_id, earlier.session_id),
        "thread_id": (thread.id, earlier.thread_id) if thread is not None else (None, None),
        "messages": (doc.prompt, earlier.prompt) if doc.prompt != earlier.prompt else (doc.messages, earlier.messages),
        "domain": (doc.domain, earlier.domain) if doc.domain is not None else (None, None),  # (else detected)
        "max_iterations": (asked.max_iterations, was.max_iterations),
        "evaluation_threshold": (asked.evaluation_threshold, was.evaluation_threshold),
        "cost_limit": (asked.cost_limit, was.cost_limit),
        "patience": (asked.patience, was.patience),
        "stop": (asked.stop_sequences, was.stop_sequences),
        "model": (asked.preferred_models, was.preferred_models) if model else (None, None),
        "max_tokens": (asked.max_output_tokens, was.max_output_tokens) if cap else (None, None),
    }
    differ = [name for name, (now, before) in pairs.items() if now != before]
    if differ:
        raise OpenAIError(
            409,
            f"{HEADER} was already used for another call, orchestration {earlier.id} ({earlier.status}), whose"
            f" {', '.join(differ)} differ from this call's: send a new key for a new call, or this call as it was"
            " first sent",
            code="idempotency_key_reused",
        )
