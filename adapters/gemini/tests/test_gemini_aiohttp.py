"""With aiohttp installed (google-genai's `aiohttp` extra, or any package that needs it), google-genai sends a client's
calls through aiohttp rather than httpx: its connection errors and timeouts were not mapped, so a Gemini server that
could not be reached raised a raw `aiohttp.ClientConnectorError` out of `Orchestrator.run` instead of falling back to
another model, and a stream cut mid-answer came out as aiohttp's error too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import orchestratex.providers
from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ConfigurationError, ProviderConnectionError, ProviderHTTPError, ProviderTimeout
from orchestratex.orchestrator import RetryPolicy
from orchestratex.testing.provider_contract import silent_server
from orchestratex_gemini import GeminiProvider

from .test_gemini_connect_timeout import black_hole
from .test_gemini_gateway_errors import PAGE
from .test_gemini_provider import request
from .test_gemini_redirects import ANSWER, KEY, _Server, aiohttp_without_middlewares
from .test_gemini_redirects import servers as servers  # (the fixture)
from .test_gemini_streaming import chunk, sse

pytest.importorskip("aiohttp")
MIDDLEWARES = not aiohttp_without_middlewares()
"""Whether the installed aiohttp takes client middlewares (3.12 and later)."""


@pytest.fixture(autouse=True)
def _local_server_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not the vendor


def _nothing_listening() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _closing_mid_stream() -> contextlib.AbstractContextManager[str]:
    """A server answering 200 with the first chunks of a stream ("Hello, world"), then closing the connection."""
    part = sse(chunk("Hello"), chunk(", world"))

    def answer(conn: socket.socket) -> None:
        conn.recv(65536)
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        conn.sendall(head + f"{len(part):x}\r\n".encode() + part + b"\r\n")
        conn.shutdown(socket.SHUT_WR)

    return silent_server(answer)


async def test_the_sdk_sends_through_aiohttp_and_a_server_not_reached_is_a_connection_error() -> None:
    provider = GeminiProvider(api_key="AIza-test", base_url=_nothing_listening())
    assert provider._client._api_client._use_aiohttp()  # (what this file is about)
    with pytest.raises(ProviderConnectionError, match="cannot reach gemini") as raised:
        await provider.generate(request())
    assert raised.value.retryable

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ProviderConnectionError, match="cannot reach gemini"):
        await provider.generate_stream(request(), on_text)
    await provider.aclose()


async def test_a_server_not_reached_through_aiohttp_is_said_without_a_memory_address() -> None:
    """aiohttp's words named the TLS context google-genai passes it by its address ("Cannot connect to host
    127.0.0.1:… ssl:<ssl.SSLContext object at 0x7f6b5ce55400> [Connect call failed …]"), different in every error."""
    url = _nothing_listening()
    provider = GeminiProvider(api_key="AIza-test", base_url=url)
    try:
        with pytest.raises(ProviderConnectionError) as raised:
            await provider.generate(request())
    finally:
        await provider.aclose()
    said = raised.value.message
    assert "SSLContext" not in said and " at 0x" not in said, said
    assert said.startswith(f"cannot reach gemini at {url}: Cannot connect to host 127.0.0.1:"), said


async def test_a_run_falls_back_to_another_model_when_gemini_cannot_be_reached() -> None:
    gemini = ModelProfile(name="gemini:gemini-x", input_cost_per_1k=0.001, output_cost_per_1k=0.004, quality=9)
    other = ModelProfile(name="function:other", input_cost_per_1k=0.002, output_cost_per_1k=0.002, quality=5)
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)

    def answer(req: object) -> str:
        return json.dumps({"score": 9, "feedback": "ok"}) if "judge" in str(req) else "Paris."

    orchestrator = Orchestrator(
        providers=[GeminiProvider(api_key="AIza-test", base_url=_nothing_listening()), FunctionProvider(answer)],
        catalog=ModelCatalog([gemini, other, judge]),
        retry=RetryPolicy(max_attempts=1),
        judges=["function:judge"],
    )
    result = await orchestrator.run("The capital of France?", preferred_models=["gemini:gemini-x", "function:other"])
    assert (result.status, result.final_model) == ("completed", "function:other"), result.error
    await orchestrator.aclose()


async def test_a_stream_closed_mid_answer_through_aiohttp_says_so() -> None:
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    with _closing_mid_stream() as url:
        provider = GeminiProvider(api_key="AIza-test", base_url=url)
        with pytest.raises(ProviderConnectionError, match="broke mid-stream, after 12 characters") as raised:
            await provider.generate_stream(request(), on_text)
        await provider.aclose()
    assert pieces == ["Hello", ", world"] and raised.value.retryable


