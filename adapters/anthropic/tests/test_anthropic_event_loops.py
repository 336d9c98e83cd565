"""A provider that built its own SDK client, used from several event loops (two `asyncio.run` calls,
pytest-asyncio's loop per test) and after `aclose()`: each loop gets a client of its own.

The server is a real local HTTP server with keep-alive, so the SDK pools a connection bound to
the loop that opened it (a mock transport has no such connection). The second `asyncio.run` used
to fail with `RuntimeError: Event loop is closed`, and a call after `aclose()` with
`Cannot send a request, as the client has been closed`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import anthropic
import pytest

import orchestratex.providers
from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import local_server
from orchestratex.usage import Usage
from orchestratex_anthropic import AnthropicProvider

from .test_anthropic_contract import message

MODEL = ModelProfile(name="anthropic:claude-haiku-4-5", input_cost_per_1k=0, output_cost_per_1k=0)
JUDGE = ModelProfile(name="anthropic:claude-sonnet-4-6", input_cost_per_1k=0, output_cost_per_1k=0)
REQUEST = GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hello")], max_output_tokens=50)
REPLY = json.dumps(message(Usage(input_tokens=5, output_tokens=2), text='{"score": 9, "feedback": "ok"}'))


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with local_server(REPLY.encode()) as base, pytest.MonkeyPatch.context() as patch:
        patch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not Anthropic
        yield f"{base}"


def test_two_asyncio_runs_on_one_provider(url: str) -> None:
    provider = AnthropicProvider("sk-ant-test", base_url=url)
    used: list[anthropic.AsyncAnthropic] = []

    async def call() -> str:
        used.append(provider._client)
        return (await provider.generate(REQUEST)).text

    assert asyncio.run(call()) == asyncio.run(call()) == '{"score": 9, "feedback": "ok"}'
    assert used[0] is not used[1] and all(client.is_closed() for client in used)  # closed as each loop ended


def test_a_call_after_aclose_opens_a_new_client(url: str) -> None:
    provider = AnthropicProvider("sk-ant-test", base_url=url)

    async def calls() -> None:
        await provider.generate(REQUEST)
        first = provider._client
        await provider.aclose()
        assert first.is_closed()
        await provider.generate(REQUEST)
        assert provider._client is not first and not provider._client.is_closed()
        await provider.aclose()

    asyncio.run(calls())


def test_two_asyncio_runs_and_a_run_sync_after_close_on_one_orchestrator(url: str) -> None:
    # the adapter is configured from the environment: it opens (and owns) its connections
    env = {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": url}
    orchestrator = Orchestrator(catalog=ModelCatalog([MODEL, JUDGE]), env=env)
    for _ in range(2):
        result = asyncio.run(orchestrator.run("Hello", max_iterations=1))
        assert result.status == "completed", result.orchestration.error
    orchestrator.run_sync("Hello", max_iterations=1)
    orchestrator.close()
    result = orchestrator.run_sync("Hello", max_iterations=1)  # closed, then used again: reopens
    assert result.status == "completed", [str(e) for it in result.orchestration.iterations for e in it.errors]
    orchestrator.close()


def test_an_injected_client_is_neither_replaced_nor_closed(url: str) -> None:
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=url)
    provider = AnthropicProvider(client=client)
    assert not provider._owns_connection

    async def call() -> None:
        await provider.generate(REQUEST)
        await provider.aclose()
        assert not client.is_closed()  # the user's to close, on the loop that used it
        await client.close()

    asyncio.run(call())


@pytest.fixture(scope="module")
def shared(url: str) -> AnthropicProvider:
    """One provider for several tests, each on its own event loop (pytest-asyncio's default)."""
    return AnthropicProvider("sk-ant-test", base_url=url)


@pytest.mark.parametrize("test", [1, 2])
async def test_a_module_level_provider_serves_each_tests_loop(shared: AnthropicProvider, test: int) -> None:
    assert (await shared.generate(REQUEST)).usage.output_tokens == 2
