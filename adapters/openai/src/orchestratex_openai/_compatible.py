"""OpenAI-compatible servers under their own provider names: one mapping, many connections.

Each class below is the OpenAI adapter pointed at another server, registered under its own
`orchestratex.providers` entry point so its models are named `ollama:llama3.2`,
`openrouter:meta-llama/llama-3.3-70b-instruct`, … and can sit next to `openai:` models. A local
server counts as configured only when its base-URL variable is set: OrchestrateX never probes the
network to find one. Write your own the same way: subclass `OpenAICompatibleProvider` and set
`name`, `base_url_env`, `default_base_url` (and `api_key_env` when the server needs a key).
"""

from __future__ import annotations

from typing import ClassVar

from ._provider import ApiMode, OpenAIProvider

__all__ = ["LMStudioProvider", "OllamaProvider", "OpenAICompatibleProvider", "OpenRouterProvider", "VLLMProvider"]


class OpenAICompatibleProvider(OpenAIProvider):
    """Base class for a named OpenAI-compatible server: Chat Completions, `max_tokens`, no key unless required."""

    name: ClassVar[str] = "openai-compatible"
    env_vars: ClassVar[tuple[str, ...]] = ()
    api_key_env: ClassVar[str | None] = None
    base_url_env: ClassVar[str | None] = None
    requires_api_key: ClassVar[bool] = False
    default_api: ClassVar[ApiMode] = "chat"
    max_tokens_param: ClassVar[str | None] = "max_tokens"


class OllamaProvider(OpenAICompatibleProvider):
    """A local Ollama server (`ollama serve`); configured by `OLLAMA_BASE_URL`, e.g. `http://localhost:11434/v1`."""

    name: ClassVar[str] = "ollama"
    env_vars: ClassVar[tuple[str, ...]] = ("OLLAMA_BASE_URL",)
    base_url_env: ClassVar[str | None] = "OLLAMA_BASE_URL"
    default_base_url: ClassVar[str] = "http://localhost:11434/v1"
    ollama_server: ClassVar[bool] = True


class VLLMProvider(OpenAICompatibleProvider):
    """A vLLM server (`vllm serve MODEL`); configured by `VLLM_BASE_URL`, key in `VLLM_API_KEY` if it has one."""

    name: ClassVar[str] = "vllm"
    env_vars: ClassVar[tuple[str, ...]] = ("VLLM_BASE_URL",)
    base_url_env: ClassVar[str | None] = "VLLM_BASE_URL"
    api_key_env: ClassVar[str | None] = "VLLM_API_KEY"
    default_base_url: ClassVar[str] = "http://localhost:8000/v1"
    template_thinking_switch: ClassVar[bool] = True


class LMStudioProvider(OpenAICompatibleProvider):
    """LM Studio's local server; configured by `LMSTUDIO_BASE_URL`, e.g. `http://localhost:1234/v1`."""

    name: ClassVar[str] = "lmstudio"
    env_vars: ClassVar[tuple[str, ...]] = ("LMSTUDIO_BASE_URL",)
    base_url_env: ClassVar[str | None] = "LMSTUDIO_BASE_URL"
    default_base_url: ClassVar[str] = "http://localhost:1234/v1"


class OpenRouterProvider(OpenAICompatibleProvider):
    """OpenRouter (`https://openrouter.ai/api/v1`); configured by `OPENROUTER_API_KEY`."""

    name: ClassVar[str] = "openrouter"
    env_vars: ClassVar[tuple[str, ...]] = ("OPENROUTER_API_KEY",)
    api_key_env: ClassVar[str | None] = "OPENROUTER_API_KEY"
    base_url_env: ClassVar[str | None] = "OPENROUTER_BASE_URL"
    default_base_url: ClassVar[str] = "https://openrouter.ai/api/v1"
    requires_api_key: ClassVar[bool] = True
    openrouter_server: ClassVar[bool] = True
