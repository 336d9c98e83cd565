"""A base URL may carry a secret (a proxy's `user:password@`, a gateway's `?api-key=`): errors never show it.

A run's errors are stored with the orchestration and shown by the API, the web console and `orchestratex runs show`.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx2
import pytest

from orchestratex import BayesianRouter, GenerationRequest, Message, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ConfigurationError, ProviderHTTPError
from orchestratex_openai import OpenAIProvider

SECRET = "s3cr3t-Pa55"
MODELS = ModelCatalog(
    [
        ModelProfile(name="openai:llama3.2", cost_per_1k_tokens=0, quality=9),
        ModelProfile(name="openai:qwen3", cost_per_1k_tokens=0, quality=6),
    ]
)


def not_found(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(404, text="404 page not found")  # a server's own page: the adapter names the URL tried


@pytest.mark.parametrize(
    "base_url", [f"https://ada:{SECRET}@proxy.example", f"https://gateway.example/openai?api-key={SECRET}&v=1"]
)
def test_a_run_s_stored_errors_do_not_show_the_base_url_s_secret(base_url: str) -> None:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(not_found))
    provider = OpenAIProvider(api_key="unused", base_url=base_url, http_client=client)
    with Orchestrator(catalog=MODELS, providers=[provider], router=BayesianRouter(explore=False)) as orchestrator:
        result = orchestrator.run_sync("Hello", max_iterations=1)
    assert result.status == "failed" and "not found: check the base URL" in (result.error or "")
    assert "***" in (result.error or "")
    stored = result.orchestration.model_dump_json() + "".join(e.model_dump_json() for e in result.events)
    assert SECRET not in stored  # its iterations' errors and its events


async def test_the_404_error_itself_hides_the_secret() -> None:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(not_found))
    provider = OpenAIProvider(api_key="unused", base_url=f"https://ada:{SECRET}@proxy.example", http_client=client)
    request = GenerationRequest(model=MODELS.get("openai:llama3.2"), messages=[Message(role="user", content="Hi")])
    with pytest.raises(ProviderHTTPError) as info:
        await provider.generate(request)
    assert SECRET not in str(info.value) and "https://ada:***@proxy.example/chat/completions" in str(info.value)


def test_a_base_url_refused_when_made_does_not_show_its_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        OpenAIProvider(api_key="k", base_url=f"ada:{SECRET}@proxy.example/v1")
    assert SECRET not in str(info.value) and "ada:***@proxy.example/v1" in str(info.value)


def test_orchestratex_models_does_not_print_it() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["OPENAI_BASE_URL"] = f"ada:{SECRET}@proxy.example/v1"
    done = subprocess.run(
        [sys.executable, "-m", "orchestratex", "models"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "OPENAI_BASE_URL 'ada:***@proxy.example/v1' is not an http://" in done.stdout
    assert SECRET not in done.stdout + done.stderr


KEY = "sk-gw-Zq8mR2vT5xY7wK3pL9nB4cD6"


def quotes_the_key(request: httpx2.Request) -> httpx2.Response:
    """A gateway that quotes the key it refuses in its error, as some OpenAI-compatible servers do."""
    key = request.headers["authorization"].removeprefix("Bearer ")
    error = {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error"}
    return httpx2.Response(401, json={"error": {**error, "code": "invalid_api_key"}})


def test_a_key_the_server_quotes_in_its_error_is_not_stored_with_the_run() -> None:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(quotes_the_key))
    provider = OpenAIProvider(api_key=KEY, base_url="https://gateway.example/v1", http_client=client)
    with Orchestrator(catalog=MODELS, providers=[provider], router=BayesianRouter(explore=False)) as orchestrator:
        result = orchestrator.run_sync("Hello", max_iterations=1)
    assert result.status == "failed" and "Incorrect API key provided: ***" in (result.error or "")
    stored = result.orchestration.model_dump_json() + "".join(e.model_dump_json() for e in result.events)
    assert KEY not in stored  # its iterations' errors and its events: shown to the API's users, not its operator only


async def test_the_401_error_itself_hides_the_key_in_its_message_and_body() -> None:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(quotes_the_key))
    provider = OpenAIProvider(api_key=KEY, base_url="https://gateway.example/v1", http_client=client)
    request = GenerationRequest(model=MODELS.get("openai:llama3.2"), messages=[Message(role="user", content="Hi")])
    with pytest.raises(ProviderHTTPError) as info:
        await provider.generate(request)
    assert info.value.status_code == 401 and KEY not in str(info.value) and KEY not in str(info.value.body)
    assert "Incorrect API key provided: ***" in str(info.value)


async def test_a_placeholder_key_of_a_local_server_is_not_masked_in_its_words() -> None:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(quotes_the_key))
    provider = OpenAIProvider(api_key="ollama", base_url="http://localhost:11434/v1", http_client=client)
    request = GenerationRequest(model=MODELS.get("openai:llama3.2"), messages=[Message(role="user", content="Hi")])
    with pytest.raises(ProviderHTTPError) as info:
        await provider.generate(request)
    assert "Incorrect API key provided: ollama" in str(info.value)


async def test_a_key_quoted_where_a_long_body_is_cut_is_not_half_shown() -> None:
    """A gateway's error page (not JSON) is shown cut to 300 characters: the key was masked after the cut, so a key the
    cut went through was left with its first characters shown."""

    def page(request: httpx2.Request) -> httpx2.Response:
        key = request.headers["authorization"].removeprefix("Bearer ")
        return httpx2.Response(401, text="x" * 280 + f" refused key {key} " + "y" * 200)

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(page))
    provider = OpenAIProvider(api_key=KEY, base_url="https://gateway.example/v1", http_client=client)
    request = GenerationRequest(model=MODELS.get("openai:llama3.2"), messages=[Message(role="user", content="Hi")])
    with pytest.raises(ProviderHTTPError) as info:
        await provider.generate(request)
    assert info.value.status_code == 401 and "refused key ***" in str(info.value)
    assert KEY[:8] not in str(info.value) and KEY not in str(info.value.body)
