"""Providers: the connection to each model vendor, behind `Provider.generate`.

Built in: `FunctionProvider` (your function answers; for tests and notebooks) and
`SimulatedProvider` (an offline simulator of a model ecosystem; the default without API keys).
Adapters for OpenAI, Anthropic and Gemini are separate packages that register themselves under
the `orchestratex.providers` entry point, exactly as a third-party adapter would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import (
    Generation,
    GenerationRequest,
    Message,
    Provider,
    TextSink,
    check_allow_model_requests,
    estimate_input_tokens,
)
from ._http_errors import http_error
from ._registry import load_provider_class, provider_names, providers_from_env
from ._support import retry_after_seconds, unwrap_json_object
from .function import FunctionProvider

if TYPE_CHECKING:
    from .simulated import Faults, SimulatedProvider

ALLOW_MODEL_REQUESTS: bool = True
"""Set to False to make every adapter that would reach the network raise instead (the tests do)."""

__all__ = [
    "ALLOW_MODEL_REQUESTS",
    "Faults",
    "FunctionProvider",
    "Generation",
    "GenerationRequest",
    "Message",
    "Provider",
    "SimulatedProvider",
    "TextSink",
    "check_allow_model_requests",
    "estimate_input_tokens",
    "http_error",
    "load_provider_class",
    "provider_names",
    "providers_from_env",
    "retry_after_seconds",
    "unwrap_json_object",
]


def __getattr__(name: str) -> object:
    # the simulator loads on first use, keeping `import orchestratex` light
    if name in ("Faults", "SimulatedProvider"):
        from . import simulated

        return getattr(simulated, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