@pytest.mark.skipif(not MIDDLEWARES, reason="aiohttp before 3.12 takes no client middleware")
@pytest.mark.parametrize("cross", [True, False], ids=["to-another-host", "within-the-gateway"])
async def test_the_key_stays_with_the_gateway_through_aiohttp_redirects(
    servers: tuple[_Server, _Server], cross: bool
) -> None:
    """google-genai's aiohttp session took none of the httpx hooks that keep the key at the base URL's server, and
    aiohttp drops only `Authorization` on a redirect to another one: `x-goog-api-key` went on to the host a gateway's
    307 named, with the prompt."""
    gateway, elsewhere = servers
    gateway.location, gateway.redirects = (elsewhere.url if cross else ""), 1
    provider = GeminiProvider(api_key=KEY, base_url=gateway.url)
    assert provider._client._api_client._use_aiohttp()  # (what this file is about)
    try:
        generation = await provider.generate(request())
    finally:
        await provider.aclose()
    assert generation.text == "Hello"
    followed = elsewhere.headers if cross else gateway.headers[1:]
    assert gateway.headers[0]["x-goog-api-key"] == KEY and len(followed) == 1
    if cross:
        assert all(KEY not in value for value in followed[0].values())
    else:
        assert followed[0]["x-goog-api-key"] == KEY


@pytest.mark.skipif(MIDDLEWARES, reason="aiohttp 3.12 and later take a client middleware")
async def test_an_aiohttp_without_middlewares_follows_no_redirect(servers: tuple[_Server, _Server]) -> None:
    gateway, elsewhere = servers
    gateway.location, gateway.redirects = elsewhere.url, 1
    provider = GeminiProvider(api_key=KEY, base_url=gateway.url)
    assert provider._client._api_client._use_aiohttp()
    try:
        with pytest.raises(ProviderHTTPError, match=r"\(307\)"):
            await provider.generate(request())
    finally:
        await provider.aclose()
    assert len(gateway.headers) == 1 and not elsewhere.headers


def _answering_after(seconds: float) -> contextlib.AbstractContextManager[str]:
    """A server that accepts at once but answers (`ANSWER`) only `seconds` after it read the request: a model writing
    a long answer."""
    body = json.dumps(ANSWER).encode()

    def answer(conn: socket.socket) -> None:
        conn.recv(65536)
        time.sleep(seconds)
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)

    return silent_server(answer)


@pytest.mark.skipif(not MIDDLEWARES, reason="aiohttp before 3.12 takes no client middleware")
@pytest.mark.skipif(sys.platform != "linux", reason="a full accept queue drops SYNs on Linux")
@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "generate_stream"])
async def test_a_long_answer_s_call_through_aiohttp_gives_up_connecting_after_the_timeout(streamed: bool) -> None:
    """google-genai gives an aiohttp request one `ClientTimeout(total=…)`: a call allowed more time to write a long
    answer (60,000 tokens: about half an hour) waited as long to connect to a host whose packets are dropped."""

    async def on_text(text: str) -> None:
        return None

    with black_hole() as url:
        provider = GeminiProvider(api_key="AIza-test", base_url=url, timeout=1.0)
        assert provider._client._api_client._use_aiohttp()  # (what this file is about)
        ask = request(max_output_tokens=60_000)
        try:
            with pytest.raises(ProviderTimeout, match="did not answer in time") as raised:
                async with asyncio.timeout(60):  # (without the fix: waiting the half hour given to write the answer)
                    await (provider.generate_stream(ask, on_text) if streamed else provider.generate(ask))
        finally:
            await provider.aclose()
    assert raised.value.retryable


@pytest.mark.skipif(not MIDDLEWARES, reason="aiohttp before 3.12 takes no client middleware")
async def test_a_long_answer_through_aiohttp_is_waited_for_once_connected() -> None:
    """Only connecting is held to `timeout`: an answer that takes longer to write still comes."""
    with _answering_after(1.5) as url:
        provider = GeminiProvider(api_key="AIza-test", base_url=url, timeout=0.5)
        try:
            generation = await provider.generate(request(max_output_tokens=60_000))
        finally:
            await provider.aclose()
    assert generation.text == "Hello"


