"""A local reasoning model's thinking, written into its answer: `<think>…</think>` before the answer.

DeepSeek-R1, Qwen3, QwQ and their distillations write their reasoning first, between `<think>` and `</think>`. A
server that does not split it off (vLLM without `--reasoning-parser`, llama.cpp's `llama-server --reasoning-format
none`, Ollama before its thinking support, LM Studio without its "separate reasoning" setting) sends it as the
beginning of `content`; servers that do split it off send it as `reasoning_content` (or `reasoning`, as recent Ollama
does), which is not read. Either way the reasoning is not the answer: it is left out, so the judges score the
answer, stop sequences and JSON verdicts are looked for in it, and a thread continues from it (as DeepSeek asks:
reasoning is not sent back). A reasoning never closed (the output cap ran out while the model thought) leaves no
answer.

Chat templates that open the thinking themselves (DeepSeek-R1's since its 2025 update and its distillations, QwQ: the
prompt ends with `<think>\n`) have the model write only the reasoning's end: `…so it is 4.\n</think>\n\n4.`. A
`</think>` on a line of its own with no `<think>` before it is such an end (an answer that talks about the tag writes
it inside other text, or opens it first): what comes before it is left out too. Unstreamed, that is read from the whole
answer; streamed, a model seen doing so once has its later streams held until that line (`ThinkingFilter(prefilled=
True)`), as the text before it cannot be taken back once passed on.

gpt-oss writes in channels (OpenAI's harmony format): its reasoning in `analysis`, its answer in `final`. A server that
leaves them unparsed (llama.cpp's `llama-server --reasoning-format none`, a server without gpt-oss's parser) sends
`<|channel|>analysis<|message|>…<|end|><|start|>assistant<|channel|>final<|message|>answer`: that reasoning, up to the
`final` channel's header, is left out as a `<think>` block is (and the answer, sent back in a thread, no longer carries
the tags its chat template refuses: "You have passed a message containing <|channel|> tags in the content field").
"""

from __future__ import annotations

import re

__all__ = ["ThinkingFilter", "opened_by_template", "prefilled_end", "without_thinking"]

_OPEN = "<think>"
_CLOSE = "</think>"
_TAGS = {_OPEN: _CLOSE, "<|channel|>analysis<|message|>": "<|channel|>final<|message|>"}
"""What opens a reasoning at the start of an answer, and what ends it (gpt-oss's: the `final` channel's header)."""
_CLOSE_LINE = re.compile(r"^[ \t]*</think>[ \t]*(?:\r?\n|$)", re.MULTILINE)
"""`</think>` alone on its line (ended by a line break, or by the end of the text)."""


def prefilled_end(text: str) -> int | None:
    """Where the answer begins after a reasoning whose `<think>` the chat template wrote: just after the first
    `</think>` line, when no `<think>` comes before it; None when `text` has no such line."""
    close = _CLOSE_LINE.search(text)
    if close is None or _OPEN in text[: close.start()]:
        return None
    return close.end()


def opened_by_template(text: str) -> bool:
    """Whether `text` holds the end of a reasoning its chat template opened (not one it begins with `<think>`)."""
    return not text.lstrip().startswith(_OPEN) and prefilled_end(text) is not None


def without_thinking(text: str) -> str:
    """`text` without the `<think>…</think>` block it begins with, or the reasoning its template opened (up to a
    `</think>` line with no `<think>` before it), white space before and after it too; `text` as it is when it has
    neither."""
    stripped = text.lstrip()
    opened = next((tag for tag in _TAGS if stripped.startswith(tag)), None)
    if opened is None:
        end = prefilled_end(text)
        return text if end is None else text[end:].lstrip()
    close = _TAGS[opened]
    end = stripped.find(close, len(opened))
    return "" if end < 0 else stripped[end + len(close) :].lstrip()


class ThinkingFilter:
    """`without_thinking` for an answer streamed piece by piece: `feed` returns what can be passed on now (nothing
    while the beginning could still be a `<think>` tag, or while the model thinks), `flush` the rest at the end, and
    `answer` the answer from all that was passed on.

    With `prefilled` (a model whose template opens the thinking), text that does not begin with `<think>` is held until
    a `</think>` line ends the reasoning, or the answer ends (then it had none and is passed on whole). Without it, such
    text is passed on at once, and `answer` leaves out a reasoning found to have ended in it (`found`)."""

    def __init__(self, *, prefilled: bool = False) -> None:
        self._held = ""
        self._state = "start"  # start → thinking → after (white space skipped) → answer; or start → answer;
        # or, prefilled, start → prefilled → after → answer
        self.prefilled = prefilled
        self.found = False
        """Whether the text passed on held the end of a reasoning the template opened (`answer` left it out)."""
        self._direct = False
        """Whether the text went to the answer from its start (no `<think>` block held back)."""
        self._scanned = 0
        self._close = _CLOSE
        """What ends the reasoning being held (`</think>`, or gpt-oss's `final` channel header)."""

    def feed(self, piece: str) -> str:
        if self._state == "answer":
            return piece
        self._held += piece
        if self._state == "start":
            begun = self._held.lstrip()
            if any(tag.startswith(begun) for tag in _TAGS):  # (nothing yet, or a beginning of a tag: "<thi")
                return ""
            opened = next((tag for tag in _TAGS if begun.startswith(tag)), None)
            if opened is None:
                if not self.prefilled:
                    self._direct = True
                    return self._pass()
                self._state = "prefilled"
            else:
                self._state, self._held, self._close = "thinking", begun[len(opened) :], _TAGS[opened]
        if self._state == "prefilled":
            return self._prefilled()
        if self._state == "thinking":
            end = self._held.find(self._close)
            if end < 0:
                self._held = self._held[-(len(self._close) - 1) :]  # (the tail that could begin `</think>`)
                return ""
            self._state, self._held = "after", self._held[end + len(self._close) :]
        self._held = self._held.lstrip()
        return self._pass() if self._held else ""

    def _prefilled(self) -> str:
        """Held text of a model whose template opens the thinking: dropped once a whole `</think>` line ends it (a line
        break after it), passed on whole once a `<think>` in it says it is no such reasoning."""
        line = self._held.rfind("\n", 0, self._scanned) + 1  # (the line the new text began on: earlier ones are read)
        self._scanned = len(self._held)
        close = _CLOSE_LINE.search(self._held, line)
        if close is not None and not close.group().endswith("\n"):
            close = None  # (`</think>` ending the text so far: its line may go on)
        if _OPEN in self._held[line : close.start() if close else len(self._held)]:
            return self._pass()
        if close is None:
            return ""
        self._state, self._held = "after", self._held[close.end() :].lstrip()
        return self._pass() if self._held else ""

    def flush(self) -> str:
        """What is still held once the answer ended: a beginning that was no tag after all ("<" alone), or a prefilled
        model's answer without reasoning; nothing of a thought just opened (`<think>` and no more), nor of one whose
        `</think>` ended the text."""
        if self._state == "prefilled":
            end = prefilled_end(self._held)
            return self._pass() if end is None else self._pass()[end:].lstrip()
        if self._state != "start" or self._held.lstrip() in _TAGS:
            return ""
        return self._pass()

    def answer(self, passed: str) -> str:
        """The answer, from all the text `feed` and `flush` passed on: without a reasoning the template opened, when it
        ended in text passed on at once (`found` then says so: the model's later streams should be `prefilled`)."""
        end = prefilled_end(passed) if self._direct else None
        if end is None:
            return passed
        self.found = True
        return passed[end:].lstrip()

    def _pass(self) -> str:
        out, self._held, self._state = self._held, "", "answer"
        return out
