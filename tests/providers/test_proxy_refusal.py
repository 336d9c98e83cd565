"""An HTTP proxy (`HTTPS_PROXY`) that refuses to open the tunnel to the vendor: 407 Proxy Authentication Required (it
wants a user and password), or 403 (it does not let the host through).

httpx raises `ProxyError("407 Proxy Authentication Required")`, which every adapter took for a passing connection
error: the run retried each model with backoff, then the next model, each time through the same proxy, and failed
saying only "cannot reach openai: 407 Proxy Authentication Required". Now such a refusal is not retried and says what
to do; a proxy that fails (502) is still retried as a connection error is.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import orchestratex.providers
from orchestratex import ModelCatalog, Orchestrator
from orchestratex.evaluation import LLMJudgeEvaluator
from orchestratex.exceptions import ProviderConnectionError
from orchestratex.orchestrator import RetryPolicy, RunResult
from orchestratex.providers import FunctionProvider, GenerationRequest, Message, Provider, http_error

pytest.importorskip("orchestratex_openai")
pytest.importorskip("orchestratex_anthropic")
pytest.importorskip("orchestratex_gemini")

from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OpenAIProvider

MODELS = {
    "openai": "openai:gpt-6-luna",
    "anthropic": "anthropic:claude-haiku-5-5",
    "gemini": "gemini:gemini-4-hydrogen",
}
HOSTS = {"openai": "openai.example.test", "anthropic": "anthropic.example.test", "gemini": "gemini.example.test"}


class Proxy:
    """A real HTTP proxy on 127.0.0.1 that answers every CONNECT with `status`, counting them."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.connects: list[str] = []
        connects = self.connects

        class Handler(BaseHTTPRequestHandler):
            def do_CONNECT(self) -> None:
                connects.append(self.path)
                self.send_response(status, reason)
                if status == 407:
                    self.send_header("Proxy-Authenticate", 'Basic realm="corp"')
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@contextmanager
def running_proxy(
    status: int, reason: str, monkeypatch: pytest.MonkeyPatch, variable: str = "HTTPS_PROXY"
) -> Iterator[Proxy]:
    proxy = Proxy(status, reason)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.setenv(variable, proxy.url)  # as a user behind a corporate proxy has it
    # (the hosts do not exist: without the proxy nothing could reach a network)
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
        thread.join()


@pytest.fixture(params=[(407, "Proxy Authentication Required"), (403, "Forbidden"), (502, "Bad Gateway")])
def proxy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    status, reason = request.param
    with running_proxy(status, reason, monkeypatch) as proxy:
        yield proxy


def _provider(name: str) -> Provider:
    base = f"https://{HOSTS[name]}"
    if name == "openai":
        return OpenAIProvider(api_key="sk-test", base_url=f"{base}/v1")
    if name == "anthropic":
        return AnthropicProvider(api_key="sk-ant-test", base_url=base)
    return GeminiProvider(api_key="AIza-test", base_url=f"{base}/")


@pytest.mark.parametrize("name", list(MODELS))
async def test_a_proxy_refusing_the_tunnel_is_not_retried_and_says_what_to_do(proxy: Proxy, name: str) -> None:
    provider = _provider(name)
    model = ModelCatalog.default().get(MODELS[name])
    request = GenerationRequest(model=model, messages=[Message(role="user", content="Hello")])
    try:
        with pytest.raises(ProviderConnectionError) as caught:
            await provider.generate(request)
    finally:
        await provider.aclose()
    assert proxy.connects == [f"{HOSTS[name]}:443"], "the request went through the proxy"
    message = caught.value.message
    assert str(proxy.status) in message, message
    if proxy.status == 407:
        assert caught.value.retryable is False
        assert "user name and password" in message and "http://USER:PASSWORD@HOST:PORT" in message, message
    elif proxy.status == 403:
        assert caught.value.retryable is False
        assert "does not let requests through" in message, message
    else:  # (a proxy that failed to reach the server: passing, retried)
        assert caught.value.retryable is True, message


