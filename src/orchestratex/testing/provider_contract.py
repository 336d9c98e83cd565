"""The contract every provider adapter must pass, written once and reused by each adapter's tests.

Subclass `ProviderContract` in your adapter's tests, implement its hooks (how to build your
provider around a `MockServer`, and what your vendor's documented JSON looks like), and pytest
runs every scenario against your adapter:

```python
from orchestratex.testing.provider_contract import MockServer, ProviderContract, Reply


class TestMyAdapterContract(ProviderContract):
    provider_class = MyProvider
    api_key_env = "MY_API_KEY"
    sdk_modules = ("my_sdk",)

    def make_provider(self, server: MockServer) -> MyProvider:
        return MyProvider(api_key="test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport()))

    def success_reply(self, usage: Usage, *, text: str, finish: Literal["stop", "length"] = "stop") -> Reply: ...
    def error_reply(self, kind: ErrorKind, *, headers: Mapping[str, str] | None = None) -> Reply: ...
    def blocked_reply(self) -> Reply: ...
    def check_request(self, sent: RecordedRequest, request: GenerationRequest) -> None: ...
    def check_json_request(self, sent: RecordedRequest) -> None: ...
```

Every scenario counts the HTTP requests the server received: one `generate()` makes exactly one
request, even for a 429, a 500 or a timeout, because the orchestrator is the one retry owner.
The end-to-end scenarios run a real `Orchestrator` with the adapter on the mock server (and a
`FunctionProvider` judge): a 429 or a 5xx followed by a success waits as the `Retry-After` header says,
attempts are bounded, a timeout is retried with backoff, and a model that keeps answering 500,
is blocked by a content filter, or whose context window is too small is replaced by the next one.

Needs pytest, pytest-asyncio (in either mode, `strict` or `auto`), and `httpx2` (or `httpx`) for the ready-made
mock transports.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pytest
import pytest_asyncio

from ..catalog import ModelCatalog, ModelProfile
from ..evaluation import LLMJudgeEvaluator
from ..exceptions import (
    AuthenticationError,
    ContentFiltered,
    ContextLengthExceeded,
    MalformedResponse,
    ProviderConnectionError,
    ProviderError,
    ProviderNotConfigured,
    ProviderServerError,
    ProviderTimeout,
    RateLimited,
    UnknownPriceError,
    UserError,
)
from ..orchestrator import Orchestrator, RetryPolicy, RunResult
from ..providers import FunctionProvider, Generation, GenerationRequest, Message, Provider, load_provider_class
from ..routing import BayesianRouter
from ..usage import Usage

if TYPE_CHECKING:
    import httpx
    import httpx2

__all__ = [
    "ErrorKind",
    "MockServer",
    "ProviderContract",
    "RecordedRequest",
    "Reply",
    "local_server",
    "silent_server",
]

ErrorKind = Literal["rate_limit", "server", "auth", "forbidden", "context_length"]
"""The vendor error answers an adapter must describe in `ProviderContract.error_reply`."""


@dataclass(frozen=True)
class Reply:
    """One canned answer of the `MockServer`."""

    status: int = 200
    """HTTP status code."""
    json: Any = None
    """A JSON body (ignored when `content` is given)."""
    content: bytes | None = None
    """A raw body, to send something that is not JSON."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Response headers (`content-type: application/json` is added for a `json` body)."""
    fail: Literal["timeout", "connect"] | None = None
    """Instead of answering, raise the transport's read timeout or connection error."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the `MockServer` received."""

    method: str
    url: str
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@contextmanager
def local_server(
    answer: bytes | Callable[[Any], bytes | Reply], content_type: str = "application/json"
) -> Iterator[str]:
    """A real HTTP/1.1 server on 127.0.0.1 (a free port) that keeps connections alive, as vendors' servers do: an
    SDK then pools a connection bound to the event loop that opened it, which a `MockServer` (a transport) cannot
    show. Every POST is answered 200 with `answer`: bytes, or a function of the JSON body received returning bytes
    (answered 200) or a `Reply` (its status, headers and body: a 503 with `Retry-After`, say). Yields the base
    URL, `http://127.0.0.1:PORT`. (A provider sends to it only while `orchestratex.providers.ALLOW_MODEL_REQUESTS`
    is True.)"""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the client pools its connection

        def do_POST(self) -> None:
            sent = self.rfile.read(int(self.headers["content-length"]))
            reply = answer if isinstance(answer, bytes) else answer(json.loads(sent))
            if isinstance(reply, bytes):
                reply = Reply(content=reply, headers={"content-type": content_type})
            body = reply.content if reply.content is not None else json.dumps(reply.json).encode()
            headers = {"content-type": "application/json", **{k.lower(): v for k, v in reply.headers.items()}}
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def silent_server(handle: Callable[[socket.socket], None] | None = None) -> Iterator[str]:
    """A TCP server on 127.0.0.1 (a free port) that accepts every connection and answers nothing: a server, or a proxy
    before it, gone silent. With `handle`, each connection is first given to `handle(conn)`, in the server's thread (the
    request unread: read it there), to send part of an answer and perhaps close its side (`conn.shutdown(SHUT_WR)`): a
    stream cut off, an answer sent late. Every connection stays open until the block ends (an `OSError` of `handle`,
    the client gone first, is ignored). Yields the base URL, `http://127.0.0.1:PORT`. (A provider sends to it only
    while `orchestratex.providers.ALLOW_MODEL_REQUESTS` is True.)"""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)  # (closed when the block ends, whatever `handle` does with it)
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle(conn)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # (wakes the `accept` under way: closing alone does not)
        listener.close()
        for conn in list(held):  # (wakes a `handle` waiting for a request that will not come)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.join(timeout=10)  # (a connection accepted as the block ended is in `held` before it is closed)
        for conn in held:
            conn.close()


