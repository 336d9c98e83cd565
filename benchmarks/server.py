"""Server figures against a real uvicorn on 127.0.0.1 (targets from the spec and issue 4).

    .venv/bin/python benchmarks/server.py [--seconds 5] [--connections 50] [--subscribers 1000]
                                          [--orchestrations 100000] [--only-starts]

1. Sessions API at 50 concurrent keep-alive connections: p50/p99 of `GET /api/sessions/{id}` and
   of `POST /api/sessions/` (target p99 < 100 ms), and the create-session throughput against a bare
   FastAPI endpoint (`POST` answering a small JSON document with 201) served by the same uvicorn
   settings in the same run, in interleaved rounds (target >= 60%, issue 12).
2. `GET /health` p99 on one more connection while the sessions load runs (target < 5 ms, issue 13).
3. Analytics p99 with `--orchestrations` (100,000) orchestrations stored for one user (~3 call
   records each), loaded through `benchmarks/analytics.py`'s bulk path on the store's own schema
   (target < 100 ms).
4. 1,000 concurrent WebSocket subscribers of one session, each of which must receive every event
   of an orchestration run while they watch, in `seq` order.
5. 1,000 concurrent simulated orchestrations through the HTTP API (issue 12): each its own thread,
   all `POST /api/orchestration/start` sent at once (one connection each), completion seen on a
   WebSocket subscription of the session; p50/p99 of the start request and of start → completion.
   Then the same orchestrations (same prompts, settings, simulator and SQLite) run by the library
   alone in this process, `Orchestrator.prepare` + `start`: the server's CPU per orchestration
   against the library's is the server's own share. `--only-starts` runs this section alone (no bulk
   load, no other phase): to compare two source trees, run it with `PYTHONPATH` set to each tree's
   `src` (the server process inherits it), alternating.

Where the OS tells (Linux `/proc`), each phase also prints the server process's CPU time per request
(per orchestration in section 5): on a shared machine that is steadier than a rate.

The load generator is a minimal asyncio HTTP/1.1 client (pre-built requests, keep-alive), so the
client costs little of the two cores it shares with the server. Rate limits are raised for the
run (`ORCHESTRATEX_RATE_LIMIT`, `ORCHESTRATEX_USER_RATE_LIMIT`), but each request still pays for its
store counters; so are the per-user stream and the connection limits, for the subscribers. Neither server
writes an access log (`ORCHESTRATEX_ACCESS_LOG=false`; uvicorn's `log_level="warning"` for the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from _args import non_negative_float, non_negative_int, port_number, positive_float, positive_int
from pydantic import BaseModel

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu_s(pid: int) -> float | None:
    """CPU time (user + system) of process `pid` so far, in seconds; None where `/proc` is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_note(pid: int | None, before: float | None, count: int, what: str = "request") -> str:
    after = _cpu_s(pid) if pid is not None else None
    if before is None or after is None or not count:
        return ""
    return f"   server CPU {(after - before) / count * 1000:.3f} ms/{what}"


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# -- processes -------------------------------------------------------------------------------------


class BareBody(BaseModel):
    """The baseline's request body."""

    user_id: str | None = None


def bare_app() -> Any:
    """The baseline: a FastAPI endpoint that validates a small body and answers a small document."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/bare", status_code=201)
    async def bare(body: BareBody) -> dict[str, Any]:
        return {"_id": "0" * 24, "user_id": body.user_id or "bench", "status": "active", "total_cost": 0.0}

    return app


def _start(args: list[str], env: dict[str, str], port: int, probe: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{args} exited:\n{log.read_text()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{args} did not start:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- a minimal HTTP/1.1 load generator ---------------------------------------------------------------


def _request(method: str, path: str, key: str | None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    if body:
        lines.append("Content-Type: application/json")
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def load(port: int, requests: list[bytes], connections: int, seconds: float) -> tuple[list[float], int, int]:
    """Each connection sends its request in a loop for `seconds`; returns latencies (ms), answers, errors."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker(request: bytes) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                status = await _exchange(reader, writer, request)
                latencies.append((time.perf_counter() - start) * 1000)
                if status >= 400:
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker(requests[i % len(requests)]) for i in range(connections)))
    return latencies, len(latencies), errors


# -- the figures -----------------------------------------------------------------------------------


def _line(name: str, latencies: list[float], seconds: float | None = None) -> str:
    rate = f"   {len(latencies) / seconds:8.0f} req/s" if seconds else ""
    return f"  {name:<44} p50 {_quantile(latencies, 0.5):7.2f} ms   p99 {_quantile(latencies, 0.99):7.2f} ms{rate}"


