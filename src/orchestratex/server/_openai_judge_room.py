"""How long an answer the judges can read: a call without `max_tokens` asks for no more.

Every answer is read by a judge along with the conversation, the judge's rubric and its verdict, all within the judge's
context window. With the server's default cap (2,048 tokens) and the judges' windows of a local setup (two Ollama
models, 4,096 tokens each), a prompt of some 1,400 tokens left no judge able to read its answer: the call was refused
("no judge can read this prompt and its answer") where a shorter answer would have been judged. A call that sent no cap
asks for an answer of at most what the judge with the most room can read, as it asks for no more than the answering
model's window leaves (`check_window`), and one that asks for more is refused before anything is stored. The room is
reckoned by the run's judge planning itself (`orchestrator._judges.answer_room`): the judges a run would ask (those the
evaluator pins, circuit closed, never the author nor the same model behind another endpoint), with their caps.
"""

from __future__ import annotations

from ..orchestrator._judges import answer_room
from ..records import Orchestration, Session
from ._app import ServerState

__all__ = ["judge_room"]


def judge_room(state: ServerState, doc: Orchestration, session: Session | None) -> int | None:
    """The longest answer (in tokens) a judge of the call can read with its conversation, or None when no verdict is
    needed (one attempt in a session taking answers unjudged, an evaluator that calls no model) or no judge has room."""
    o = state.orchestrator
    judging = (session.settings.judging if session is not None else None) or o.judging
    if judging == "when_needed" and doc.settings.max_iterations <= 1:
        return None
    judges = o._judge_pool(session.settings.judges if session is not None else None)
    if not judges or o.evaluator.panel_size_for(judges) <= 0:
        return None
    return answer_room(o, doc, o._routable(doc.settings.preferred_models), judges)