class MockServer:
    """A scripted HTTP server: answers each request with the next queued `Reply` and records it.

    `queue()` adds replies answered once each, in order; `always()` sets the reply used when the
    queue is empty. A request with nothing to answer fails the test loudly.
    """

    def __init__(self, *replies: Reply) -> None:
        self._queue: deque[Reply] = deque(replies)
        self._default: Reply | None = None
        self.requests: list[RecordedRequest] = []
        """Every request received, in order."""

    def queue(self, *replies: Reply) -> MockServer:
        """Answer the next requests with `replies`, one each, in order."""
        self._queue.extend(replies)
        return self

    def always(self, reply: Reply) -> MockServer:
        """Answer with `reply` whenever the queue is empty."""
        self._default = reply
        return self

    def next_reply(self, request: RecordedRequest) -> Reply:
        """Record `request` and return the reply to send."""
        self.requests.append(request)
        if self._queue:
            return self._queue.popleft()
        if self._default is not None:
            return self._default
        raise AssertionError(f"MockServer: unexpected request #{len(self.requests)}: {request.method} {request.url}")

    def _handle(self, module: Any, request: Any) -> Any:
        recorded = RecordedRequest(
            method=request.method,
            url=str(request.url),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.read(),
        )
        reply = self.next_reply(recorded)
        if reply.fail == "timeout":
            raise module.ReadTimeout("mock read timeout", request=request)
        if reply.fail == "connect":
            raise module.ConnectError("mock connection refused", request=request)
        headers = dict(reply.headers)
        if reply.content is not None:
            return module.Response(reply.status, content=reply.content, headers=headers)
        if reply.json is None:
            return module.Response(reply.status, content=b"", headers=headers)
        return module.Response(reply.status, json=reply.json, headers=headers)

    def httpx2_transport(self) -> httpx2.MockTransport:
        """An `httpx2.MockTransport` served by this server (for SDKs built on httpx2)."""
        import httpx2

        return httpx2.MockTransport(lambda request: self._handle(httpx2, request))

    def httpx_transport(self) -> httpx.MockTransport:
        """An `httpx.MockTransport` served by this server (for SDKs built on httpx)."""
        import httpx

        return httpx.MockTransport(lambda request: self._handle(httpx, request))


def _exact_cost(model: ModelProfile, usage: Usage) -> float:
    """The expected cost, computed independently of `ModelProfile.cost`."""
    assert model.input_cost_per_1k is not None and model.output_cost_per_1k is not None
    cached_price = model.cached_input_cost_per_1k
    if cached_price is None:
        cached_price = model.input_cost_per_1k
    fresh = usage.input_tokens - usage.cached_input_tokens
    total = (
        Decimal(fresh) * Decimal(str(model.input_cost_per_1k))
        + Decimal(usage.cached_input_tokens) * Decimal(str(cached_price))
        + Decimal(usage.output_tokens) * Decimal(str(model.output_cost_per_1k))
    ) / 1000
    return float(total.quantize(Decimal("1e-12")))


_JUDGE = ModelProfile(name="function:judge", cost_per_1k_tokens=0.001, context_window=200_000, quality=1.0)


