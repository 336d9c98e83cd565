"""Chat input: a prompt string or a list of messages, validated into `Message`s; thread history."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeAlias

from .._unseen import unseen
from ..exceptions import UserError
from ..providers import Message
from ..records import Orchestration

__all__ = [
    "ChatInput",
    "MessageLike",
    "MessageObject",
    "check_text",
    "check_texts",
    "conversation",
    "cut_at_stop",
    "mended",
    "no_blank_context",
    "said",
    "thread_history",
    "to_messages",
]


class MessageObject(Protocol):
    """An SDK's message object with a `role` and a `content` (OpenAI's `ChatCompletionMessage`)."""

    @property
    def role(self) -> str: ...
    @property
    def content(self) -> object: ...


MessageLike: TypeAlias = Message | Mapping[str, object] | MessageObject
"""A `Message`, or a mapping with `role` and `content` as the OpenAI chat API takes it (or an SDK's message object with
those attributes, as `completion.choices[0].message`)."""

ChatInput: TypeAlias = str | Sequence[MessageLike]
"""What `Orchestrator.run` orchestrates: a prompt string, or a conversation (system messages, earlier
turns, and the user message to answer last)."""

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def blank(text: str) -> bool:
    """Whether `text` shows nothing: white space and characters that show as nothing only (format characters such as
    a zero-width space U+200B, a byte order mark U+FEFF or a soft hyphen U+00AD; control characters; a Hangul filler
    U+3164, the blank braille pattern U+2800: `_unseen`), which `str.strip` keeps: a prompt of them passed as text
    and paid for a call on nothing."""
    if text.isascii():  # (a flag: no scan)
        # (stops at the first visible character: `str.isprintable`, false for any text with a line break, and
        # `str.strip`, a copy of a text with a trailing one, went over the whole prompt, 5 M instructions for 50,000
        # characters)
        return _VISIBLE_ASCII.search(text) is None
    return all(c.isspace() or unseen(c) for c in text)  # (stops at the first visible one)


_VISIBLE_ASCII = re.compile("[!-~]")
"""The ASCII characters that show: every other one is white space or a control character (DEL included)."""


def no_blank_context(context: str | None) -> str | None:
    """A `context` that shows nothing (white space, invisible characters: an empty form field sent with a space or a
    line break) as an empty one: it was sent to the models, and to the judges, as a bare "Context:" label. Anything
    else as it is (its type is checked where it is stored)."""
    return "" if isinstance(context, str) and context and blank(context) else context


_CHECKED = "utf-32-le"
"""The encoding `check_text` and `mended` convert a text to, to find a surrogate in it: any strict encoding refuses one
(at the same character), and UTF-32's is a copy of each character, 7 to 28 times faster than UTF-8's (3.8 against
108 us for 52,000 accented characters, 18 against 137 us for Chinese ones)."""


def check_text(what: str, text: str) -> str:
    """`text`, unless it holds a lone surrogate (`"\\ud800"`, which Python's `json.loads` makes of a JSON escape that is
    half of a pair): such a string is no Unicode text, and no store, provider or JSON encoder can take it."""
    if text.isascii():  # (a flag: no scan)
        return text
    try:
        text.encode(_CHECKED)
    except UnicodeEncodeError as exc:
        raise UserError(
            f"{what} holds a lone surrogate ({text[exc.start]!r} at character {exc.start}), which is not text: send "
            "valid Unicode (a JSON \\u escape of a surrogate must be one of a pair)"
        ) from None
    return text


def mended(text: str) -> str:
    """`text` as valid Unicode: a surrogate pair left as two code points joined into its character, a lone surrogate
    replaced by U+FFFD (as a UTF-8 decoder replaces a broken sequence). `text` itself when it is valid."""
    if text.isascii():
        return text
    try:
        text.encode(_CHECKED)
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def check_texts(**values: object) -> None:
    """`UserError` for a text setting (a string, or strings) holding a lone surrogate (`check_text`); values of
    another type are left to the settings' own checks."""
    for name, value in values.items():
        if isinstance(value, str):
            check_text(name, value)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    check_text(f"{name}[{i}]", item)


