"""OrchestrateX adapter for OpenAI and OpenAI-compatible servers (Ollama, vLLM, LM Studio, OpenRouter).

Registered under the `orchestratex.providers` entry point as `openai`, `ollama`, `vllm`,
`lmstudio` and `openrouter`; the core never imports this package (or the openai SDK) itself.
"""

from __future__ import annotations

try:
    import openai as _sdk  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("the OpenAI adapter needs the openai SDK: pip install 'orchestratex[openai]'") from exc

from ._compatible import LMStudioProvider, OllamaProvider, OpenAICompatibleProvider, OpenRouterProvider, VLLMProvider
from ._errors import map_openai_errors
from ._provider import ApiMode, OpenAIProvider

__all__ = [
    "ApiMode",
    "LMStudioProvider",
    "OllamaProvider",
    "OpenAICompatibleProvider",
    "OpenAIProvider",
    "OpenRouterProvider",
    "VLLMProvider",
    "map_openai_errors",
]
