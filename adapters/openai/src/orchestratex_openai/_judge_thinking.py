"""Asking a local thinking model not to think when it judges.

Qwen3 and DeepSeek-R1 think by default on Ollama, vLLM and llama.cpp's server, and their thinking counts toward the
judge's output cap (`judge_max_output_tokens`, 512): a judge could think its cap away and give no verdict (a failed
judge, and a failed run when it was the only one); so do Claude 5.5 and Gemini 3, 4 and 2.5 through OpenRouter, which
takes `reasoning_effort` for any model and passes it on. Each server has its own switch: Ollama's OpenAI-compatible API
takes `reasoning_effort: "none"` (gpt-oss, which cannot stop thinking, is asked for `"low"`); vLLM and llama.cpp's
server pass `chat_template_kwargs` to the model's chat template, whose `enable_thinking: false` turns Qwen3's thinking
off (a template without it ignores it). A server is known by its provider (`ollama:`, `vllm:`), or by what its answers
say of it (`system_fingerprint`: Ollama's `fp_ollama`, llama.cpp's build `b6000-0c3a1f2`), as through `OPENAI_BASE_URL`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from ._mapping import JUDGE_REASONING_EFFORT

__all__ = ["JudgeThinking"]

_LLAMA_CPP_BUILD = re.compile(r"b\d+-[0-9a-f]{6,40}")
"""llama.cpp's server's `system_fingerprint`: its build number and commit (`b6000-0c3a1f2`)."""

_TEMPLATE_SWITCH = {"chat_template_kwargs": {"enable_thinking": False}}


class JudgeThinking:
    """What a provider knows of its server's switch to turn a judge's thinking off, and the parameters it sends."""

    def __init__(self, *, ollama: bool = False, template_switch: bool = False, openrouter: bool = False) -> None:
        self.ollama = ollama
        """Whether judge calls send `reasoning_effort: "none"` (Ollama)."""
        self.template_switch = template_switch
        """Whether judge calls send `chat_template_kwargs: {"enable_thinking": false}` (vLLM, llama.cpp)."""
        self.openrouter = openrouter
        """Whether judge calls send `reasoning_effort: "low"` whatever the model (OpenRouter, which passes it on in each
        vendor's terms: Claude 5.5's effort, Gemini's thinking level or budget; and ignores it for a model that does not
        reason), not only to OpenAI's reasoning models known by their ids."""

    def learn(self, fingerprint: object) -> None:
        """What an answer's (or a chunk's) `system_fingerprint` says of the server."""
        if fingerprint == "fp_ollama":  # (Ollama's, on every answer)
            self.ollama = True
        elif isinstance(fingerprint, str) and _LLAMA_CPP_BUILD.fullmatch(fingerprint):
            self.template_switch = True

    def add_to(self, params: dict[str, Any], model_id: str) -> None:
        """Add the switch to a judge call's Chat Completions `params` (a reasoning effort already set is kept); gpt-oss,
        which always reasons, is asked for a low effort on any server."""
        if self.ollama and "reasoning_effort" not in params:
            # (gpt-oss cannot stop thinking, and thinks at `medium` when asked not to: it is asked to think little)
            params["reasoning_effort"] = JUDGE_REASONING_EFFORT if "gpt-oss" in model_id else "none"
        if (self.openrouter or "gpt-oss" in model_id) and "reasoning_effort" not in params:
            # (gpt-oss always reasons, at `medium` unless asked: on any server that serves it, Groq, Together, vLLM)
            params["reasoning_effort"] = JUDGE_REASONING_EFFORT
        if self.template_switch:
            params["extra_body"] = dict(_TEMPLATE_SWITCH)

    def sniffed(self, chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """`chunks`, passed on as they come, each learnt from (`learn`): a server streaming every answer (`/v1`'s
        `orchestratex/fast`) was known only after its first judge call."""
        return _Sniffed(self, chunks)


class _Sniffed:
    def __init__(self, thinking: JudgeThinking, chunks: AsyncIterator[Any]) -> None:
        self._thinking, self._chunks = thinking, chunks

    def __aiter__(self) -> _Sniffed:
        return self

    async def __anext__(self) -> Any:
        chunk = await self._chunks.__anext__()
        self._thinking.learn(getattr(chunk, "system_fingerprint", None))
        return chunk