async def _phase(
    name: str, port: int, requests: list[bytes], connections: int, seconds: float, pid: int | None = None
) -> float:
    before = _cpu_s(pid) if pid is not None else None
    lat, _, errors = await load(port, requests, connections, seconds)
    print(_line(name, lat, seconds) + (f"   ({errors} errors)" if errors else "") + _cpu_note(pid, before, len(lat)))
    return len(lat) / seconds


async def sessions_api(
    port: int,
    bare_port: int,
    key: str,
    session_ids: list[str],
    connections: int,
    seconds: float,
    rounds: int,
    pids: tuple[int, int] | None = None,
) -> None:
    print(f"Sessions API, {connections} concurrent keep-alive connections, {seconds:g} s per phase:")
    gets = [_request("GET", f"/api/sessions/{sid}", key) for sid in session_ids]
    ours_pid, bare_pid = pids or (None, None)
    await _phase("GET /api/sessions/{id}", port, gets, connections, seconds, ours_pid)
    posts = [_request("POST", "/api/sessions/", key, b'{"settings": {"cost_limit": 1.0}}')]
    bare = [_request("POST", "/bare", None, b'{"user_id": "bench"}')]
    ratios = []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        ours = await _phase("POST /api/sessions/", port, posts, connections, seconds, ours_pid)
        baseline = await _phase(
            "bare FastAPI POST (baseline, same uvicorn)", bare_port, bare, connections, seconds, bare_pid
        )
        ratios.append(ours / baseline)
    shown = ", ".join(f"{r:.1%}" for r in ratios)
    median = sorted(ratios)[len(ratios) // 2]
    print(
        f"  create-session throughput / bare FastAPI: median {median:.1%} ({shown});"
        f" target >= 60%: {'met' if median >= 0.6 else 'MISSED'}"
    )


async def health_under_load(port: int, key: str, session_ids: list[str], connections: int, seconds: float) -> None:
    """`GET /health` on one more connection, one request at a time, while the sessions load runs."""
    gets = [_request("GET", f"/api/sessions/{sid}", key) for sid in session_ids]
    probe = _request("GET", "/health", None)
    samples: list[float] = []

    async def prober() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        stop_at = time.perf_counter() + seconds
        try:
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                assert await _exchange(reader, writer, probe) == 200
                samples.append((time.perf_counter() - start) * 1000)
                await asyncio.sleep(0.005)
        finally:
            writer.close()

    (lat, _, errors), _ = await asyncio.gather(load(port, gets, connections, seconds), prober())
    print(f"/health under the sessions load ({connections} connections of GET /api/sessions/{{id}}):")
    print(_line("GET /api/sessions/{id} (the load)", lat, seconds) + (f"   ({errors} errors)" if errors else ""))
    verdict = "met" if _quantile(samples, 0.99) < 5 else "MISSED"
    print(_line("GET /health (one more connection)", samples) + f"   target p99 < 5 ms: {verdict}")


async def analytics(port: int, key: str, session_id: str, n: int, stored: int) -> None:
    print(f"Analytics, {n} sequential requests each:")
    for name, path in (
        (f"GET /api/analytics/user/{{id}} ({stored:,} orch.)", "/api/analytics/user/bench-user"),
        ("GET /api/analytics/session/{id}", f"/api/analytics/session/{session_id}"),
    ):
        _, _, errors = await load(port, [_request("GET", path, key)], 1, 0.0001)  # warm-up: one request
        samples = []
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(n):
            start = time.perf_counter()
            status = await _exchange(reader, writer, _request("GET", path, key))
            samples.append((time.perf_counter() - start) * 1000)
            errors += status >= 400
        writer.close()
        print(_line(name, samples) + (f"   ({errors} errors)" if errors else ""))


async def subscribers(port: int, key: str, count: int) -> None:
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        sid = (await client.post("/api/sessions/", json={})).json()["_id"]
        tid = (await client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain DNS"})).json()
        sockets = []
        start = time.perf_counter()
        for i in range(0, count, 100):  # connect in batches of 100
            batch = [
                websockets.connect(f"ws://127.0.0.1:{port}/ws/{sid}?token={key}", open_timeout=60)
                for _ in range(min(100, count - i))
            ]
            sockets.extend(await asyncio.gather(*batch))
        connected = time.perf_counter() - start
        received: list[list[int]] = [[] for _ in sockets]

        async def listen(i: int, ws: Any) -> float:
            async for raw in ws:
                event = json.loads(raw)
                if event["type"] == "heartbeat":
                    continue
                received[i].append(event["seq"])
                if event["type"] in ("orchestration_completed", "orchestration_failed"):
                    return time.perf_counter()
            return float("nan")

        listeners = [asyncio.create_task(listen(i, ws)) for i, ws in enumerate(sockets)]
        started = time.perf_counter()
        body = {"thread_id": tid["_id"], "settings": {"max_iterations": 3, "evaluation_threshold": 10}}
        oid = (await client.post("/api/orchestration/start", json=body)).json()["_id"]
        ends = await asyncio.wait_for(asyncio.gather(*listeners), 300)
        final = (await client.get(f"/api/orchestration/status/{oid}")).json()
        for ws in sockets:
            await ws.close()
    expected = list(range(1, len(received[0]) + 1))
    complete = sum(r == expected for r in received)
    print(f"WebSocket fan-out, {count} subscribers of one session:")
    print(f"  connected in {connected:.2f} s; orchestration {final['status']} in {max(ends) - started:.2f} s")
    print(f"  {len(expected)} events each; {complete}/{count} subscribers received every event in seq order")


PROMPTS = [
    "Write a Python function to calculate fibonacci numbers",
    "Explain how a hash map handles collisions",
    "Summarise the causes of the French revolution",
    "Solve 3x + 5 = 20 and explain each step",
]


async def http_orchestrations(port: int, key: str, n: int, pid: int | None = None) -> None:
    """`n` orchestrations started at once through the API; their start and start-to-completion latencies."""
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600, limits=limits) as client:
        sid = (await client.post("/api/sessions/", json={})).json()["_id"]
        tids = []
        for i in range(n):
            body = {"session_id": sid, "original_prompt": f"{PROMPTS[i % len(PROMPTS)]} (variant {i})"}
            tids.append((await client.post("/api/threads/", json=body)).json()["_id"])
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/{sid}?token={key}", max_size=None, open_timeout=60)
        ended: dict[str, tuple[float, str]] = {}

        async def listen() -> None:
            async for raw in ws:
                event = json.loads(raw)
                if event["type"] in ("orchestration_completed", "orchestration_failed"):
                    ended[event["orchestration_id"]] = (time.perf_counter(), event["type"])
                    if len(ended) >= n:
                        return

        async def start(tid: str) -> tuple[str, float, float, int]:
            sent = time.perf_counter()
            try:
                response = await client.post(
                    "/api/orchestration/start", json={"thread_id": tid, "settings": {"max_iterations": 3}}
                )
            except httpx.TransportError:  # the connection was dropped: counted as refused
                return "", sent, time.perf_counter(), 599
            return response.json().get("_id", ""), sent, time.perf_counter(), response.status_code

        listener = asyncio.create_task(listen())
        cpu_before = _cpu_s(pid) if pid is not None else None
        began = time.perf_counter()
        starts = await asyncio.gather(*(start(t) for t in tids))
        expected = sum(status < 400 for _, _, _, status in starts)
        while len(ended) < expected and not listener.done() and time.perf_counter() - began < 600:
            await asyncio.sleep(0.05)
        listener.cancel()
        wall = time.perf_counter() - began
        cpu = _cpu_note(pid, cpu_before, n, "orchestration")
        await ws.close()
    refused = collections.Counter(status for _, _, _, status in starts if status >= 400)
    start_ms = [(answered - sent) * 1000 for _, sent, answered, _ in starts]
    total_ms = [(ended[oid][0] - sent) * 1000 for oid, sent, _, _ in starts if oid in ended]
    failed = sum(kind == "orchestration_failed" for _, kind in ended.values())
    print(f"{n} concurrent orchestrations through the HTTP API (simulated models), wall {wall:.2f} s:{cpu}")
    print(_line("POST /api/orchestration/start", start_ms) + (f"   (refused: {dict(refused)})" if refused else ""))
    print(_line("start -> completion event", total_ms) + f"   ({len(total_ms)} ended, {failed} failed)")


async def library_orchestrations(n: int, latency_scale: float) -> None:
    """Section 5's orchestrations run by the library alone, in this process: its CPU time per orchestration."""
    from orchestratex import Orchestrator, SQLiteStore
    from orchestratex.records import Thread

    os.environ["ORCHESTRATEX_SIM_LATENCY_SCALE"] = str(latency_scale)
    with tempfile.TemporaryDirectory() as tmp:
        async with SQLiteStore(Path(tmp) / "library.db") as store, Orchestrator(store=store) as orchestrator:
            session = await orchestrator.create_session("bench-user")
            threads = []
            for i in range(n):
                prompt = f"{PROMPTS[i % len(PROMPTS)]} (variant {i})"
                threads.append(
                    await store.create_thread(
                        Thread(session_id=session.id, user_id=session.user_id, original_prompt=prompt)
                    )
                )
            cpu, began = time.process_time(), time.perf_counter()
            docs = [
                await orchestrator.prepare(t.original_prompt, session=session, thread=t, max_iterations=3)
                for t in threads
            ]
            results = await asyncio.gather(*(orchestrator.start(d) for d in docs), return_exceptions=True)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - began
    failed = sum(isinstance(r, BaseException) for r in results)
    print(
        f"  the same {n} orchestrations by the library alone (Orchestrator + SQLiteStore, this process):"
        f" CPU {cpu / n * 1000:.2f} ms/orchestration, wall {wall:.2f} s" + (f" ({failed} failed)" if failed else "")
    )


async def run(args: argparse.Namespace) -> None:
    spec = importlib.util.spec_from_file_location("bench_analytics", HERE / "analytics.py")
    assert spec is not None and spec.loader is not None
    bench_analytics = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_analytics)
    from orchestratex.server import issue_api_key
    from orchestratex.stores import SQLiteStore

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "server.db"
        async with SQLiteStore(db):
            pass  # creates the schema
        user_sessions: list[str] = []
        if not args.only_starts:
            t0 = time.perf_counter()
            user_sessions = bench_analytics.bulk_load(db, args.orchestrations)
            print(f"loaded {args.orchestrations:,} orchestrations of one user in {time.perf_counter() - t0:.1f} s")
        async with SQLiteStore(db) as store:
            key = await issue_api_key(store, "bench-user")
        env = {
            **{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
            "ORCHESTRATEX_RATE_LIMIT": "100000000",
            "ORCHESTRATEX_USER_RATE_LIMIT": "100000000",
            "ORCHESTRATEX_WS_MAX_PER_USER": str(args.subscribers + 10),  # one user watches with every subscriber
            "ORCHESTRATEX_MAX_CONNECTIONS": str(args.subscribers + args.connections + args.http_orchestrations + 100),
            "ORCHESTRATEX_MAX_CONNECTIONS_PER_CLIENT": str(
                args.subscribers + args.connections + args.http_orchestrations + 100
            ),
            "ORCHESTRATEX_ACCESS_LOG": "false",  # the baseline has no access log either
            "ORCHESTRATEX_SIM_LATENCY_SCALE": str(args.latency_scale),
            "ORCHESTRATEX_MAX_CONCURRENT": str(max(args.http_orchestrations, 10)),
            "ORCHESTRATEX_WS_QUEUE_SIZE": str(max(20 * args.http_orchestrations, 1000)),
            "ORCHESTRATEX_HEADER_TIMEOUT_S": "120",  # 1,000 connections opened at once queue for the loop
            "ORCHESTRATEX_BODY_TIMEOUT_S": "120",
        }
        port, bare_port = (args.port, args.port + 1) if args.port else (_free_port(), _free_port())
        server = _start(
            [sys.executable, "-m", "orchestratex.cli", "serve", "--port", str(port), "--store", f"sqlite:///{db}"],
            env,
            port,
            "/openapi.json",
            Path(tmp) / "server.log",
        )
        if args.only_starts:
            try:
                await http_orchestrations(port, key, args.http_orchestrations, server.pid)
            finally:
                _stop(server)
            return
        bare = _start(
            [sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(bare_port)],
            env,
            bare_port,
            "/docs",
            Path(tmp) / "bare.log",
        )
        try:
            await sessions_api(
                port,
                bare_port,
                key,
                user_sessions[: args.connections],
                args.connections,
                args.seconds,
                args.rounds,
                (server.pid, bare.pid),
            )
            await health_under_load(port, key, user_sessions[: args.connections], args.connections, args.seconds)
            await analytics(port, key, user_sessions[0], args.analytics_requests, args.orchestrations)
            if args.subscribers:
                await subscribers(port, key, args.subscribers)
            if args.http_orchestrations:
                await http_orchestrations(port, key, args.http_orchestrations, server.pid)
        finally:
            _stop(server)
            _stop(bare)
        if args.http_orchestrations:
            await library_orchestrations(args.http_orchestrations, args.latency_scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=positive_float, default=5.0, help="duration of each load phase")
    parser.add_argument("--connections", type=positive_int, default=50)
    parser.add_argument("--rounds", type=positive_int, default=3, help="interleaved create-session / baseline rounds")
    parser.add_argument("--subscribers", type=non_negative_int, default=1000, help="section 4 (0: skip)")
    parser.add_argument("--orchestrations", type=positive_int, default=100_000, help="stored for section 3")
    parser.add_argument("--analytics-requests", type=positive_int, default=100)
    parser.add_argument("--http-orchestrations", type=non_negative_int, default=1000, help="section 5 (0: skip)")
    parser.add_argument(
        "--latency-scale", type=non_negative_float, default=0.05, help="simulated model latency factor (0: instant)"
    )
    parser.add_argument("--only-starts", action="store_true", help="section 5 alone (see above)")
    parser.add_argument(
        "--port", type=port_number, help="the server's port, the baseline's the next one (default: free ones)"
    )
    parser.add_argument("--serve-bare", type=positive_int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only_starts and not args.http_orchestrations:
        parser.error("--only-starts runs section 5 alone: give it --http-orchestrations of 1 or more")
    if args.serve_bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.serve_bare, log_level="warning")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
