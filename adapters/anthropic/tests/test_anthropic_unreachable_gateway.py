"""`ANTHROPIC_BASE_URL` naming a gateway or proxy (LiteLLM, a corporate gateway) that is not up: the run's errors said
"cannot reach anthropic: All connection attempts failed", which read as Anthropic's API being down. They now name the
server that could not be reached (its password hidden), as the OpenAI adapter's do."""

from __future__ import annotations

import socket

import httpx2
import pytest

import orchestratex.providers
from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ProviderConnectionError
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import Reply, local_server
from orchestratex_anthropic import AnthropicProvider

CLAUDE = ModelProfile(name="anthropic:claude-sonnet-4-5", input_cost_per_1k=0.003, output_cost_per_1k=0.015, quality=9)
OTHER = ModelProfile(name="function:other", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)


def _nothing_listening() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


async def test_a_run_names_the_gateway_it_could_not_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local address, not the vendor
    address = _nothing_listening()
    env = {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": f"http://gw:s3cret@{address}"}
    other = FunctionProvider(lambda r: '{"score": 9, "feedback": "ok"}' if r.purpose == "judge" else "Hi.")
    orch = Orchestrator(
        providers=[AnthropicProvider.from_env(env), other],
        catalog=ModelCatalog([CLAUDE, OTHER]),
        judges=[OTHER.name],
        retry=RetryPolicy(max_attempts=1),
    )
    result = await orch.run("Hello", max_iterations=1, preferred_models=[CLAUDE.name, OTHER.name])
    await orch.aclose()
    error = result.orchestration.iterations[0].errors[0]
    assert f"cannot reach anthropic at http://gw:***@{address}: " in error, error
    assert "s3cret" not in error


async def test_anthropic_s_own_api_is_named_as_before() -> None:
    def refused(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("All connection attempts failed", request=request)

    provider = AnthropicProvider(
        api_key="sk-ant-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(refused))
    )
    request = GenerationRequest(model=CLAUDE, messages=[Message(role="user", content="Hi")], max_output_tokens=16)
    with pytest.raises(ProviderConnectionError, match=r"^cannot reach anthropic: All connection attempts failed"):
        await provider.generate(request)


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_gateway_redirecting_to_itself_is_said_and_not_retried(
    monkeypatch: pytest.MonkeyPatch, streamed: bool
) -> None:
    """It was "cannot reach anthropic at …: Exceeded maximum allowed redirects.", retried as a passing connection
    error: a redirect loop (http sent to https and back by a gateway's load balancer) that no retry ends."""
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not the vendor
    loop = Reply(307, headers={"location": "/v1/messages"})

    async def ignore(text: str) -> None:
        return None

    with local_server(lambda body: loop) as url:
        provider = AnthropicProvider(api_key="sk-ant-test", base_url=url)
        request = GenerationRequest(model=CLAUDE, messages=[Message(role="user", content="Hi")], max_output_tokens=16)
        with pytest.raises(
            ProviderConnectionError, match=rf"^anthropic at {url} redirected the request again"
        ) as raised:
            await (provider.generate_stream(request, ignore) if streamed else provider.generate(request))
        await provider.aclose()
    assert "a redirect loop" in str(raised.value) and not raised.value.retryable
