"""Models cooling down after failing several times in a row (their circuit breaker open): a `/v1` call that could only
fail until one of them is tried again is answered 503 `model_unavailable` with `Retry-After`, before anything is stored,
so the SDK waits and retries rather than paying for (or storing) a run that cannot answer."""

from __future__ import annotations

import math

from ..catalog import ModelProfile
from ..orchestrator._judges import judges_for
from ..records import Orchestration, Session
from ._app import ServerState
from ._openai_errors import OpenAIError

__all__ = ["check_cooling"]


def check_cooling(state: ServerState, doc: Orchestration, session: Session | None = None) -> None:
    """503 `model_unavailable` with `Retry-After` when every model the call may use is kept out of routing by its
    circuit breaker (it failed several times in a row, and cools down): the run could only fail, "no model is
    available", which was stored and answered 502 with `x-should-retry: false`, so nothing said to wait. Nothing is
    stored; the SDK retries after the cooldown. But for models whose servers said they do not serve them (an Ollama
    model not pulled: `ModelNotFound`), which a wait does not cure: 404 `model_not_found` with the server's words, at
    once (a 503 had the SDK wait the cooldown out to get the same 404).

    Likewise when the models that may answer can be, but every model that could judge their answers cools down (a
    second local model serving as the judge, down for a while): the run stopped at once on "no judge is available",
    stored `failed` and answered 502, though waiting for the judge was all it took. (Not when the call's answer needs
    no verdict: one attempt, in a session that takes answers unjudged; nor in a session whose runs return an answer no
    judge could judge, `judging="when_possible"`.)"""
    o = state.orchestrator
    if o.circuit.quiet:  # (no model failed lately: none cools down)
        return
    models = o.usable_models(doc.settings.preferred_models)
    if not models:
        return
    if not any(o.circuit.allows(m.name) for m in models):
        which = (
            f"the model {models[0].name} is"
            if len(models) == 1
            else f"every model this call may use ({len(models)}) is"
        )
        unserved = [said for m in models if (said := o.circuit.unserved(m.name)) is not None]
        if len(unserved) == len(models):  # (its server does not have it: waiting will not help, pulling it will)
            wait = math.ceil(max(o.circuit.retry_in(m.name) for m in models))  # (0: its trial call is under way)
            raise OpenAIError(
                404,
                f"{which} not served by its server, which answered its last call: {unserved[-1]}; once it serves it,"
                f" it is tried again {f'in {wait} s' if wait else 'at a next call'}",
                param="model",
                code="model_not_found",
            )
        raise _cooling(state, which, models)
    judging = (session.settings.judging if session is not None else None) or o.judging
    if judging == "when_possible" or (judging == "when_needed" and doc.settings.max_iterations <= 1):
        return
    judges = o._judge_pool(session.settings.judges if session is not None else None)
    if o.evaluator.panel_size_for(judges) <= 0:  # (an evaluator that calls no model: no judge needed)
        return
    answering = [m for m in models if o.circuit.allows(m.name)]
    offered = []  # (the judges a run's planner would offer each model's answers: the first one usable ends the check)
    for m in answering:
        pool = judges_for(o, m, judges)
        if any(o.circuit.allows(j.name) for j in pool):
            return
        offered += pool
    cooling = list({j.name: j for j in offered if not o.circuit.allows(j.name)}.values())
    if not cooling:  # (no judge at all, for another reason: the run says which)
        return
    names = ", ".join(j.name for j in cooling[:5]) + (", …" if len(cooling) > 5 else "")
    raise _cooling(state, f"every model that could judge this call's answers ({names}) is", cooling)


def _cooling(state: ServerState, which: str, models: list[ModelProfile]) -> OpenAIError:
    circuit = state.orchestrator.circuit
    wait = max(1, math.ceil(min(circuit.retry_in(m.name) for m in models)))
    return OpenAIError(
        503,
        f"{which} cooling down after failing several times in a row (its circuit breaker is open): retry in {wait} s"
        " (GET /v1/models shows each model's status)",
        code="model_unavailable",
        headers={"Retry-After": str(wait)},
    )
