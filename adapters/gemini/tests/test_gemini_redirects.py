"""A Gemini base URL (a gateway, `GOOGLE_GEMINI_BASE_URL`) that redirects: google-genai's HTTP client follows
redirects, and httpx drops only an `Authorization` header on one to another server, so the Gemini key, sent as
`x-goog-api-key`, went on to whatever host the gateway's 307 named. The key now stays with the base URL's server."""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import pytest

import orchestratex.providers
from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ProviderConnectionError
from orchestratex.providers import GenerationRequest
from orchestratex_gemini import GeminiProvider

from .test_gemini_provider import request

ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
}
KEY = "AIza-secret-of-the-operator"


def aiohttp_without_middlewares() -> bool:
    """Whether an aiohttp that takes no client middleware (before 3.12) is installed."""
    try:
        import aiohttp  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    return "middlewares" not in inspect.signature(aiohttp.ClientSession._request).parameters


pytestmark = [
    pytest.mark.skipif(  # (google-genai sends through it, which then follows no redirect: test_gemini_aiohttp.py)
        aiohttp_without_middlewares(), reason="aiohttp before 3.12 is installed"
    ),
]


class _Server:
    """A local HTTP server that answers its first `redirects` POSTs with a redirect to `location` (+ the path), the
    others with `ANSWER`."""

    def __init__(self) -> None:
        self.location = ""
        self.redirects = 0
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                if server.redirects > 0:
                    server.redirects -= 1
                    self.send_response(307)
                    self.send_header("Location", server.location + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(ANSWER).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[_Server, _Server]]:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # local servers, not the vendor
    gateway, elsewhere = _Server(), _Server()
    yield gateway, elsewhere
    for server in (gateway, elsewhere):
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.mark.parametrize("timeout", [120.0, None])
async def test_the_key_is_not_sent_on_to_the_host_a_gateway_redirects_to(
    servers: tuple[_Server, _Server], timeout: float | None
) -> None:
    gateway, elsewhere = servers
    gateway.location, gateway.redirects = elsewhere.url, 1  # (another port: another origin)
    provider = GeminiProvider(api_key=KEY, base_url=gateway.url, timeout=timeout)
    try:
        await provider.generate(request())
    finally:
        await provider.aclose()
    assert gateway.headers[0]["x-goog-api-key"] == KEY
    assert elsewhere.headers, "the redirect was not followed"
    assert all(KEY not in value for headers in elsewhere.headers for value in headers.values())


async def test_a_redirect_within_the_gateway_keeps_the_key(servers: tuple[_Server, _Server]) -> None:
    gateway, _ = servers
    gateway.redirects = 1  # (to a path of its own)
    provider = GeminiProvider(api_key=KEY, base_url=gateway.url)
    try:
        generation = await provider.generate(request())
    finally:
        await provider.aclose()
    assert generation.text == "Hello"
    assert len(gateway.headers) == 2 and all(h["x-goog-api-key"] == KEY for h in gateway.headers)


async def test_a_gateway_redirecting_to_itself_falls_back_to_another_model(servers: tuple[_Server, _Server]) -> None:
    """google-genai lets the HTTP library's redirect loop through raw (`httpx2.TooManyRedirects`, aiohttp's), which
    was not mapped: it came out of `Orchestrator.run` itself, the run failed, no other model tried. It is now a
    connection error, not retried (a loop is not passing), and the run goes on with the next model."""
    gateway, _ = servers
    gateway.location, gateway.redirects = gateway.url, 1000  # (to its own path, again and again)
    gemini = ModelProfile(name="gemini:gemini-x", input_cost_per_1k=0.001, output_cost_per_1k=0.004, quality=9)
    other = ModelProfile(name="function:other", input_cost_per_1k=0.002, output_cost_per_1k=0.002, quality=5)
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)

    def answer(req: GenerationRequest) -> str:
        return json.dumps({"score": 9, "feedback": "ok"}) if req.purpose == "judge" else "Paris."

    async with Orchestrator(
        providers=[GeminiProvider(api_key=KEY, base_url=gateway.url), FunctionProvider(answer)],
        catalog=ModelCatalog([gemini, other, judge]),
        judges=[judge.name],
    ) as orchestrator:
        result = await orchestrator.run("The capital of France?", preferred_models=[gemini.name, other.name])
    assert (result.status, result.final_model) == ("completed", other.name), result.error
    [error] = result.orchestration.iterations[0].errors
    assert f"gemini at {gateway.url} redirected the request again and again" in error, error
    assert 10 <= len(gateway.headers) <= 21  # (one call, as far as it follows redirects: the loop was not retried)


async def test_a_body_whose_compression_is_broken_is_a_connection_error() -> None:
    def broken(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-encoding": "gzip"}, content=b"not gzip at all")

    provider = GeminiProvider(api_key=KEY, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(broken)))
    with pytest.raises(ProviderConnectionError, match="decompressing"):
        await provider.generate(request())
