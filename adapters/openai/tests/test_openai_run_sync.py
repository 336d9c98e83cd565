"""The reported bug, reproduced as a user meets it: an `OpenAIProvider` that owns its connection pool
(no injected client) talking HTTP to a local server, and two `run_sync` calls on one orchestrator.

With a new event loop per call, the second call found the pool bound to the first, closed loop
(`RuntimeError: Event loop is closed`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

import orchestratex.providers
from orchestratex import BayesianRouter, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import local_server
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion

MODELS = ModelCatalog(
    [
        ModelProfile(name="openai:llama3.2", cost_per_1k_tokens=0, quality=9),
        ModelProfile(name="openai:qwen2.5", cost_per_1k_tokens=0, quality=6),
    ]
)


REQUEST = GenerationRequest(model=MODELS.get("openai:llama3.2"), messages=[Message(role="user", content="Hello")])
RECEIVED: list[dict[str, Any]] = []
"""The bodies the local server received."""


def _answer(sent: dict[str, Any]) -> bytes:
    RECEIVED.append(sent)
    judging = "response_format" in sent
    text = json.dumps({"score": 9, "feedback": "ok"}) if judging else "Hi!"
    return json.dumps(chat_completion(Usage(input_tokens=5, output_tokens=2), text=text)).encode()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not a provider
    RECEIVED.clear()
    with local_server(_answer) as base:
        yield base


def test_repeated_run_sync_with_an_sdk_owned_connection_pool(server: str) -> None:
    url = f"{server}/v1"
    # OPENAI_BASE_URL alone (no key) configures the adapter, which opens (and owns) its connection pool
    with Orchestrator(catalog=MODELS, env={"OPENAI_BASE_URL": url}, router=BayesianRouter(explore=False)) as orch:
        assert list(orch.providers) == ["openai"] and orch.providers["openai"]._owns_connection  # type: ignore[attr-defined]
        for _ in range(3):
            result = orch.run_sync("Hello", preferred_models=["openai:llama3.2"], max_iterations=1)
            assert result.status == "completed" and result.final_response == "Hi!" and result.final_score == 9


def test_a_local_server_behind_openai_base_url_gets_max_tokens(server: str) -> None:
    """As the named compatible providers do: a server that ignores `max_completion_tokens` would not
    enforce the output cap the budget reserves for."""
    url = f"{server}/v1"
    with Orchestrator(catalog=MODELS, env={"OPENAI_BASE_URL": url}, router=BayesianRouter(explore=False)) as orch:
        result = orch.run_sync("Hello", preferred_models=["openai:llama3.2"], max_iterations=1, max_output_tokens=77)
    assert result.status == "completed" and len(RECEIVED) >= 2  # the answer and its judge
    assert all("max_tokens" in body and "max_completion_tokens" not in body for body in RECEIVED), RECEIVED
    assert RECEIVED[0]["max_tokens"] == 77


def test_a_provider_you_made_has_its_connections_closed_with_the_orchestrator_s_loop(server: str) -> None:
    """`Orchestrator(providers=[OpenAIProvider(...)])`, as docs/providers/index.md builds them: the orchestrator does
    not close a provider it was given, and its `run_sync` loop ended without finalising the loop's async generators
    (as `asyncio.run` does), so the client the provider opened on that loop was never closed: every `close()` left
    its pooled connection open (`ResourceWarning: unclosed transport`)."""
    provider = OpenAIProvider(api_key="sk-test", base_url=f"{server}/v1")  # it opens (and owns) its connections
    orchestrator = Orchestrator(catalog=MODELS, providers=[provider], router=BayesianRouter(explore=False))
    for _ in range(2):
        result = orchestrator.run_sync("Hello", preferred_models=["openai:llama3.2"], max_iterations=1)
        assert result.status == "completed"
    clients = [bound.client for bound in provider._clients._bound.values()]
    assert len(clients) == 1 and not clients[0].is_closed()  # one client, for run_sync's loop
    orchestrator.close()
    assert clients[0].is_closed()
    assert asyncio.run(provider.generate(REQUEST)).text == "Hi!"  # the provider stays usable, on another loop
