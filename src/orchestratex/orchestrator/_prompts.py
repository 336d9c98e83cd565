"""The messages sent for a first attempt and for a refinement."""

from __future__ import annotations

from functools import lru_cache

from ..providers import Message
from ..records import Orchestration

__all__ = ["DEFAULT_SYSTEM_PROMPT", "build_messages", "request_messages", "system_message"]

DEFAULT_SYSTEM_PROMPT = "You are a careful expert assistant. Answer completely and correctly."


def build_messages(orchestration: Orchestration, system_prompt: str) -> tuple[str, list[Message]]:
    """The last user message and the messages for the next attempt.

    The first attempt sends the conversation as given (the last user message with its context).
    A refinement keeps the earlier turns and replaces the last user message by one carrying it,
    the best answer so far and the judges' feedback on it.
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
    return prompt, request_messages(orchestration, system_prompt, prompt)


def request_messages(orchestration: Orchestration, system_prompt: str, last_user: str) -> list[Message]:
    """The conversation to send, with `last_user` as its last message.

    The orchestrator's system prompt comes first unless the conversation brings its own system
    message(s), which then take its place. A blank one (`Orchestrator(system_prompt="")`: none) sends no
    system message, which Gemini's API would refuse as an empty text part.
    """
    turns = orchestration.messages[:-1]  # `conversation(orchestration)[:-1]`, without building its last message
    none = not system_prompt or system_prompt.isspace() or any(m.role == "system" for m in turns)
    system = [] if none else [system_message(system_prompt)]
    return [*system, *turns, Message(role="user", content=last_user)]


@lru_cache(maxsize=16)
def system_message(system_prompt: str) -> Message:
    """The system message of `system_prompt`, one per prompt text (messages are immutable: it is shared)."""
    return Message(role="system", content=system_prompt)
