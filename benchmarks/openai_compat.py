"""The OpenAI-compatible endpoint's figures (issue 11): its overhead, and how soon a stream's answer begins.

    .venv/bin/python benchmarks/openai_compat.py [--calls 300] [--rounds 5] [--store memory|sqlite]

1. Overhead of `POST /v1/chat/completions` over an in-process `Orchestrator.run` of the same
   prompt, same process, same orchestrator (an instant FunctionProvider: one answer, one judge,
   score 9 ≥ threshold), same store. Each round times `--calls` runs of each, interleaved; the
   figure is the difference of the p50s per round (the median over rounds, and the spread). The
   endpoint is called two ways: as raw ASGI (the server's own cost: auth, parsing, limits, the
   session, the response) and through httpx's ASGITransport (adds the client's cost, shown by a
   bare Starlette endpoint answering a completion-sized JSON through the same client).
   Target: <= 1 ms p50.
2. First token: a streaming stand-in provider yields its answer in 40 pieces, 5 ms apart;
   `stream: true` with `orchestratex/fast` (one attempt, streamed live) through a real uvicorn on
   127.0.0.1 in this process (one clock); the figure is the time from the provider yielding its
   first piece to the client reading the first content chunk. Target: <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from _args import port_number, positive_int

from orchestratex import FunctionProvider, GenerationRequest, MemoryStore, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.stores import SQLiteStore, Store

MESSAGES = [{"role": "user", "content": "Write a Python function to reverse a string"}]
CATALOG = ModelCatalog(
    ModelProfile(name=f"function:{n}", input_cost_per_1k=0.001, output_cost_per_1k=0.002, quality=q)
    for n, q in (("writer", 8.0), ("judge", 7.0))
)
SETTINGS = ServerSettings(rate_limit=10**9, access_log=False)


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _instant(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return json.dumps({"score": 9, "feedback": "clear and correct"})
    return "def reverse(s):\n    return s[::-1]\n"


def _store(kind: str, tmp: Path) -> Store:
    return SQLiteStore(str(tmp / "bench.db")) if kind == "sqlite" else MemoryStore()


class RawASGI:
    """Calls the app as the server would, without a client: one request, the whole answer."""

    def __init__(self, app: Any, key: str, body: bytes) -> None:
        self.app = app
        self.body = body
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"authorization", f"Bearer {key}".encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("bench", 80),
        }

    async def __call__(self) -> int:
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(dict(self.scope), receive, send)
        return status


async def _time(
    ways: dict[str, Callable[[], Awaitable[None]]], calls: int, rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """The p50 and p99 (ms) of each way in each round; the ways take turns within a round."""
    for fn in ways.values():  # warm-up
        for _ in range(20):
            await fn()
    p50s: dict[str, list[float]] = {name: [] for name in ways}
    p99s: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, fn in ways.items():
            samples = []
            for _ in range(calls):
                start = time.perf_counter()
                await fn()
                samples.append((time.perf_counter() - start) * 1000)
            p50s[name].append(_quantile(samples, 0.5))
            p99s[name].append(_quantile(samples, 0.99))
    return p50s, p99s


async def overhead(calls: int, rounds: int, kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(kind, Path(tmp))
        orchestrator = Orchestrator(providers=[FunctionProvider(_instant)], catalog=CATALOG, store=store)
        app = create_app(orchestrator=orchestrator, settings=SETTINGS)
        async with app.router.lifespan_context(app):
            key = await issue_api_key(store, "bench")
            session = await orchestrator.create_session("bench")
            body = json.dumps({"model": "orchestratex/auto", "messages": MESSAGES}).encode()
            raw = RawASGI(app, key, body)
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            bare = httpx.AsyncClient(transport=httpx.ASGITransport(app=_bare_app()), base_url="http://bench")
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client, bare:

                async def direct() -> None:
                    result = await orchestrator.run(MESSAGES, session=session)
                    assert result.status == "completed"

                async def asgi() -> None:
                    assert await raw() == 200

                async def via_httpx() -> None:
                    r = await client.post("/v1/chat/completions", content=body, headers=headers)
                    assert r.status_code == 200, r.text

                async def bare_httpx() -> None:
                    r = await bare.post("/v1/chat/completions", content=body, headers=headers)
                    assert r.status_code == 200

                ways: dict[str, Callable[[], Awaitable[None]]] = {
                    "Orchestrator.run (in-process)": direct,
                    "endpoint, raw ASGI": asgi,
                    "endpoint, httpx": via_httpx,
                    "bare Starlette, httpx (client)": bare_httpx,
                }
                p50s, p99s = await _time(ways, calls, rounds)
        if kind == "sqlite":
            await store.close()
    print(f"1. Overhead over Orchestrator.run, {kind} store, {rounds} rounds x {calls} calls each (ms):")
    base = p50s["Orchestrator.run (in-process)"]
    for name in ways:
        print(
            f"  {name:<32} p50 {statistics.median(p50s[name]):6.3f}"
            f" (rounds {min(p50s[name]):.3f}-{max(p50s[name]):.3f})   p99 {statistics.median(p99s[name]):6.3f}"
        )
    client_cost = p50s["bare Starlette, httpx (client)"]
    over_asgi = [e - b for e, b in zip(p50s["endpoint, raw ASGI"], base, strict=True)]
    over_httpx = [e - b for e, b in zip(p50s["endpoint, httpx"], base, strict=True)]
    less_client = [d - c for d, c in zip(over_httpx, client_cost, strict=True)]
    for name, diffs in (("raw ASGI", over_asgi), ("httpx", over_httpx), ("httpx less the client", less_client)):
        print(
            f"  overhead, {name:<22} p50 {statistics.median(diffs):+.3f} ms"
            f" (rounds {min(diffs):+.3f} to {max(diffs):+.3f})   target <= 1 ms"
        )


def _bare_app() -> Any:
    """A Starlette endpoint answering a completion-sized JSON document: what the HTTP client alone costs."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    answer = {"id": "chatcmpl-0", "object": "chat.completion", "choices": [{"message": {"content": "x" * 200}}]}

    async def endpoint(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse(answer)

    return Starlette(routes=[Route("/v1/chat/completions", endpoint, methods=["POST"])])


# -- first token ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def first_token(runs: int, kind: str, port: int | None) -> None:
    import uvicorn

    first: list[float] = []

    async def streaming(request: GenerationRequest) -> AsyncIterator[str]:
        if request.purpose == "judge":
            yield json.dumps({"score": 9, "feedback": "clear and correct"})
            return
        first.append(time.perf_counter())
        for i in range(40):
            if i:
                await asyncio.sleep(0.005)
            yield f"token{i} "

    with tempfile.TemporaryDirectory() as tmp:
        store = _store(kind, Path(tmp))
        orchestrator = Orchestrator(providers=[FunctionProvider(streaming)], catalog=CATALOG, store=store)
        app = create_app(orchestrator=orchestrator, settings=SETTINGS)
        port = port or _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        key = await issue_api_key(store, "bench")
        body = {"model": "orchestratex/fast", "messages": MESSAGES, "stream": True}
        gaps, totals = [], []
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for i in range(runs + 3):
                first.clear()
                start = time.perf_counter()
                seen = None
                text = []
                async with client.stream(
                    "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
                ) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("data: {") and seen is None and '"content":"t' in line:
                            seen = time.perf_counter()
                        if line.startswith("data: {") and '"content"' in line:
                            text.append(json.loads(line[6:])["choices"][0]["delta"].get("content", ""))
                assert seen is not None and first, "no content chunk arrived"
                assert "".join(text).startswith("token0 ")
                if i >= 3:  # warm-up
                    gaps.append((seen - first[0]) * 1000)
                    totals.append((time.perf_counter() - start) * 1000)
        server.should_exit = True
        await serving
        if kind == "sqlite":
            await store.close()
    print(f"2. First content chunk after the provider's first token, {runs} streams, {kind} store (ms):")
    print(
        f"  p50 {statistics.median(gaps):6.2f}   p90 {_quantile(gaps, 0.9):6.2f}   max {max(gaps):6.2f}"
        f"   (whole stream: p50 {statistics.median(totals):.1f} ms for 40 pieces 5 ms apart)   target <= 50 ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=positive_int, default=300)
    parser.add_argument("--rounds", type=positive_int, default=5)
    parser.add_argument("--streams", type=positive_int, default=30)
    parser.add_argument("--store", choices=["memory", "sqlite"], default="memory")
    parser.add_argument("--port", type=port_number, help="section 2's server port (default: a free one)")
    args = parser.parse_args()
    asyncio.run(overhead(args.calls, args.rounds, args.store))
    asyncio.run(first_token(args.streams, args.store, args.port))


if __name__ == "__main__":
    main()
