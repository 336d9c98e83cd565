"""A burst of OpenAI SDK calls from one address against `orchestratex serve`: do they all complete?

`--calls` concurrent `chat.completions.create` calls (every other one streamed) from one `AsyncOpenAI`
client, the SDK's own settings (a pool of up to 1,000 connections, 2 retries), against a real
`orchestratex serve` process on 127.0.0.1 with its default connection limits (256 connections per
client address) and a simulated catalog. Rate and concurrency limits are raised out of the way. Two
waves, 6 s apart: past httpx's 5 s idle expiry, so the second wave starts on a pool whose idle
connections the client has given up while the server may still hold them.

A call past the per-address limit gets a 503 with `Retry-After: 1`, which the SDK retries; the
figure is how many calls complete and what the others raised. Before the fix of the refusals (a 503
closed with the client's request unread was reset by the kernel, and the client saw a connection
error), 44 of 300 failed per wave with `--max-retries 0`, and the retries could not help.

    .venv/bin/python benchmarks/sdk_burst.py [--calls 300] [--max-retries 2] [--latency-scale 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

from _args import non_negative_float, non_negative_int, port_number, positive_int
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from server import _free_port, _start, _stop  # the process helpers of server.py


async def call(client: AsyncOpenAI, i: int) -> str:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": f"Explain item {i} in a few sentences"}]
    try:
        if i % 2:
            stream = await client.chat.completions.create(model="orchestratex/auto", messages=messages, stream=True)
            text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        else:
            reply = await client.chat.completions.create(model="orchestratex/auto", messages=messages)
            text = reply.choices[0].message.content or ""
    except Exception as exc:  # the figure: what a failed call raised
        return f"{type(exc).__name__}: {str(exc)[:80]}"
    return "completed" if text else "empty answer"


async def main(args: argparse.Namespace) -> None:
    from orchestratex.server import issue_api_key
    from orchestratex.stores import SQLiteStore

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "server.db"
        async with SQLiteStore(db) as store:
            key = await issue_api_key(store, "bench-user")
        env = {
            **{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
            "ORCHESTRATEX_RATE_LIMIT": "100000000",
            "ORCHESTRATEX_USER_RATE_LIMIT": "100000000",
            "ORCHESTRATEX_MAX_CONCURRENT": str(2 * args.calls),
            "ORCHESTRATEX_ACCESS_LOG": "false",
            "ORCHESTRATEX_SIM_LATENCY_SCALE": str(args.latency_scale),
        }
        port = args.port or _free_port()
        log = Path(tmp) / "server.log"
        server = _start(
            [sys.executable, "-m", "orchestratex.cli", "serve", "--port", str(port), "--store", f"sqlite:///{db}"],
            env,
            port,
            "/health",
            log,
        )
        try:
            client = AsyncOpenAI(
                base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=args.max_retries, timeout=300
            )
            print(f"{args.calls} concurrent OpenAI SDK calls from one address (max_retries={args.max_retries}):")
            for wave in (1, 2):
                began = time.perf_counter()
                outcomes = await asyncio.gather(*(call(client, i) for i in range(args.calls)))
                counted = collections.Counter(outcomes).most_common()
                print(
                    f"  wave {wave}: {time.perf_counter() - began:5.1f} s  " + ", ".join(f"{n} {o}" for o, n in counted)
                )
                if wave == 1:
                    await asyncio.sleep(6)  # past the client's 5 s idle expiry
            await client.close()
        finally:
            _stop(server)
        errors = [line for line in log.read_text().splitlines() if "Traceback" in line or "ERROR" in line]
        print(f"  server log: {len(errors)} error lines")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=positive_int, default=300)
    parser.add_argument("--port", type=port_number, help="the server's port (default: a free one)")
    parser.add_argument("--max-retries", type=non_negative_int, default=2, help="the SDK's retries (its default: 2)")
    parser.add_argument(
        "--latency-scale", type=non_negative_float, default=0.05, help="simulated model latency factor (0: instant)"
    )
    asyncio.run(main(parser.parse_args()))
