"""Streaming latency: from a provider's first token to the `AnswerDelta` reaching a `run_stream` consumer.

A streaming stand-in (`FunctionProvider` with an async generator) stamps the moment it yields its
first token, after a simulated time to first token; the consumer stamps the moment the first
`AnswerDelta` arrives. Both ends sit in one process, so the difference is exactly what the
orchestrator adds (target: the first chunk no later than 50 ms after the provider's first token).
Also runs the OpenAI adapter over a mock SSE transport, where the gap covers the SDK's parsing.

    .venv/bin/python benchmarks/stream_latency.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator

import httpx2
from _args import positive_int

from orchestratex import (
    AnswerDelta,
    BayesianRouter,
    FunctionProvider,
    GenerationRequest,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)
from orchestratex.stores import MemoryStore
from orchestratex_openai import OpenAIProvider

MODELS = [
    ModelProfile(name="function:writer", input_cost_per_1k=0.001, output_cost_per_1k=0.002, quality=9),
    ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.002, quality=5),
]


async def function_gaps(runs: int) -> list[float]:
    first_token: list[float] = []

    async def answer(request: GenerationRequest) -> AsyncIterator[str]:
        await asyncio.sleep(0.002)  # time to first token
        first_token.append(time.perf_counter())
        yield "Hello"
        for _ in range(20):
            await asyncio.sleep(0.0005)
            yield " word"

    def fn(request: GenerationRequest) -> str | AsyncIterator[str]:
        return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else answer(request)

    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=ModelCatalog(MODELS),
        router=BayesianRouter(explore=False),
        store=MemoryStore(),
    )
    gaps = []
    for _ in range(runs):
        async with orch.run_stream("Say hello", preferred_models=["function:writer"]) as stream:
            got = None
            async for item in stream:
                if got is None and isinstance(item, AnswerDelta):
                    got = time.perf_counter()
        assert got is not None
        gaps.append((got - first_token[-1]) * 1000)
    return gaps


async def openai_gaps(runs: int) -> list[float]:
    sent: list[float] = []

    def event(delta: dict[str, object], finish: str | None = None, usage: bool = False) -> bytes:
        body = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4.1",
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12} if usage else None,
        }
        return f"data: {json.dumps(body)}\n\n".encode()

    async def body() -> AsyncIterator[bytes]:
        await asyncio.sleep(0.002)
        sent.append(time.perf_counter())
        yield event({"role": "assistant", "content": "Hello"})
        await asyncio.sleep(0.001)
        yield event({"content": " there"})
        yield event({}, "stop")
        yield event({}, usage=True)
        yield b"data: [DONE]\n\n"

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    model = ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9)
    judge = FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "ok"}))
    openai_provider = OpenAIProvider(
        api_key="sk-bench", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    orch = Orchestrator(
        providers=[openai_provider, judge],
        catalog=ModelCatalog([model, MODELS[1]]),
        router=BayesianRouter(explore=False),
        store=MemoryStore(),
    )
    gaps = []
    for _ in range(runs):
        async with orch.run_stream("Say hello", preferred_models=["openai:gpt-4.1"]) as stream:
            got = None
            async for item in stream:
                if got is None and isinstance(item, AnswerDelta):
                    got = time.perf_counter()
        assert got is not None
        gaps.append((got - sent[-1]) * 1000)
    return gaps


def report(name: str, gaps: list[float]) -> None:
    gaps.sort()

    def pct(q: float) -> float:
        return gaps[min(int(q * len(gaps)), len(gaps) - 1)]

    print(
        f"{name:<30} runs={len(gaps)}  p50={pct(0.5):.3f} ms  p99={pct(0.99):.3f} ms  "
        f"max={gaps[-1]:.3f} ms  mean={statistics.fmean(gaps):.3f} ms"
    )


async def main(runs: int) -> None:
    report("FunctionProvider (stand-in)", await function_gaps(runs))
    report("OpenAI adapter over mock SSE", await openai_gaps(runs))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive_int, default=200)
    asyncio.run(main(parser.parse_args().runs))