async def test_a_run_through_aiohttp_answers_where_warnings_are_errors(servers: tuple[_Server, _Server]) -> None:
    """google-genai defines a subclass of aiohttp's session as it opens one, which aiohttp 3.12 and later warn of
    ("Inheritance class AiohttpClientSession from ClientSession is discouraged"): under `python -W error` (or pytest's
    `filterwarnings = ["error"]`) that `DeprecationWarning` came out of `Orchestrator.run` itself, the run failed."""
    gateway, _ = servers
    gemini = ModelProfile(name="gemini:gemini-x", input_cost_per_1k=0.001, output_cost_per_1k=0.004, quality=9)
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)
    provider = GeminiProvider(api_key=KEY, base_url=gateway.url)
    assert provider._client._api_client._use_aiohttp()  # (what this file is about)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with Orchestrator(
            providers=[provider, FunctionProvider(lambda req: json.dumps({"score": 9, "feedback": "ok"}))],
            catalog=ModelCatalog([gemini, judge]),
            judges=[judge.name],
        ) as orchestrator:
            result = await orchestrator.run("The capital of France?", preferred_models=[gemini.name], max_iterations=1)
    assert (result.status, result.final_model) == ("completed", gemini.name), result.error


@contextlib.contextmanager
def _answering_with(status: int, page: str) -> Iterator[str]:
    """A gateway on 127.0.0.1 answering every request `status` with `page` (text/html, not Google's JSON error)."""
    body = page.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(status)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "generate_stream"])
async def test_an_error_page_through_aiohttp_is_read_as_through_httpx(streamed: bool) -> None:
    """The adapter read a gateway's error answer as httpx's (its `reason_phrase`, its `request`): through aiohttp a
    proxy's HTML page was quoted whole, line breaks and all (4.7 KB in the error's message), and a 404 of a base URL
    ending in the API version (`…/v1beta`) said nothing of the URL tried nor of what to set."""

    async def on_text(text: str) -> None:
        return None

    async def failure(base_url: str) -> str:
        provider = GeminiProvider(api_key="AIza-test", base_url=base_url)
        assert provider._client._api_client._use_aiohttp()  # (what this file is about)
        try:
            with pytest.raises(ProviderHTTPError) as raised:
                await (provider.generate_stream(request(), on_text) if streamed else provider.generate(request()))
        finally:
            await provider.aclose()
        return raised.value.message

    with _answering_with(502, PAGE) as url:
        said = await failure(url)
    assert said.startswith("gemini server error (502): Bad Gateway <!DOCTYPE html> <html> <head> <title>502 Bad")
    assert "\n" not in said and said.endswith("…") and len(said) < 400, said
    with _answering_with(404, "404 page not found") as url:
        said = await failure(f"{url}/v1beta")
    assert f"404 page not found (POST {url}/v1beta/v1" in said, said
    assert "the base URL must not end in /v1beta, the SDK adds the API version" in said, said


@pytest.mark.parametrize("variable", ["ALL_PROXY", "HTTPS_PROXY"])
def test_a_socks_proxy_aiohttp_cannot_use_is_refused_saying_what_to_do(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp uses no SOCKS proxy: the calls went straight to Google past `ALL_PROXY=socks5://…`, and were sent to
    `HTTPS_PROXY=socks5://…` as to an HTTP proxy (failing, retried on every Gemini model); the socksio package the
    message asked for (the one httpx needs) did not help. The provider is now refused as it is made, saying what
    does."""
    for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.setenv(variable, "socks5://user:secret@127.0.0.1:1080")
    with pytest.raises(ConfigurationError, match="aiohttp cannot use") as raised:
        GeminiProvider(api_key="AIza-test")
    said = str(raised.value)
    assert f"{variable}='socks5://user:***@127.0.0.1:1080'" in said and "secret" not in said, said
    assert "http_client=httpx2.AsyncClient()" in said, said


@pytest.mark.parametrize("entry", ["127.0.0.1:{port}", "127.0.0.0/8"])
async def test_no_proxy_with_a_port_or_a_network_is_honoured_as_httpx_honours_it(
    entry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The adapter hands aiohttp the environment's proxy unless `NO_PROXY` bypasses it, and matched `NO_PROXY` by host
    name alone: `NO_PROXY=127.0.0.1:8080` (a gateway's port) or `10.0.0.0/8`, which httpx honours, sent the calls to
    `ALL_PROXY`'s proxy all the same."""
    for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    with _answering_with(502, "the proxy answered") as proxy, _answering_with(502, "the gateway answered") as url:
        monkeypatch.setenv("ALL_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", entry.format(port=url.rpartition(":")[2]))
        provider = GeminiProvider(api_key="AIza-test", base_url=url)
        assert provider._client._api_client._use_aiohttp()  # (what this file is about)
        try:
            with pytest.raises(ProviderHTTPError) as raised:
                await provider.generate(request())
        finally:
            await provider.aclose()
    assert "the gateway answered" in raised.value.message, raised.value.message
