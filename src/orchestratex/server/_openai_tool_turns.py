"""Earlier tool turns of a `/v1` conversation, as text the models can read.

An agent framework that has called tools asks for its final answer with the tools offered under
`tool_choice: "none"` (or with none offered), sending the conversation so far: the assistant turns that called
tools (`tool_calls`, or the legacy `function_call`) and the tool results (`tool` / `function` messages). OpenAI
answers such a call in text from those results. No tool is offered to the models here, so each call becomes a line
of its assistant turn and each result a message of its own that the models read as the conversation's next turn;
the pairing is checked as OpenAI checks it (a tool message answers a call of the assistant turn before it, and every
call is answered), with a 400 `invalid_value` naming the message.
"""

from __future__ import annotations

from typing import Any

from ..providers import Message
from ._errors import quoted
from ._openai_errors import OpenAIError
from ._openai_schemas import ChatMessageIn, shown_name

__all__ = ["ToolTurns"]


class ToolTurns:
    """Reads the tool turns of one conversation in order: the calls of an assistant turn, then their results."""

    def __init__(self) -> None:
        self.open: dict[str, str] = {}
        """The calls of the last assistant turn not yet answered: id → tool name."""
        self.opened_at = -1
        self.answered: dict[str, int] = {}
        """The calls of the last assistant turn answered so far: id → the index of the tool message answering it."""
        self.function: str | None = None
        """The legacy `function_call` of the last assistant turn, while its `function` message may follow."""

    def calls_text(self, message: ChatMessageIn, index: int) -> str:
        """The calls an assistant turn made, one line each (empty when it made none); it opens them."""
        self.close(index)
        extra = message.model_extra or {}
        calls, legacy = extra.get("tool_calls"), extra.get("function_call")
        lines = []
        if calls:
            if not isinstance(calls, list):
                raise _invalid(f"messages.{index}.tool_calls", "tool_calls must be a list of tool calls")
            for j, call in enumerate(calls):
                call_id, name, arguments = _call(call, f"messages.{index}.tool_calls.{j}")
                self.open[call_id] = name
                lines.append(f"[called the tool {name} with {arguments} (tool call {call_id})]")
            self.opened_at = index
        if legacy:
            name, arguments = _function(legacy, f"messages.{index}.function_call")
            self.function = name
            lines.append(f"[called the function {name} with {arguments}]")
        return "\n".join(lines)

    def result(self, message: ChatMessageIn, index: int, text: str) -> Message:
        """A `tool` (or legacy `function`) message as the conversation's next turn, naming the call it answers."""
        param = f"messages.{index}"
        if message.role == "function":
            name = message.name or self.function
            if name is None:
                raise _invalid(f"{param}.name", "a function message needs the `name` of the function it answers")
            return Message(role="user", content=f"[result of the function {name}]\n{text}")
        call_id = (message.model_extra or {}).get("tool_call_id")
        if isinstance(call_id, str) and call_id in self.answered:  # (an agent that kept a rerun tool's two results)
            raise _invalid(
                f"{param}.role",
                f"tool call {quoted(call_id)} is answered already, by messages.{self.answered[call_id]}: send one"
                " result per tool call",
            )
        if not isinstance(call_id, str) or call_id not in self.open:
            raise _invalid(
                f"{param}.role",
                "a tool message must answer a tool call of the assistant message right before it"
                + (
                    f" (no such tool call: {quoted(call_id)})"
                    if isinstance(call_id, str)
                    else " (it has no tool_call_id)"
                ),
            )
        name = self.open.pop(call_id)
        self.answered[call_id] = index
        return Message(role="user", content=f"[result of the tool {name} (tool call {call_id})]\n{text}")

    def close(self, index: int) -> None:
        """A message other than a tool result comes at `index`: every call opened before must have been answered."""
        self.function = None
        self.answered.clear()
        if self.open:
            missing = ", ".join(shown_name(call_id) for call_id in sorted(self.open))
            raise _invalid(
                f"messages.{self.opened_at}.tool_calls",
                f"an assistant message with tool_calls must be followed by tool messages answering each tool_call_id:"
                f" {missing} got none",
            )


def _call(call: Any, param: str) -> tuple[str, str, str]:
    if not isinstance(call, dict) or not isinstance(call.get("id"), str):
        raise _invalid(param, "a tool call is an object with an `id` and its `function`")
    kind = call.get("type", "function")
    if not isinstance(kind, str):
        raise _invalid(f"{param}.type", 'a tool call\'s type is a string, e.g. "function"')
    body = call.get(kind)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):  # (a type of any length: cut)
        raise _invalid(
            f"{param}.{shown_name(kind)}", f"a tool call needs its {quoted(kind)} object with the tool's `name`"
        )
    field = "input" if kind == "custom" else "arguments"
    arguments = body.get(field, "")
    if not isinstance(arguments, str):  # (as OpenAI refuses it: the arguments are JSON text, not an object)
        raise _invalid(f"{param}.{shown_name(kind)}.{field}", f"a tool call's {field} must be a string (JSON text)")
    return call["id"], body["name"], arguments


def _function(call: Any, param: str) -> tuple[str, str]:
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise _invalid(param, "a function_call is an object with the function's `name` and `arguments`")
    arguments = call.get("arguments", "")
    if not isinstance(arguments, str):
        raise _invalid(f"{param}.arguments", "a function_call's arguments must be a string (JSON text)")
    return call["name"], arguments


def _invalid(param: str, why: str) -> OpenAIError:
    return OpenAIError(400, f"{param}: {why}", param=param, code="invalid_value")
