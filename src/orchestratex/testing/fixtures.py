"""Pytest fixtures for test suites that use OrchestrateX (ours, the adapters', and yours).

In a `conftest.py`:

```python
from orchestratex.testing.fixtures import block_model_requests, hide_provider_variables

block_model_requests()
```

`hide_provider_variables` is an autouse fixture: importing it into a conftest applies it to every
test there. Tests marked `live` keep the variables (and may call real providers when the test
itself allows requests again: the fixture blocks them again after it); register that marker in your pytest configuration
(`markers = ["live: calls a real provider"]`), or pytest warns about an unknown one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

import orchestratex.providers
from orchestratex.exceptions import ProviderNotConfigured
from orchestratex.providers._registry import KNOWN_ENV_VARS, load_provider_class, provider_names

__all__ = ["PROVIDER_VARIABLES", "block_model_requests", "hide_provider_variables"]

PROVIDER_VARIABLES: tuple[str, ...] = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_CUSTOM_HEADERS",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "OLLAMA_BASE_URL",
    "VLLM_BASE_URL",
    "VLLM_API_KEY",
    "LMSTUDIO_BASE_URL",
    "OPENROUTER_API_KEY",
    "OPENROUTER_BASE_URL",
    "ORCHESTRATEX_STORE_URL",
    "ORCHESTRATEX_CATALOG",
    "ORCHESTRATEX_SIM_SEED",
    "ORCHESTRATEX_SIM_LATENCY_SCALE",
    "ORCHESTRATEX_PROVIDER_TIMEOUT_S",
    "ORCHESTRATEX_TRACING",
    "ORCHESTRATEX_LOG_CONTENT",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "OTEL_PYTHON_TRACER_PROVIDER",
)
"""The environment variables that would make a test depend on the developer's machine (the simulator's latency
decides how concurrent runs interleave; a mistyped `ORCHESTRATEX_TRACING` made every `Orchestrator()` fail, and
`ORCHESTRATEX_LOG_CONTENT` put prompts in the log lines a test reads; an `OTEL_PYTHON_TRACER_PROVIDER` naming a provider
the tests' environment lacks made every `Orchestrator()` fail, and one it has made the runs trace; an
`ORCHESTRATEX_PROVIDER_TIMEOUT_S` set for a local model gave the providers made from the environment other timeouts;
the Anthropic SDK reads `ANTHROPIC_CUSTOM_HEADERS` and `ANTHROPIC_AUTH_TOKEN` itself, which a Claude Code user's shell
sets for a gateway: the custom headers went into every request of the tests' mocked providers, an `Authorization` line
among them replacing the key the test gave)."""


def block_model_requests() -> None:
    """Make every adapter that would reach a real provider raise instead (`ALLOW_MODEL_REQUESTS = False`)."""
    orchestratex.providers.ALLOW_MODEL_REQUESTS = False


@pytest.fixture(autouse=True)
def hide_provider_variables(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Remove `PROVIDER_VARIABLES` for the test (not for tests marked `live`), so without keys the
    simulator is the default and results never depend on the machine running them; and put
    `ALLOW_MODEL_REQUESTS` back after the test, so a live test that sets it to True allows requests
    for itself only (the tests after it are blocked again)."""
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", orchestratex.providers.ALLOW_MODEL_REQUESTS)
    if request.node.get_closest_marker("live") is None:
        for var in (*PROVIDER_VARIABLES, *_adapter_variables()):
            monkeypatch.delenv(var, raising=False)
    yield


@functools.cache
def _adapter_variables() -> tuple[str, ...]:
    """The `env_vars` of the installed third-party adapters (the `orchestratex.providers` entry points that are not
    ours): with one's key set on the machine, `Orchestrator()` in a test used that adapter, not the simulator. Each is
    loaded once in a test session (its vendor SDK imported); one that cannot be loaded has no variables to hide."""
    found: list[str] = []
    for name in provider_names():
        if name in KNOWN_ENV_VARS:
            continue
        try:
            cls = load_provider_class(name)
        except ProviderNotConfigured:
            continue
        found.extend(var for var in cls.env_vars if isinstance(var, str) and var not in PROVIDER_VARIABLES)
    return tuple(found)