class _Waits:
    """An injected `RetryPolicy.sleep` that records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


class ProviderContract(ABC):
    """The scenarios every provider adapter passes. Subclass it as `Test<Name>Contract` and fill the hooks."""

    provider_class: ClassVar[type[Provider]]
    """The adapter's `Provider` subclass (it must be registered under the `orchestratex.providers` entry point)."""
    api_key_env: ClassVar[str]
    """The environment variable `from_env` reads the API key from; error messages must name it."""
    sdk_modules: ClassVar[tuple[str, ...]] = ()
    """Top-level modules of the vendor SDK, which `import orchestratex` must not import."""
    reports_token_details: ClassVar[bool] = True
    """Whether the vendor reports cached input and reasoning tokens; False for one that reports input and output
    tokens only: the success scenario then sends a usage without them."""
    blocked_usage: ClassVar[Usage | None] = None
    """The usage `blocked_reply` reports, when it reports one: its `ContentFiltered` must carry it (`usage`), as a
    refused or withheld answer is billed as any answer and the orchestrator counts what it cost."""

    # -- hooks -----------------------------------------------------------------------------------
    @abstractmethod
    def make_provider(self, server: MockServer) -> Provider:
        """The provider under test, sending its HTTP requests to `server` (through an injected client)."""

    @abstractmethod
    def success_reply(self, usage: Usage, *, text: str, finish: Literal["stop", "length"] = "stop") -> Reply:
        """A documented success body answering `text` with exactly `usage` (output tokens include reasoning)."""

    @abstractmethod
    def error_reply(self, kind: ErrorKind, *, headers: Mapping[str, str] | None = None) -> Reply:
        """The vendor's documented error answer for `kind`, with extra response `headers`."""

    @abstractmethod
    def blocked_reply(self) -> Reply:
        """The vendor's answer when its safety system blocks the prompt or the response."""

    @abstractmethod
    def check_request(self, sent: RecordedRequest, request: GenerationRequest) -> None:
        """Assert that `sent` carries `request`: model id, system and user messages, token limit, stop, temperature."""

    @abstractmethod
    def check_json_request(self, sent: RecordedRequest) -> None:
        """Assert that `sent` asks the vendor for a JSON object (the request had `json_output=True`)."""

    def stream_reply(
        self, usage: Usage, *, pieces: list[str], finish: Literal["stop", "length"] = "stop"
    ) -> Reply | None:
        """The vendor's documented streamed answer (server-sent events, say, as `content=` bytes) handing over
        `pieces` in that order, then `finish` and exactly `usage`; None (the default) when the adapter does not stream.
        An adapter that overrides `Provider.generate_stream` gives it, or the streaming scenarios are skipped."""
        return None

    def model_profile(self) -> ModelProfile:
        """A priced model served by the adapter; override to use one of your catalog's models."""
        name = self.provider_class.name
        return ModelProfile(
            name=f"{name}:contract-model",
            input_cost_per_1k=0.0025,
            cached_input_cost_per_1k=0.00125,
            output_cost_per_1k=0.01,
            context_window=32_000,
            max_output_tokens=4096,
        )

    def make_request(self, **overrides: Any) -> GenerationRequest:
        """The request most scenarios send."""
        data: dict[str, Any] = {
            "model": self.model_profile(),
            "messages": [
                Message(role="system", content="You are terse."),
                Message(role="user", content="Name a prime number."),
            ],
            "max_output_tokens": 321,
            "temperature": 0.25,
            "stop": ["END"],
        }
        data.update(overrides)
        return GenerationRequest(**data)

    def malformed_replies(self) -> list[Reply]:
        """Answers the adapter must report as `MalformedResponse` (override to add vendor-specific ones)."""
        return [
            Reply(200, content=b'{"truncated": ', headers={"content-type": "application/json"}),
            Reply(200, json={}),
            Reply(200, content=b'{"id": "caf\xe9"}', headers={"content-type": "application/json"}),  # not UTF-8
        ]

    # -- fixtures --------------------------------------------------------------------------------
    @pytest.fixture
    def server(self) -> MockServer:
        return MockServer()

    @pytest_asyncio.fixture
    async def provider(self, server: MockServer) -> AsyncIterator[Provider]:
        provider = self.make_provider(server)
        yield provider
        await provider.aclose()

    async def _fail(self, provider: Provider, server: MockServer, reply: Reply) -> ProviderError:
        server.queue(reply)
        request = self.make_request()
        with pytest.raises(ProviderError) as info:
            await provider.generate(request)
        assert len(server.requests) == 1, "one generate() must make exactly one HTTP request: no SDK retries"
        return info.value

    # -- success ---------------------------------------------------------------------------------
    @pytest.mark.asyncio  # (each async test: the suite runs in pytest-asyncio's strict mode too, its default)
    async def test_success_text_usage_and_exact_cost(self, provider: Provider, server: MockServer) -> None:
        details = {"cached_input_tokens": 200, "reasoning_tokens": 45} if self.reports_token_details else {}
        usage = Usage(input_tokens=1200, output_tokens=345, **details)
        server.queue(self.success_reply(usage, text="Seven."))
        request = self.make_request()
        generation = await provider.generate(request)
        assert isinstance(generation, Generation), f"generate() returned {type(generation).__name__}, not a Generation"
        assert generation.text == "Seven."
        assert generation.usage == usage, f"usage {generation.usage!r} is not the reply's {usage!r}" + (
            "; a vendor without cached or reasoning tokens sets reports_token_details = False" if details else ""
        )
        assert generation.cost == _exact_cost(request.model, usage)
        assert generation.cost == request.model.cost(usage) > 0
        assert generation.finish_reason == "stop"
        assert generation.model_name == request.model.name
        assert generation.latency_ms >= 0
        assert len(server.requests) == 1
        self.check_request(server.requests[0], request)

    @pytest.mark.asyncio
    async def test_usage_without_cache_or_reasoning(self, provider: Provider, server: MockServer) -> None:
        usage = Usage(input_tokens=10, output_tokens=3)
        server.queue(self.success_reply(usage, text="2"))
        generation = await provider.generate(self.make_request())
        assert generation.usage == usage
        assert generation.cost == _exact_cost(self.model_profile(), usage)

    @pytest.mark.asyncio
    async def test_length_finish_reason(self, provider: Provider, server: MockServer) -> None:
        usage = Usage(input_tokens=20, output_tokens=321)
        server.queue(self.success_reply(usage, text="Two, three, five, sev", finish="length"))
        generation = await provider.generate(self.make_request())
        assert generation.finish_reason == "length"
        assert generation.usage == usage

    @pytest.mark.asyncio
    async def test_minimal_request(self, provider: Provider, server: MockServer) -> None:
        usage = Usage(input_tokens=5, output_tokens=1)
        server.queue(self.success_reply(usage, text="ok"))
        request = self.make_request(
            messages=[Message(role="user", content="Say ok.")], temperature=None, stop=None, max_output_tokens=16
        )
        generation = await provider.generate(request)
        assert generation.text == "ok"
        self.check_request(server.requests[0], request)

    # -- judges ----------------------------------------------------------------------------------
    @pytest.mark.asyncio
    async def test_judge_json_output(self, provider: Provider, server: MockServer) -> None:
        verdict = {"score": 8.5, "feedback": "Correct and concise."}
        server.queue(self.success_reply(Usage(input_tokens=50, output_tokens=12), text=json.dumps(verdict)))
        generation = await provider.generate(self.make_request(json_output=True, purpose="judge"))
        assert json.loads(generation.text) == verdict
        self.check_json_request(server.requests[0])

    @pytest.mark.asyncio
    async def test_judge_json_in_a_code_fence_is_unwrapped(self, provider: Provider, server: MockServer) -> None:
        text = 'Here is my verdict:\n```json\n{"score": 6, "feedback": "Too long."}\n```'
        server.queue(self.success_reply(Usage(input_tokens=50, output_tokens=20), text=text))
        generation = await provider.generate(self.make_request(json_output=True, purpose="judge"))
        assert json.loads(generation.text) == {"score": 6, "feedback": "Too long."}

    @pytest.mark.asyncio
    async def test_judge_answer_without_json_is_passed_through(self, provider: Provider, server: MockServer) -> None:
        # The evaluator's tolerant parser still reads a score from prose; the adapter must not hide it.
        server.queue(self.success_reply(Usage(input_tokens=50, output_tokens=8), text="Score: 8/10. Accurate."))
        generation = await provider.generate(self.make_request(json_output=True, purpose="judge"))
        assert generation.text == "Score: 8/10. Accurate."

    # -- errors: one HTTP request each, mapped to the exception tree ------------------------------
    @pytest.mark.parametrize(
        ("headers", "expected"),
        [({"retry-after-ms": "1500"}, 1.5), ({"retry-after": "7"}, 7.0), ({}, None)],
        ids=["retry-after-ms", "retry-after", "no-header"],
    )
    @pytest.mark.asyncio
    async def test_rate_limited_carries_retry_after(
        self, provider: Provider, server: MockServer, headers: dict[str, str], expected: float | None
    ) -> None:
        error = await self._fail(provider, server, self.error_reply("rate_limit", headers=headers))
        assert isinstance(error, RateLimited)
        assert error.retryable
        assert error.status_code == 429
        assert error.retry_after == expected

    @pytest.mark.asyncio
    async def test_server_error_is_retryable_and_not_retried_by_the_sdk(
        self, provider: Provider, server: MockServer
    ) -> None:
        error = await self._fail(provider, server, self.error_reply("server"))
        assert isinstance(error, ProviderServerError)
        assert error.retryable
        assert error.status_code >= 500

    @pytest.mark.parametrize(
        ("headers", "expected"),
        [({"retry-after-ms": "2500"}, 2.5), ({"retry-after": "3"}, 3.0), ({}, None)],
        ids=["retry-after-ms", "retry-after", "no-header"],
    )
    @pytest.mark.asyncio
    async def test_server_error_carries_retry_after(
        self, provider: Provider, server: MockServer, headers: dict[str, str], expected: float | None
    ) -> None:
        error = await self._fail(provider, server, self.error_reply("server", headers=headers))
        assert isinstance(error, ProviderServerError)
        assert error.retry_after == expected

    @pytest.mark.asyncio
    async def test_timeout(self, provider: Provider, server: MockServer) -> None:
        error = await self._fail(provider, server, Reply(fail="timeout"))
        assert isinstance(error, ProviderTimeout)
        assert error.retryable

    @pytest.mark.asyncio
    async def test_connection_error(self, provider: Provider, server: MockServer) -> None:
        error = await self._fail(provider, server, Reply(fail="connect"))
        assert isinstance(error, ProviderConnectionError)
        assert error.retryable

    @pytest.mark.asyncio
    async def test_malformed_body(self, provider: Provider, server: MockServer) -> None:
        for reply in self.malformed_replies():
            server.requests.clear()
            error = await self._fail(provider, server, reply)
            assert isinstance(error, MalformedResponse), f"{reply!r} gave {error!r}"
            assert not error.retryable

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("reply", "expected"),
        [
            (
                Reply(
                    502,
                    content=b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                    headers={"content-type": "text/html"},
                ),
                ProviderServerError,
            ),
            (Reply(503, content=b"", headers={"retry-after": "4"}), ProviderServerError),
            (
                Reply(429, content=b"Too Many Requests", headers={"content-type": "text/plain", "retry-after": "3"}),
                RateLimited,
            ),
        ],
        ids=["502-html", "503-empty", "429-text"],
    )
    async def test_error_body_that_is_not_json(
        self, provider: Provider, server: MockServer, reply: Reply, expected: type[ProviderError]
    ) -> None:
        # A gateway, proxy or load balancer before the vendor answers an error status with HTML, plain text or
        # nothing: the status alone decides the exception, and its `Retry-After` is still honoured.
        error = await self._fail(provider, server, reply)
        assert isinstance(error, expected), f"{reply!r} gave {error!r}, not a {expected.__name__}"
        assert error.retryable
        assert error.status_code == reply.status  # type: ignore[attr-defined]
        if "retry-after" in reply.headers:
            assert error.retry_after == float(reply.headers["retry-after"])  # type: ignore[attr-defined]

    @pytest.mark.parametrize("kind", ["auth", "forbidden"])
    @pytest.mark.asyncio
    async def test_authentication_error_names_the_variable(
        self, provider: Provider, server: MockServer, kind: ErrorKind
    ) -> None:
        error = await self._fail(provider, server, self.error_reply(kind))
        assert isinstance(error, AuthenticationError)
        assert error.status_code == (401 if kind == "auth" else 403)
        assert not error.retryable
        assert self.api_key_env in str(error)

    @pytest.mark.asyncio
    async def test_a_key_quoted_in_an_error_is_hidden(self, provider: Provider, server: MockServer) -> None:
        # Some gateways answer a refused key with "Incorrect API key provided: sk-…": the error's message and body
        # go to logs, stored runs and the server's API users, so the key the request carried is shown `***`.
        server.queue(self.success_reply(Usage(input_tokens=5, output_tokens=1), text="ok"))
        await provider.generate(self.make_request())
        sent = server.requests[0]
        keys = {
            value.removeprefix("Bearer ").strip()
            for name, value in sent.headers.items()
            if name in ("authorization", "x-api-key", "api-key", "x-goog-api-key")
        }
        keys = {key for key in keys if len(key) >= 12}  # (a shorter one, `ollama` say, is no secret: left as it is)
        if not keys:
            pytest.skip("make_provider's API key is under 12 characters (or not in an API-key header): no secret")
        key = keys.pop()
        server.requests.clear()
        text = f"Incorrect API key provided: {key}. You can find your API key at https://example.com/keys."
        error = await self._fail(
            provider, server, Reply(401, content=text.encode(), headers={"content-type": "text/plain"})
        )
        assert isinstance(error, AuthenticationError), f"a 401 gave {error!r}"
        assert key not in str(error), (
            "the error's message shows the API key the vendor quoted: pass http_error sent_key="
        )
        assert key not in repr(getattr(error, "body", None)), "the error's body shows the API key: pass sent_key="

    @pytest.mark.asyncio
    async def test_context_length_exceeded(self, provider: Provider, server: MockServer) -> None:
        error = await self._fail(provider, server, self.error_reply("context_length"))
        assert isinstance(error, ContextLengthExceeded)
        assert not error.retryable

    @pytest.mark.asyncio
    async def test_content_filtered(self, provider: Provider, server: MockServer) -> None:
        error = await self._fail(provider, server, self.blocked_reply())
        assert isinstance(error, ContentFiltered)
        assert not error.retryable
        if self.blocked_usage is not None:
            assert error.usage == self.blocked_usage

    # -- streaming -------------------------------------------------------------------------------
    def _stream_reply_or_skip(self, usage: Usage, pieces: list[str]) -> Reply:
        reply = self.stream_reply(usage, pieces=pieces)
        if reply is None:
            pytest.skip("the contract gives no stream_reply (the adapter does not stream)")
        return reply

    @pytest.mark.asyncio
    async def test_stream_hands_over_the_pieces_in_order_with_exact_usage(
        self, provider: Provider, server: MockServer
    ) -> None:
        pieces = ["Seven", " is", " prime", "."]
        details = {"cached_input_tokens": 200, "reasoning_tokens": 45} if self.reports_token_details else {}
        usage = Usage(input_tokens=1200, output_tokens=345, **details)
        server.queue(self._stream_reply_or_skip(usage, pieces))
        request = self.make_request(stop=None)  # (stop sequences or JSON may be applied to the whole text first)
        handed: list[str] = []

        async def on_text(text: str) -> None:
            handed.append(text)

        generation = await provider.generate_stream(request, on_text)
        assert len(server.requests) == 1, "one generate_stream() must make exactly one HTTP request"
        self.check_request(server.requests[0], request)
        assert "".join(handed) == "".join(pieces), f"on_text was handed {handed!r}, not {pieces!r} in that order"
        assert len(handed) > 1, "on_text was handed the whole answer at once: hand each piece over as it comes"
        assert generation.text == "".join(pieces), "the returned text must be the pieces handed over, joined"
        assert generation.usage == usage, f"the stream's usage {generation.usage!r} is not the stream's final {usage!r}"
        assert generation.cost == _exact_cost(request.model, usage)
        assert generation.finish_reason == "stop"
        assert generation.model_name == request.model.name

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("kind", "expected"),
        [("rate_limit", RateLimited), ("server", ProviderServerError), ("timeout", ProviderTimeout)],
    )
    async def test_stream_errors_are_mapped_as_unstreamed_ones(
        self, provider: Provider, server: MockServer, kind: str, expected: type[ProviderError]
    ) -> None:
        self._stream_reply_or_skip(Usage(input_tokens=1, output_tokens=1), ["a", "b"])
        if kind == "timeout":
            server.queue(Reply(fail="timeout"))
        else:
            server.queue(self.error_reply(kind, headers={"retry-after": "7"}))  # type: ignore[arg-type]

        async def on_text(text: str) -> None:
            raise AssertionError(f"an error answer handed over text: {text!r}")

        with pytest.raises(ProviderError) as info:
            await provider.generate_stream(self.make_request(), on_text)
        assert len(server.requests) == 1, "one generate_stream() must make exactly one HTTP request: no SDK retries"
        assert isinstance(info.value, expected), f"a streamed call's {kind} gave {info.value!r}"
        if kind != "timeout":
            assert info.value.retry_after == 7.0  # type: ignore[attr-defined]

    @pytest.mark.asyncio
    async def test_errors_name_model_and_provider(self, provider: Provider, server: MockServer) -> None:
        # (a timeout or a refused connection too: the adapter raises those itself, with `model=` and `provider=`)
        for reply in (self.error_reply("server"), Reply(fail="timeout"), Reply(fail="connect")):
            server.requests.clear()
            error = await self._fail(provider, server, reply)
            assert error.model == self.model_profile().name, f"{error!r} names the model {error.model!r}"
            assert error.provider == self.provider_class.name, f"{error!r} names the provider {error.provider!r}"

    # -- configuration and lifecycle -------------------------------------------------------------
    @pytest.mark.asyncio
    async def test_unpriced_model_is_refused_before_any_request(self, provider: Provider, server: MockServer) -> None:
        unpriced = ModelProfile(name=f"{self.provider_class.name}:unpriced")
        with pytest.raises(UnknownPriceError):
            await provider.generate(self.make_request(model=unpriced))
        assert server.requests == []

    @pytest.mark.asyncio
    async def test_injected_client_survives_aclose(self, provider: Provider, server: MockServer) -> None:
        await provider.aclose()
        server.queue(self.success_reply(Usage(input_tokens=3, output_tokens=1), text="still here"))
        generation = await provider.generate(self.make_request())
        assert generation.text == "still here"

    def test_missing_key_names_the_variable(self) -> None:
        assert not self.provider_class.is_configured({})
        with pytest.raises(ProviderNotConfigured) as info:
            self.provider_class.from_env({})
        assert self.api_key_env in str(info.value)
        assert info.value.provider == self.provider_class.name

    @pytest.mark.asyncio
    async def test_from_env_respects_allow_model_requests(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import orchestratex.providers

        env = {self.api_key_env: "sk-test-not-a-real-key"}
        assert self.provider_class.is_configured(env)
        provider = self.provider_class.from_env(env)
        monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", False)
        try:
            with pytest.raises(UserError, match="ALLOW_MODEL_REQUESTS"):
                await provider.generate(self.make_request())
        finally:
            await provider.aclose()

    def test_registered_through_the_entry_point(self) -> None:
        assert load_provider_class(self.provider_class.name) is self.provider_class

    def test_core_import_does_not_import_the_sdk(self) -> None:
        if not self.sdk_modules:
            pytest.skip("the adapter names no SDK modules")
        code = (
            "import sys, orchestratex, orchestratex.providers, orchestratex.catalog\n"
            f"print([m for m in {list(self.sdk_modules)!r} if m in sys.modules])"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=dict(os.environ)
        )
        assert out.stdout.strip() == "[]"

    # -- end to end: a real Orchestrator drives the adapter (retries, fallback) --------------------
    def fallback_profile(self) -> ModelProfile:
        """The model the orchestrator falls back to: same provider, larger context window, lower prior quality."""
        main = self.model_profile()
        return main.model_copy(
            update={
                "name": f"{main.name}-fallback",
                "version": f"{main.version}-fallback",
                "context_window": main.context_window * 2,
                "quality": 5.0,
                "aliases": (),
            }
        )

    async def _orchestrate(self, provider: Provider, waits: _Waits) -> RunResult:
        main = self.model_profile().model_copy(update={"quality": 9.9})
        catalog = ModelCatalog([main, self.fallback_profile(), _JUDGE])
        judge = FunctionProvider(lambda request: '{"score": 9, "feedback": "Correct."}')
        orchestrator = Orchestrator(
            providers={provider.name: provider, "function": judge},
            catalog=catalog,
            evaluator=LLMJudgeEvaluator(judges=[_JUDGE.name]),
            # No exploration: these scenarios are about the adapter's retries and fallbacks, so the
            # first call must go to `main` every time (Thompson sampling picks the fallback ~1 in 2,000).
            router=BayesianRouter(explore=False),
            retry=RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=60, sleep=waits),
        )
        async with orchestrator:
            return await orchestrator.run(
                "Name a prime number.", max_iterations=1, preferred_models=[main.name, self.fallback_profile().name]
            )

    def _models_called(self, server: MockServer) -> list[str]:
        versions = {self.model_profile().version: "main", self.fallback_profile().version: "fallback"}
        called = []
        for sent in server.requests:
            found = [version for version in versions if version.encode() in sent.url.encode() + sent.body]
            called.append(versions[max(found, key=len)] if found else "?")
        return called

    @pytest.mark.asyncio
    async def test_orchestrated_rate_limit_then_success_waits_as_the_header_says(
        self, provider: Provider, server: MockServer
    ) -> None:
        waits = _Waits()
        usage = Usage(input_tokens=40, output_tokens=4)
        server.queue(
            self.error_reply("rate_limit", headers={"retry-after-ms": "1500"}), self.success_reply(usage, text="7")
        )
        result = await self._orchestrate(provider, waits)
        assert result.status == "completed", result.orchestration.error
        assert result.final_response == "7"
        assert result.final_model == self.model_profile().name
        assert waits.seconds == [1.5]
        assert self._models_called(server) == ["main", "main"]
        assert result.orchestration.iterations[0].cost == self.model_profile().cost(usage)

    @pytest.mark.asyncio
    async def test_orchestrated_rate_limit_attempts_are_bounded(self, provider: Provider, server: MockServer) -> None:
        waits = _Waits()
        limited = self.error_reply("rate_limit", headers={"retry-after": "2"})
        server.queue(limited, limited, limited, self.success_reply(Usage(input_tokens=40, output_tokens=4), text="11"))
        result = await self._orchestrate(provider, waits)
        assert self._models_called(server) == ["main", "main", "main", "fallback"]
        assert waits.seconds == [2.0, 2.0]
        assert result.final_model == self.fallback_profile().name
        assert result.final_response == "11"

    @pytest.mark.asyncio
    async def test_orchestrated_server_error_then_success_waits_as_the_header_says(
        self, provider: Provider, server: MockServer
    ) -> None:
        waits = _Waits()
        usage = Usage(input_tokens=40, output_tokens=4)
        server.queue(self.error_reply("server", headers={"retry-after": "4"}), self.success_reply(usage, text="3"))
        result = await self._orchestrate(provider, waits)
        assert result.final_response == "3"
        assert waits.seconds == [4.0]
        assert self._models_called(server) == ["main", "main"]

    @pytest.mark.asyncio
    async def test_orchestrated_timeout_is_retried_with_backoff(self, provider: Provider, server: MockServer) -> None:
        waits = _Waits()
        server.queue(Reply(fail="timeout"), self.success_reply(Usage(input_tokens=40, output_tokens=4), text="5"))
        result = await self._orchestrate(provider, waits)
        assert self._models_called(server) == ["main", "main"]
        assert len(waits.seconds) == 1 and 0 <= waits.seconds[0] <= 0.01  # backoff: initial_wait with jitter
        assert result.final_model == self.model_profile().name

    @pytest.mark.asyncio
    async def test_orchestrated_repeated_server_error_falls_back(self, provider: Provider, server: MockServer) -> None:
        failing = self.error_reply("server")
        server.queue(failing, failing, failing, self.success_reply(Usage(input_tokens=40, output_tokens=4), text="13"))
        result = await self._orchestrate(provider, _Waits())
        assert self._models_called(server) == ["main", "main", "main", "fallback"]
        assert result.final_model == self.fallback_profile().name
        errors = result.orchestration.iterations[0].errors
        assert errors and "ProviderServerError" in errors[0]

    @pytest.mark.asyncio
    async def test_orchestrated_body_not_utf8_falls_back(self, provider: Provider, server: MockServer) -> None:
        not_utf8 = Reply(200, content=b'{"id": "caf\xe9"}', headers={"content-type": "application/json"})
        server.queue(not_utf8, self.success_reply(Usage(input_tokens=40, output_tokens=4), text="23"))
        result = await self._orchestrate(provider, _Waits())
        assert self._models_called(server) == ["main", "fallback"]
        assert result.final_response == "23"
        errors = result.orchestration.iterations[0].errors
        assert errors and "MalformedResponse" in errors[0]

    @pytest.mark.asyncio
    async def test_orchestrated_content_filter_is_recorded_then_falls_back(
        self, provider: Provider, server: MockServer
    ) -> None:
        server.queue(self.blocked_reply(), self.success_reply(Usage(input_tokens=40, output_tokens=4), text="17"))
        result = await self._orchestrate(provider, _Waits())
        assert self._models_called(server) == ["main", "fallback"]
        assert result.final_response == "17"
        errors = result.orchestration.iterations[0].errors
        assert errors and "ContentFiltered" in errors[0]

    @pytest.mark.asyncio
    async def test_orchestrated_context_too_long_falls_back_to_a_larger_window(
        self, provider: Provider, server: MockServer
    ) -> None:
        server.queue(
            self.error_reply("context_length"), self.success_reply(Usage(input_tokens=40, output_tokens=4), text="19")
        )
        result = await self._orchestrate(provider, _Waits())
        assert self._models_called(server) == ["main", "fallback"]
        assert result.final_model == self.fallback_profile().name
