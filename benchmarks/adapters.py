"""Adapter overhead: `provider.generate()` vs calling the vendor SDK directly, both over the same mock transport.

For each adapter (OpenAI, Anthropic, Gemini) the script times N calls of `provider.generate(request)`
and N direct SDK calls with the same arguments, the same in-memory `httpx2.MockTransport` and the
same documented response body, interleaved in rounds so both sides see the same machine load.
It prints microseconds per call for both and their ratio (target: <= 1.2).

    .venv/bin/python benchmarks/adapters.py [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import httpx2
import openai
from _args import positive_int
from google import genai
from google.genai import types

from orchestratex.catalog import ModelCatalog
from orchestratex.providers import GenerationRequest, Message, Provider
from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OpenAIProvider

CATALOG = ModelCatalog.default()
SYSTEM = "You are a concise assistant."
PROMPT = "Explain in two sentences why the sky is blue."
ANSWER = "Sunlight scatters off air molecules. Blue light scatters most, so the sky looks blue."

OPENAI_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4.1-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": ANSWER, "refusal": None}, "finish_reason": "stop"}
    ],
    "usage": {
        "prompt_tokens": 31,
        "completion_tokens": 19,
        "total_tokens": 50,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}
ANTHROPIC_BODY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-5-5",
    "content": [{"type": "text", "text": ANSWER}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 31, "output_tokens": 19, "cache_read_input_tokens": 0},
}
GEMINI_BODY = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": ANSWER}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 31, "candidatesTokenCount": 19, "totalTokenCount": 50},
    "modelVersion": "gemini-4-hydrogen",
}


def transport(body: dict[str, Any]) -> httpx2.MockTransport:
    content = json.dumps(body).encode()
    headers = {"content-type": "application/json"}

    def handle(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=content, headers=headers)

    return httpx2.MockTransport(handle)


def request(model: str) -> GenerationRequest:
    return GenerationRequest(
        model=CATALOG.get(model),
        messages=[Message(role="system", content=SYSTEM), Message(role="user", content=PROMPT)],
        max_output_tokens=200,
        temperature=0.5,
    )


Call = Callable[[], Awaitable[object]]


def openai_pair() -> tuple[str, Provider, Call, Call]:
    req = request("openai:gpt-4.1-mini")
    provider = OpenAIProvider(api_key="sk-bench", http_client=httpx2.AsyncClient(transport=transport(OPENAI_BODY)))
    client = openai.AsyncOpenAI(
        api_key="sk-bench", max_retries=0, http_client=httpx2.AsyncClient(transport=transport(OPENAI_BODY))
    )

    async def direct() -> object:
        completion = await client.chat.completions.create(
            model="gpt-4.1-mini",
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
            max_completion_tokens=200,
            temperature=0.5,
        )
        return completion.choices[0].message.content

    return "openai", provider, lambda: provider.generate(req), direct


def anthropic_pair() -> tuple[str, Provider, Call, Call]:
    req = request("anthropic:claude-haiku-5-5")
    http = httpx2.AsyncClient(transport=transport(ANTHROPIC_BODY))
    provider = AnthropicProvider(api_key="sk-ant-bench", http_client=http)
    client = anthropic.AsyncAnthropic(
        api_key="sk-ant-bench",
        max_retries=0,
        timeout=120.0,
        http_client=httpx2.AsyncClient(transport=transport(ANTHROPIC_BODY)),
    )

    async def direct() -> object:
        message = await client.messages.create(
            model="claude-haiku-5-5",
            max_tokens=200,
            system=SYSTEM,
            messages=[{"role": "user", "content": PROMPT}],
        )
        return message.content[0]

    return "anthropic", provider, lambda: provider.generate(req), direct


def gemini_pair() -> tuple[str, Provider, Call, Call]:
    req = request("gemini:gemini-4-hydrogen")
    provider = GeminiProvider(api_key="AIza-bench", http_client=httpx2.AsyncClient(transport=transport(GEMINI_BODY)))
    options = types.HttpOptions(
        base_url="https://generativelanguage.googleapis.com/",
        retry_options=types.HttpRetryOptions(attempts=1),
        httpx_async_client=httpx2.AsyncClient(transport=transport(GEMINI_BODY)),
    )
    client = genai.Client(api_key="AIza-bench", vertexai=False, http_options=options)

    async def direct() -> object:
        response = await client.aio.models.generate_content(
            model="gemini-4-hydrogen",
            contents=[types.Content(role="user", parts=[types.Part(text=PROMPT)])],
            config=types.GenerateContentConfig(system_instruction=SYSTEM, max_output_tokens=200, temperature=0.5),
        )
        return response.candidates

    return "gemini", provider, lambda: provider.generate(req), direct


async def per_call_us(call: Call, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - start) / n * 1e6


async def main(calls: int, rounds: int) -> None:
    print(f"{'adapter':<10} {'SDK direct µs/call':>19} {'adapter µs/call':>16} {'ratio':>7}   (target <= 1.2)")
    for name, provider, adapter_call, direct_call in (openai_pair(), anthropic_pair(), gemini_pair()):
        for call in (adapter_call, direct_call):  # warm-up: imports, caches, connection pools
            await per_call_us(call, max(calls // 20, 10))
        direct, adapter = [], []
        per_round = max(calls // rounds, 1)
        for _ in range(rounds):
            direct.append(await per_call_us(direct_call, per_round))
            adapter.append(await per_call_us(adapter_call, per_round))
        d, a = statistics.median(direct), statistics.median(adapter)
        print(f"{name:<10} {d:>19.1f} {a:>16.1f} {a / d:>7.3f}")
        await provider.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=positive_int, default=2000, help="calls per side and adapter (default 2000)")
    parser.add_argument("--rounds", type=positive_int, default=5, help="interleaved rounds; the median round counts")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))
