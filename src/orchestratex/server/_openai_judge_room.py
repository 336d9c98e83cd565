"""How long an answer the judges can read: a call without `max_tokens` asks for no more.

Every answer is read by a judge along with the conversation, the judge's rubric and its verdict, all within the judge's
context window. With the server's default cap (2,048 tokens) and the judges' windows of a local setup (two Ollama
models, 4,096 tokens each), a prompt of some 1,400 tokens left no judge able to read its answer: the call was refused
("no judge can read this prompt and its answer") where a shorter answer would have been judged. A call that sent no cap
asks for an answer of at most what the judge with the most room can read, as it asks for no more than the answering
model's window leaves (`check_window`), and one that asks for more is refused before anything is stored. The room is
reckoned as the run's judge planning reckons it (`JudgePlanner._ranking`, with the judges' caps of `judge_cap`).
"""

from __future__ import annotations

from ..evaluation import LLMJudgeEvaluator
from ..orchestrator._judges import _BYTES_PER_TOKEN_ESTIMATE, _RUBRIC_ALLOWANCE, _history_chars
from ..providers._base import least_output_tokens
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
    limit = o.judge_max_output_tokens
    if isinstance(o.evaluator, LLMJudgeEvaluator):
        limit = min(limit, o.evaluator.max_output_tokens)
    history = _history_chars(doc.messages[:-1])
    text = (len(doc.prompt) + len(doc.context or "") + history + _RUBRIC_ALLOWANCE) // _BYTES_PER_TOKEN_ESTIMATE
    rooms = {}
    for judge in judges:
        verdict = max(o.output_lengths.cap(judge, "judge", limit)[0], least_output_tokens(o.provider_for(judge), judge))
        rooms[judge.name] = judge.context_window - text - verdict
    authors = o._routable(doc.settings.preferred_models)  # (a model never judges its own answer)
    best = max((room for m in authors for name, room in rooms.items() if name != m.name), default=0)
    return best if best >= 1 else None