@pytest.mark.parametrize("name", list(MODELS))
async def test_all_proxy_carries_the_request_as_https_proxy_does(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ALL_PROXY` alone names the proxy: with aiohttp installed, google-genai sends through it, which reads
    `HTTPS_PROXY` and `HTTP_PROXY` only, so the Gemini adapter's calls went straight to the host, past the proxy."""
    with running_proxy(407, "Proxy Authentication Required", monkeypatch, variable="ALL_PROXY") as proxy:
        provider = _provider(name)
        model = ModelCatalog.default().get(MODELS[name])
        try:
            with pytest.raises(ProviderConnectionError) as caught:
                await provider.generate(GenerationRequest(model=model, messages=[Message(role="user", content="Hi")]))
        finally:
            await provider.aclose()
    assert proxy.connects == [f"{HOSTS[name]}:443"], caught.value.message
    assert caught.value.retryable is False and "user name and password" in caught.value.message


async def test_a_run_behind_a_proxy_that_wants_a_password_tries_the_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_proxy(407, "Proxy Authentication Required", monkeypatch) as proxy:
        result = await _run()
    assert result.status == "failed"
    assert proxy.connects == ["openai.example.test:443"], "tried once, not retried"
    assert "user name and password" in str(result.orchestration.error), result.orchestration.error


async def _run() -> RunResult:
    catalog = ModelCatalog.default()
    main, judge_model = catalog.get("openai:gpt-6-luna"), catalog.get("openai:gpt-6.2-sol")
    judge = FunctionProvider(lambda request: '{"score": 9, "feedback": "ok"}', name="judge")
    judge_profile = judge_model.model_copy(update={"name": "judge:j", "provider": "judge", "aliases": ()})
    orchestrator = Orchestrator(
        providers={"openai": _provider("openai"), "judge": judge},
        catalog=ModelCatalog([main, judge_profile]),
        evaluator=LLMJudgeEvaluator(judges=["judge:j"]),
        retry=RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05),
    )
    async with orchestrator:
        return await orchestrator.run("Name a prime number.", max_iterations=1, preferred_models=[main.name])


def test_a_proxys_407_answer_says_what_to_set() -> None:
    """Through a proxy to a plain-HTTP server the 407 is an answer, not a refused tunnel: not retried either, and it
    says what the proxy wants rather than "openai error (407)"."""
    error = http_error(
        407, "Proxy Authentication Required", provider="ollama", model="ollama:llama3.2", api_key_env=None
    )
    assert error.retryable is False
    assert "proxy" in error.message and "http://USER:PASSWORD@HOST:PORT" in error.message, error.message


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("name", list(MODELS))
async def test_a_connection_error_through_a_proxy_names_it(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`OLLAMA_BASE_URL=http://localhost:11434/v1` with a corporate `HTTP_PROXY`: the request went to the proxy, which
    could not be reached (or could not reach this machine), and the error said "cannot reach ollama: All connection
    attempts failed" of a server that was running."""
    for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)
    proxy = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("HTTP_PROXY", proxy)
    base = f"http://localhost:{_closed_port()}"
    model = ModelCatalog.default().get(MODELS[name])
    request = GenerationRequest(model=model, messages=[Message(role="user", content="Hello")])

    async def failure() -> str:
        provider: Provider
        if name == "openai":
            provider = OpenAIProvider(api_key="sk-test", base_url=f"{base}/v1")
        elif name == "anthropic":
            provider = AnthropicProvider(api_key="sk-ant-test", base_url=base)
        else:
            provider = GeminiProvider(api_key="AIza-test", base_url=f"{base}/")
        try:
            with pytest.raises(ProviderConnectionError) as caught:
                await provider.generate(request)
        finally:
            await provider.aclose()
        assert caught.value.retryable
        return caught.value.message

    said = await failure()
    assert said.endswith(
        f" (through the proxy HTTP_PROXY={proxy!r}: a server on this machine is reached without it, add localhost to"
        " NO_PROXY)"
    ), said
    monkeypatch.setenv("NO_PROXY", "localhost")
    assert "proxy" not in await failure()
