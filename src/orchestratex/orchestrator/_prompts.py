"""The messages sent for a first attempt and for a refinement."""

from __future__ import annotations

from ..providers import Message
from ..records import Orchestration

__all__ = ["DEFAULT_SYSTEM_PROMPT", "build_messages"]

DEFAULT_SYSTEM_PROMPT = "You are a careful expert assistant. Answer completely and correctly."


def build_messages(orchestration: Orchestration, system_prompt: str) -> tuple[str, list[Message]]:
    """The user prompt and the messages for the next attempt.

    The first attempt sends the prompt (with its context). A refinement carries the original
    prompt, the best answer so far and the judges' feedback on it.
    """
    context = f"\n\nContext: {orchestration.context}" if orchestration.context else ""
    prompt = orchestration.prompt + context
    best = orchestration.best_iteration
    if best is not None and best.evaluation is not None and best.response is not None:
        prompt = (
            f"{prompt}\n\n"
            f"A previous answer scored {best.evaluation.score:.1f}/10. Reviewers' feedback:\n"
            f"{best.evaluation.feedback}\n\n"
            f"Previous answer:\n<<<\n{best.response}\n>>>\n\n"
            "Write an improved, complete answer that addresses the feedback. Reply with the answer only."
        )
    return prompt, [Message(role="system", content=system_prompt), Message(role="user", content=prompt)]
