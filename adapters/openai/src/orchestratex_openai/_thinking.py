"""A local reasoning model's thinking, written into its answer: `<think>…</think>` before the answer.

DeepSeek-R1, Qwen3, QwQ and their distillations write their reasoning first, between `<think>` and `</think>`. A
server that does not split it off (vLLM without `--reasoning-parser`, llama.cpp's `llama-server --reasoning-format
none`, Ollama before its thinking support, LM Studio without its "separate reasoning" setting) sends it as the
beginning of `content`; servers that do split it off send it as `reasoning_content` (or `reasoning`, as recent Ollama
does), which is not read. Either way the reasoning is not the answer: it is left out, so the judges score the
answer, stop sequences and JSON verdicts are looked for in it, and a thread continues from it (as DeepSeek asks:
reasoning is not sent back). A reasoning never closed (the output cap ran out while the model thought) leaves no
answer.
"""

from __future__ import annotations

__all__ = ["ThinkingFilter", "without_thinking"]

_OPEN = "<think>"
_CLOSE = "</think>"


def without_thinking(text: str) -> str:
    """`text` without the `<think>…</think>` block it begins with (white space before and after it too); `text` as
    it is when it does not begin with one."""
    stripped = text.lstrip()
    if not stripped.startswith(_OPEN):
        return text
    end = stripped.find(_CLOSE, len(_OPEN))
    return "" if end < 0 else stripped[end + len(_CLOSE) :].lstrip()


class ThinkingFilter:
    """`without_thinking` for an answer streamed piece by piece: `feed` returns what can be passed on now (nothing
    while the beginning could still be a `<think>` tag, or while the model thinks), `flush` the rest at the end."""

    def __init__(self) -> None:
        self._held = ""
        self._state = "start"  # start → thinking → after (white space skipped) → answer; or start → answer

    def feed(self, piece: str) -> str:
        if self._state == "answer":
            return piece
        self._held += piece
        if self._state == "start":
            begun = self._held.lstrip()
            if _OPEN.startswith(begun):  # (nothing yet, or a beginning of the tag: "<thi")
                return ""
            if not begun.startswith(_OPEN):
                return self._pass()
            self._state, self._held = "thinking", begun[len(_OPEN) :]
        if self._state == "thinking":
            end = self._held.find(_CLOSE)
            if end < 0:
                self._held = self._held[-(len(_CLOSE) - 1) :]  # (the tail that could begin `</think>`)
                return ""
            self._state, self._held = "after", self._held[end + len(_CLOSE) :]
        self._held = self._held.lstrip()
        return self._pass() if self._held else ""

    def flush(self) -> str:
        """What is still held once the answer ended: a beginning that was no tag after all ("<" alone); nothing of a
        thought just opened (`<think>` and no more)."""
        if self._state != "start" or self._held.lstrip() == _OPEN:
            return ""
        return self._pass()

    def _pass(self) -> str:
        out, self._held, self._state = self._held, "", "answer"
        return out