def to_messages(prompt: object) -> list[Message]:
    """`prompt` as a validated conversation ending with a non-empty user message; `UserError` otherwise."""
    if isinstance(prompt, str):
        if blank(prompt):
            raise UserError("the prompt is empty: give the text to orchestrate")
        return [Message(role="user", content=check_text("the prompt", prompt))]
    if isinstance(prompt, bytes | bytearray) or not isinstance(prompt, Sequence):
        raise UserError(
            f"the prompt must be a string or a list of messages ({{'role': ..., 'content': ...}}), "
            f"not {type(prompt).__name__}"
        )
    if not prompt:
        raise UserError("the message list is empty: give at least one user message")
    messages = [_message(i, m) for i, m in enumerate(prompt)]
    last = messages[-1]
    if last.role != "user":
        raise UserError(
            f"the last message is {'an' if last.role == 'assistant' else 'a'} {last.role} message: the conversation"
            " must end with the user message to answer"
        )
    if blank(last.content):
        raise UserError("the last user message is empty: give the text to orchestrate")
    return messages


def _message(index: int, item: object) -> Message:
    where = f"messages[{index}]"
    if isinstance(item, Message):
        check_text(f"{where}'s content", item.content)
        return item
    if not isinstance(item, Mapping):
        role = getattr(item, "role", None)
        if not isinstance(role, str) or not hasattr(item, "content"):
            raise UserError(
                f"{where} must be a Message or a mapping with 'role' and 'content', not {type(item).__name__}"
            )
        # an SDK's message object: OpenAI's `ChatCompletionMessage`, as `completion.choices[0].message` is appended to
        # the conversation (OpenAI's SDK takes it back), was refused as no mapping
        item = {"role": role, "content": item.content}
    role = item.get("role")
    if not isinstance(role, str) or role not in _ROLES:  # (a list or a dict failed `in` with "unhashable type")
        if role in ("tool", "function"):
            raise UserError(f"{where}: {role} messages are not supported (OrchestrateX does not call tools)")
        raise UserError(f"{where}: role must be one of system, developer, user, assistant; got {role!r}")
    content = item.get("content")
    if content is None and role == "assistant":  # (as OpenAI's own answers may be: no text, left out as empty ones)
        content = ""
    return Message(role=_ROLES[role], content=check_text(f"{where}'s content", _content(where, content)))


def _content(where: str, content: object) -> str:
    """Text content: a string, or a list of text parts (`{"type": "text", "text": ...}`) joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, bytes | bytearray):
        texts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(str(part["text"]))
            elif isinstance(part, Mapping) and part.get("type") == "text":
                got = part.get("text")
                raise UserError(
                    f"{where}: a text part has no 'text'"
                    if got is None
                    else f"{where}: a text part's 'text' must be a string, not {type(got).__name__} {got!r}"
                )
            else:
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                article = "an" if str(kind)[:1].lower() in ("a", "e", "i", "o", "u") else "a"
                raise UserError(f"{where}: only text content is supported, not {article} {kind!r} part")
        return "\n".join(texts)
    if content is None:
        raise UserError(f"{where} has no content: give its text as 'content'")
    raise UserError(f"{where}: content must be a string or a list of text parts, not {type(content).__name__}")


def said(messages: list[Message]) -> list[Message]:
    """`messages` without the earlier ones that have no text (whitespace at most), which say nothing and which
    Anthropic and Gemini refuse: an OpenAI client sends back an empty answer it received, which OpenAI accepts; and
    an answer cut before a stop sequence that begins it continues a thread as one."""
    if not any(blank(m.content) for m in messages):
        return messages
    return [*(m for m in messages[:-1] if not blank(m.content)), messages[-1]]


def conversation(doc: Orchestration) -> list[Message]:
    """The conversation an orchestration answers: its stored messages, or its prompt alone."""
    return list(doc.messages) if doc.messages else [Message(role="user", content=doc.prompt)]


def thread_history(earlier: Sequence[Orchestration]) -> list[Message]:
    """The turns of a thread so far: the last completed orchestration's conversation and its final answer
    as delivered (cut before the first of its `stop_sequences`)."""
    for doc in reversed(earlier):
        if doc.final_response is not None and doc.status == "completed":
            answer = cut_at_stop(doc.final_response, doc.settings.stop_sequences)
            return [*conversation(doc), Message(role="assistant", content=answer)]
    return []


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """`text` before the first occurrence of any of `stops` (all of it when none occurs)."""
    return text[: min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))]


def with_history(history: Sequence[Message], messages: list[Message]) -> list[Message]:
    """`messages` continuing `history`: new system messages replace the earlier ones."""
    if not history:
        return messages
    own_system = any(m.role == "system" for m in messages)
    kept = [m for m in history if not (own_system and m.role == "system")]
    return [*[m for m in messages if m.role == "system"], *kept, *[m for m in messages if m.role != "system"]]
