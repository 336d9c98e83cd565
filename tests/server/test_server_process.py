"""Real uvicorn processes on 127.0.0.1: HTTP and WebSocket clients, a SIGKILL mid-run, two processes on one store."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from orchestratex.usage import add_costs

from .server_process import ServerProcess, create_key, free_port

pytestmark = pytest.mark.slow

TERMINAL = ("orchestration_completed", "orchestration_failed")


async def collect(url: str, until_orchestration: str | None = None, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Events from a WebSocket until the terminal event (of `until_orchestration` when given)."""
    events = []
    async with websockets.connect(url, open_timeout=10) as ws:
        async with asyncio.timeout(timeout):
            async for raw in ws:
                event = json.loads(raw)
                if event["type"] == "heartbeat":
                    continue
                events.append(event)
                if event["type"] in TERMINAL and until_orchestration in (None, event["orchestration_id"]):
                    return events
    raise AssertionError("the stream closed before the orchestration ended")


def wait_status(client: httpx.Client, oid: str, done: Any, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/api/orchestration/status/{oid}")
        if r.status_code == 200 and done(r.json()):
            return r.json()  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"orchestration {oid} never reached the awaited state")


def test_the_spec_walkthrough_against_a_real_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    assert key.startswith("ox_")
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.01"}) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            session = client.post(
                "/api/sessions/",
                json={"user_id": "alice", "max_iterations": 3, "settings": {"preferred_models": ["gpt4", "claude"]}},
            )
            assert session.status_code == 201, session.text
            sid = session.json()["_id"]
            thread = client.post(
                "/api/threads/",
                json={"session_id": sid, "original_prompt": "Write a Python function to calculate fibonacci numbers"},
            )
            assert thread.status_code == 201
            start = client.post("/api/orchestration/start", json={"thread_id": thread.json()["_id"]})
            assert start.status_code == 202 and start.json()["status"] == "pending"
            oid = start.json()["_id"]
            events = asyncio.run(collect(f"{server.ws_url}/ws/{sid}?token={key}"))
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            assert events[-1]["orchestration_id"] == oid
            status = client.get(f"/api/orchestration/status/{oid}").json()
            assert status["status"] == "completed"
            analytics = client.get(f"/api/analytics/session/{sid}").json()
            assert analytics["orchestrations"] == 1 and analytics["total_cost"] == status["total_cost"]
            assert client.get(f"/api/models/{status['final_model']}").json()["stats"]["requests"] >= 1

        async def refused(path: str) -> tuple[int, bytes]:
            try:
                async with websockets.connect(f"{server.ws_url}{path}"):
                    return 101, b""
            except InvalidStatus as exc:
                return exc.response.status_code, bytes(exc.response.body or b"")

        assert asyncio.run(refused(f"/ws/{sid}?token=ox_wrong"))[0] == 401
        # a WebSocket URL with none there (a trailing slash): 404 saying where the stream is, not a bare 403
        status, body = asyncio.run(refused(f"/ws/{sid}/?token={key}"))
        assert status == 404 and "the event stream of a session is /ws/{session_id}" in body.decode()
        plain = httpx.get(f"{server.base_url}/ws/{sid}?token={key}")  # (curl, or a proxy that drops `Upgrade`)
        assert plain.status_code == 426 and "this URL is a WebSocket" in plain.json()["detail"]
        status, body = asyncio.run(refused(f"/ws/{sid}?since=1_0&token={key}"))  # not read as 10
        assert status == 422 and "since: must be a whole number" in body.decode()
        assert httpx.get(f"{server.base_url}/api/sessions/{sid}").status_code == 401
        big = httpx.post(
            f"{server.base_url}/api/sessions/",
            content=b"x" * (5 * 1024 * 1024 + 1),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        assert big.status_code == 413
        # the key passed as `?token=` (and the refused one) never reaches uvicorn's logs
        log = server.log()
        assert "token=***" in log
        assert key not in log and "ox_wrong" not in log


def test_sigkill_mid_orchestration_then_restart_completes_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.5", "ORCHESTRATEX_LEASE_TTL_S": "2"}
    headers = {"Authorization": f"Bearer {key}"}
    first = ServerProcess(url, tmp_path, env=env, name="first").start()
    try:
        with httpx.Client(base_url=first.base_url, headers=headers, timeout=30) as client:
            sid = client.post("/api/sessions/", json={}).json()["_id"]
            tid = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP slow start"})
            body = {"thread_id": tid.json()["_id"], "settings": {"max_iterations": 3, "evaluation_threshold": 10}}
            oid = client.post("/api/orchestration/start", json=body).json()["_id"]
            wait_status(client, oid, lambda d: d["status"] == "running" and len(d["iterations"]) >= 1, timeout=60)
    finally:
        first.kill()
    with ServerProcess(url, tmp_path, env=env, name="second") as second:
        with httpx.Client(base_url=second.base_url, headers=headers, timeout=30) as client:
            final = wait_status(client, oid, lambda d: d["status"] in ("completed", "failed", "cancelled"))
            assert final["status"] == "completed", final
            events = asyncio.run(collect(f"{second.ws_url}/ws/{sid}?token={key}", oid))
            session = client.get(f"/api/sessions/{sid}").json()
        assert f"resuming 1 orchestration(s) left by a stopped process: {oid}" in second.log()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events].count("orchestration_started") == 1
    assert sum(e["type"] in TERMINAL for e in events) == 1
    assert session["total_cost"] == final["total_cost"]  # counted once
    parts = [it["cost"] for it in final["iterations"]]
    parts += [it["evaluation"]["cost"] for it in final["iterations"] if it["evaluation"]]
    assert final["total_cost"] == add_costs(*parts)


def _wait_for_a_fresh_window(window_s: int = 60, margin_s: float = 5.0) -> None:
    if window_s - time.time() % window_s < margin_s:
        time.sleep(window_s - time.time() % window_s + 0.1)


def test_two_processes_on_one_store_share_the_limits_and_the_streams(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    headers = {"Authorization": f"Bearer {key}"}
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.2", "ORCHESTRATEX_RATE_LIMIT": "20", "ORCHESTRATEX_MAX_CONCURRENT": "3"}
    with ServerProcess(url, tmp_path, env=env, name="a") as a, ServerProcess(url, tmp_path, env=env, name="b") as b:
        ca = httpx.Client(base_url=a.base_url, headers=headers, timeout=30)
        cb = httpx.Client(base_url=b.base_url, headers=headers, timeout=30)
        with ca, cb:
            _wait_for_a_fresh_window()
            sid = ca.post("/api/sessions/", json={}).json()["_id"]
            codes = [(ca if i % 2 else cb).get(f"/api/sessions/{sid}").status_code for i in range(25)]
            assert codes.count(200) == 20 and codes.count(429) == 5, codes

            work = ca.post("/api/sessions/", json={}).json()["_id"]
            tid = cb.post("/api/threads/", json={"session_id": work, "original_prompt": "Explain quicksort"}).json()
            body = {"thread_id": tid["_id"], "settings": {"max_iterations": 3, "evaluation_threshold": 10}}
            starts = [(ca if i % 2 else cb).post("/api/orchestration/start", json=body) for i in range(4)]
            assert [r.status_code for r in starts] == [202, 202, 202, 429]
            ran_on_a = starts[1].json()["_id"]  # watched from b: its events reach b through the store
            events = asyncio.run(collect(f"{b.ws_url}/ws/{work}?token={key}", ran_on_a, timeout=120))
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_requests_as_clients_send_them_against_a_real_server(tmp_path: Path) -> None:
    """No redirect followed (curl's default, httpx's too): a spec path without its trailing slash, HEAD, and a
    boolean where a number goes."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            created = client.post("/api/sessions", json={"max_iterations": 2})
            assert created.status_code == 201, created.text
            assert created.json()["max_iterations"] == 2
            listed = client.get("/api/models")
            assert listed.status_code == 200 and listed.json()
            head = client.head("/api/models")
            assert (head.status_code, head.content) == (200, b"")
            assert head.headers["content-length"] == listed.headers["content-length"]
            assert client.head(f"/api/sessions/{created.json()['_id']}").status_code == 200
            refused = client.post("/api/sessions/", json={"max_iterations": True, "settings": {"cost_limit": "0.5"}})
            assert refused.status_code == 422
            assert refused.json()["detail"] == (
                "max_iterations: must be a whole number, not the boolean true; "
                'settings.cost_limit: must be a number, not the string "0.5": write the number without quotes'
            )
            v1 = client.post(
                "/v1/chat/completions",
                json={
                    "model": "orchestratex/fast",
                    "messages": [{"role": "user", "content": "hi"}],
                    "max_tokens": True,
                },
            )
            assert v1.status_code == 400 and v1.json()["error"]["param"] == "max_tokens"


def test_the_documented_reconnecting_client_survives_a_server_restart(tmp_path: Path) -> None:
    """docs/server.md's `follow()` as written: it died on the refused connection while the server restarted (it
    caught only `ConnectionClosed`), although it said it reconnects after a network error. It returns once the
    session has ended: the stream closes with 1000 (it stayed open with heartbeats forever)."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "server.md").read_text(encoding="utf-8")
    found = re.search(r"A client that never misses an event.*?```python\n(.*?)```", page, re.DOTALL)
    assert found is not None
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0", "ORCHESTRATEX_HEARTBEAT_S": "1"}
    server = ServerProcess(url, tmp_path, env=env, port=free_port())  # (its client's URL is known before it starts)
    namespace: dict[str, Any] = {}
    exec(found.group(1).replace("127.0.0.1:8000", f"127.0.0.1:{server.port}"), namespace)
    headers = {"Authorization": f"Bearer {key}"}
    printed = io.StringIO()

    def start_one(sid: str) -> str:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            tid = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP"}).json()["_id"]
            oid: str = client.post("/api/orchestration/start", json={"thread_id": tid}).json()["_id"]
            wait_status(client, oid, lambda doc: doc["status"] == "completed")
            return oid

    async def watch(sid: str) -> list[str]:
        follower = asyncio.create_task(namespace["follow"](sid, key))
        try:
            await asyncio.to_thread(start_one, sid)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.kill, signal.SIGTERM)  # closed 1012, then refused while down
            await asyncio.sleep(1.5)
            assert not follower.done(), follower.exception()
            await asyncio.to_thread(server.start)
            await asyncio.to_thread(start_one, sid)
            await asyncio.sleep(3.0)  # (its 1 s pause, the reconnection, the replay)
            assert not follower.done(), follower.exception()
            async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
                ended = await client.patch(f"/api/sessions/{sid}/status", json={"status": "completed"})
            assert ended.status_code == 200, ended.text
            await asyncio.wait_for(follower, 10)  # closed with 1000 (it stayed open forever), and it returns
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        return printed.getvalue().split("\n")

    with server:
        sid = httpx.post(f"{server.base_url}/api/sessions/", json={"user_id": "alice"}, headers=headers).json()["_id"]
        with contextlib.redirect_stdout(printed):
            lines = asyncio.run(watch(sid))
        stored = httpx.get(f"{server.base_url}/api/analytics/session/{sid}", headers=headers).json()
    seqs = [int(line.split()[0]) for line in lines if line]
    assert stored["orchestrations"] == 2
    assert (
        seqs == list(range(1, len(seqs) + 1))
        and [line.split()[1] for line in lines if line].count("orchestration_completed") == 2
    )


def _documented_follow(port: int) -> Any:
    page = (Path(__file__).resolve().parents[2] / "docs" / "server.md").read_text(encoding="utf-8")
    found = re.search(r"A client that never misses an event.*?```python\n(.*?)```", page, re.DOTALL)
    assert found is not None
    namespace: dict[str, Any] = {}
    exec(found.group(1).replace("127.0.0.1:8000", f"127.0.0.1:{port}"), namespace)
    return namespace["follow"]


def test_the_documented_client_takes_an_event_over_a_mebibyte(tmp_path: Path) -> None:
    """An `orchestration_started` event carries its prompt: with a 1.5 MB prompt, docs/server.md's `follow()` (with
    websockets' 1 MiB default `max_size`) failed the connection with 1009 on it, reconnected, met it again, forever."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    headers = {"Authorization": f"Bearer {key}"}
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0", "ORCHESTRATEX_HEARTBEAT_S": "1"}
    with (
        ServerProcess(url, tmp_path, env=env) as server,
        httpx.Client(base_url=server.base_url, headers=headers) as api,
    ):
        sid = api.post("/api/sessions/", json={}).json()["_id"]
        prompt = "Summarise this: " + "lorem ipsum dolor " * 90_000
        tid = api.post("/api/threads/", json={"session_id": sid, "original_prompt": prompt}).json()["_id"]
        oid = api.post("/api/orchestration/start", json={"thread_id": tid, "settings": {"max_iterations": 1}}).json()
        wait_status(api, oid["_id"], lambda doc: doc["status"] == "completed")
        assert api.patch(f"/api/sessions/{sid}/status", json={"status": "completed"}).status_code == 200
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            asyncio.run(asyncio.wait_for(_documented_follow(server.port)(sid, key), 30))
    lines = printed.getvalue().splitlines()
    assert lines[0] == "1 orchestration_started"
    assert lines[-1].endswith(" orchestration_completed")


def test_a_graceful_stop_says_what_it_waits_for_and_what_it_hands_back(tmp_path: Path) -> None:
    """SIGTERM with orchestrations in flight: the server wrote uvicorn's "Waiting for application shutdown." and
    nothing else for up to `shutdown_grace_s` (minutes, set so), then the runs' own `suspended` lines. It now says
    how long it waits for how many runs, and which runs it hands back to the next server on the store."""
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "20", "ORCHESTRATEX_SHUTDOWN_GRACE_S": "1.5"}  # calls of many seconds
    with ServerProcess(url, tmp_path, env=env) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            sid = client.post("/api/sessions/", json={}).json()["_id"]
            oids = []
            for prompt in ("Explain recursion", "Explain photosynthesis"):
                tid = client.post("/api/threads/", json={"session_id": sid, "original_prompt": prompt}).json()["_id"]
                oids.append(client.post("/api/orchestration/start", json={"thread_id": tid}).json()["_id"])
            for oid in oids:
                wait_status(client, oid, lambda doc: doc["status"] == "running")
        server.kill(signal.SIGTERM)
        log = server.log()
    waiting = log.index("stopping: waiting up to 1.5 s (shutdown_grace_s) for 2 running orchestration(s) to finish")
    handing = log.index("stopping: handing back 2 orchestration(s) still running")
    assert waiting < handing < log.index("Application shutdown complete.")
    assert all(oid in log[handing:].splitlines()[0] for oid in oids)


def test_refusals_and_statistics_as_clients_see_them_against_a_real_server(tmp_path: Path) -> None:
    """A start past the concurrency limit says when to retry and what is left of the session's rate; a page asked
    twice is refused; a domain is a short name; another user's domain of their own is not in the models' statistics."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    alice, bob = create_key(url, "alice"), create_key(url, "bob")
    env = {"ORCHESTRATEX_MAX_CONCURRENT": "1", "ORCHESTRATEX_SIM_LATENCY_SCALE": "0.3"}
    with (
        ServerProcess(url, tmp_path, env=env) as server,
        httpx.Client(base_url=server.base_url, headers={"X-API-Key": alice}, timeout=30) as a,
        httpx.Client(base_url=server.base_url, headers={"X-API-Key": bob}, timeout=30) as b,
    ):
        sid = b.post("/api/sessions/", json={"max_iterations": 1}).json()["_id"]
        body = {"session_id": sid, "original_prompt": "Summarise the deal", "domain": "bob-acquisition-of-acme"}
        tid = b.post("/api/threads/", json=body).json()["_id"]
        oid = b.post("/api/orchestration/start", json={"thread_id": tid}).json()["_id"]
        too_long = b.post("/api/threads/", json={**body, "domain": "d" * 101})
        assert too_long.status_code == 422 and "at most 100 characters, not 101" in too_long.json()["detail"]

        sid = a.post("/api/sessions/", json={"max_iterations": 3}).json()["_id"]
        tid = a.post("/api/threads/", json={"session_id": sid, "original_prompt": "Prove it"}).json()["_id"]
        slow = {"thread_id": tid, "settings": {"evaluation_threshold": 10}}
        assert a.post("/api/orchestration/start", json=slow).status_code == 202
        refused = a.post("/api/orchestration/start", json=slow)
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"] == "1"
        assert re.fullmatch(r'"session";r=97;t=\d+', refused.headers["RateLimit"])
        twice = a.get(f"/api/threads/session/{sid}?offset=0&offset=1")
        assert (twice.status_code, twice.json()["detail"]) == (
            422,
            "offset: given more than once in the URL: give it once",
        )

        def ended(oid: str) -> None:
            deadline = time.monotonic() + 60
            while b.get(f"/api/orchestration/status/{oid}").json()["status"] not in ("completed", "failed"):
                assert time.monotonic() < deadline
                time.sleep(0.5)

        ended(oid)  # (then a run of bob's in a built-in domain: its statistics are everyone's)
        tid = b.post("/api/threads/", json={**body, "domain": "coding"}).json()["_id"]
        ended(b.post("/api/orchestration/start", json={"thread_id": tid}).json()["_id"])
        seen = {d for m in a.get("/api/models/").json() for d in m["stats"]["mean_score_by_domain"]}
        assert "coding" in seen and "bob-acquisition-of-acme" not in seen
        mine = {d for m in b.get("/api/models/").json() for d in m["stats"]["mean_score_by_domain"]}
        assert "coding" in mine


@pytest.mark.parametrize(
    ("first", "second"),
    [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM, signal.SIGTERM), (signal.SIGHUP, signal.SIGTERM)],
    ids=["ctrl-c", "sigterm", "sighup-sigterm"],
)
def test_a_second_ctrl_c_ends_the_grace_period_and_hands_the_runs_back(
    tmp_path: Path, first: signal.Signals, second: signal.Signals
) -> None:
    """uvicorn says "CTRL+C to force quit", but a second Ctrl-C during the grace period of the running orchestrations
    did nothing: the stop went on for the whole `shutdown_grace_s` (minutes, set so), and killing the process instead
    left the runs under leases no server could take until they expired. It now hands them back at once; a second
    SIGTERM too (`kill` again, a service manager repeating its stop), which uvicorn ignored."""
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    env = {
        "ORCHESTRATEX_SIM_LATENCY_SCALE": "200",
        "ORCHESTRATEX_SHUTDOWN_GRACE_S": "600",
        "ORCHESTRATEX_LEASE_TTL_S": "600",
    }
    with ServerProcess(url, tmp_path, env=env) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            sid = client.post("/api/sessions/", json={}).json()["_id"]
            tid = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP"}).json()["_id"]
            oid = client.post("/api/orchestration/start", json={"thread_id": tid}).json()["_id"]
            wait_status(client, oid, lambda doc: doc["status"] == "running")
        assert server.proc is not None
        server.proc.send_signal(first)
        deadline = time.monotonic() + 30
        while "stopping: waiting up to 600 s" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        server.proc.send_signal(second)
        server.proc.wait(timeout=60)  # (not the 600 s of the grace)
        log = server.log()
    forced = log.index("stopping: forced (a second Ctrl-C or stop signal): the grace period ends now")
    assert forced < log.index(
        f"stopping: handing back 1 orchestration(s) still running, for the next server on this store to resume: {oid}"
    )
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}, name="next") as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            ended = ("completed", "failed", "cancelled")
            done = wait_status(client, oid, lambda doc: doc["status"] in ended, timeout=60)
    assert done["status"] == "completed"  # resumed by the next server: its lease (of 10 min) had been given up


def test_the_two_hangups_of_a_closed_terminal_stop_gracefully(tmp_path: Path) -> None:
    """A terminal that closes sends the server two SIGHUPs (its shell's, then the kernel's as the shell exits): the
    second must not force the stop, which would cut the runs' grace short."""
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "200", "ORCHESTRATEX_SHUTDOWN_GRACE_S": "2"}
    with ServerProcess(url, tmp_path, env=env) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            sid = client.post("/api/sessions/", json={}).json()["_id"]
            tid = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP"}).json()["_id"]
            oid = client.post("/api/orchestration/start", json={"thread_id": tid}).json()["_id"]
            wait_status(client, oid, lambda doc: doc["status"] == "running")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while "stopping: waiting up to 2 s" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        server.proc.send_signal(signal.SIGHUP)
        server.proc.wait(timeout=60)
        log = server.log()
    assert "stopping: forced" not in log and "stopping: handing back 1 orchestration(s) still running" in log, log


def test_a_second_sigterm_ends_a_stop_held_up_by_a_busy_store(tmp_path: Path) -> None:
    """A stop whose hand-back of its runs waited for the store — another process holding SQLite's write lock (a
    `sqlite3` shell left in a transaction, a backup), or a database server that does not answer — went on for minutes
    (each write retried, waiting out the busy timeout each time), and a second SIGTERM or Ctrl-C did nothing: only
    SIGKILL ended it. The second signal now gives the rest of the stop 30 s, then the server exits saying so; the run
    it could not hand back stays `running` and the next server resumes it."""
    import sqlite3
    import subprocess

    db = tmp_path / "ox.db"
    url = f"sqlite:///{db}"
    key = create_key(url, "alice")
    env = {
        "ORCHESTRATEX_SIM_LATENCY_SCALE": "200",
        "ORCHESTRATEX_SHUTDOWN_GRACE_S": "0",
        "ORCHESTRATEX_LEASE_TTL_S": "2",
    }
    with ServerProcess(url, tmp_path, env=env) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            sid = client.post("/api/sessions/", json={}).json()["_id"]
            tid = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP"}).json()["_id"]
            oid = client.post("/api/orchestration/start", json={"thread_id": tid}).json()["_id"]
            wait_status(client, oid, lambda doc: doc["status"] == "running")
        assert server.proc is not None
        holder = sqlite3.connect(db, isolation_level=None, timeout=30)
        try:
            holder.execute("BEGIN EXCLUSIVE")  # (held until the server has exited: every write of its stop waits)
            server.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 30
            while "stopping: handing back 1 orchestration(s)" not in server.log():
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.05)
            server.proc.send_signal(signal.SIGTERM)
            second = time.monotonic()
            try:
                server.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pytest.fail("a second SIGTERM did not end the stop while the store was busy")
            took = time.monotonic() - second
        finally:
            if holder.in_transaction:
                holder.execute("ROLLBACK")
            holder.close()
        log = server.log()
    # (the hand-back itself now gives up on a busy store within about 10 s; the forced stop's 30 s bound any other wait)
    assert took < 40, (took, log)
    assert "the forced stop did not finish within 30 s: exiting without it" in log or "StoreUnavailable" in log, log
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}, name="next") as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            ended = ("completed", "failed", "cancelled")
            done = wait_status(client, oid, lambda doc: doc["status"] in ended, timeout=90)
    assert done["status"] == "completed"  # (resumed once its lease had expired: nothing was lost)


_BATCHED_SPANS_SITE = """
import os

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class FileExporter(SpanExporter):
    def export(self, spans):
        with open(os.environ["SPAN_FILE"], "a", encoding="utf-8") as f:
            f.writelines(span.name + "\\n" for span in spans)
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(FileExporter(), schedule_delay_millis=600_000))
trace.set_tracer_provider(provider)
"""
"""A `sitecustomize` setting up the OpenTelemetry SDK as the zero-code agent does: spans exported in batches (here
never by the clock, only when flushed), by an exporter that writes their names to `SPAN_FILE`."""


@pytest.mark.parametrize("uvicorn_args", [None, []], ids=["serve", "uvicorn"])
def test_a_server_stopped_by_sigterm_exports_its_last_spans(tmp_path: Path, uvicorn_args: list[str] | None) -> None:
    """uvicorn raises the SIGTERM that stopped it again once it has stopped, which ends the process without its exit
    handlers: the OpenTelemetry SDK's, which export the spans still batched, never ran, so the traces of the server's
    last seconds (its last requests, the runs it handed back) were lost at every stop of a container or service;
    `orchestratex serve` and an app served by uvicorn itself alike."""
    import os

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_BATCHED_SPANS_SITE, encoding="utf-8")
    spans = tmp_path / "spans.txt"
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": path, "SPAN_FILE": str(spans), "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
    with ServerProcess(url, tmp_path, env=env, uvicorn_args=uvicorn_args) as server:
        body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "Explain TCP"}]}
        headers = {"Authorization": f"Bearer {key}"}
        answer = httpx.post(f"{server.base_url}/v1/chat/completions", json=body, headers=headers, timeout=60)
        assert answer.status_code == 200, answer.text
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=60) == -signal.SIGTERM  # (still ended by the signal, as services expect)
    names = spans.read_text(encoding="utf-8").splitlines() if spans.exists() else []
    assert "invoke_agent orchestratex" in names and "POST /v1/chat/completions" in names, names


def test_a_second_ctrl_c_while_a_call_waits_still_shuts_the_app_down(tmp_path: Path) -> None:
    """uvicorn skips the app's shutdown when its stop is forced while it waits for connections (a `/v1` call waiting
    for its run): the event loop's end then cancelled the app's lifespan, which logged an ERROR with the traceback of
    a `CancelledError` after "Finished server process", and the app's stop (its runs handed back, its store closed)
    was cut off wherever it was. The app now shuts down as on any stop, without the grace period."""
    import threading

    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "200", "ORCHESTRATEX_SHUTDOWN_GRACE_S": "600"}
    answers: list[httpx.Response] = []
    with ServerProcess(url, tmp_path, env=env) as server:
        body = {"model": "orchestratex/auto", "messages": [{"role": "user", "content": "Explain TCP"}]}
        headers = {"Authorization": f"Bearer {key}"}
        call = threading.Thread(
            target=lambda: answers.append(
                httpx.post(f"{server.base_url}/v1/chat/completions", json=body, headers=headers, timeout=60)
            )
        )
        call.start()
        deadline = time.monotonic() + 30
        while "orchestration_started" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGINT)
        while "Waiting for connections to close" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        server.proc.send_signal(signal.SIGINT)
        server.proc.wait(timeout=60)
        call.join(timeout=60)
        log = server.log()
    assert "stopping: handing back 1 orchestration(s) still running" in log
    assert "Application shutdown complete." in log
    assert "Traceback" not in log and "ERROR" not in log, log
    assert [a.status_code for a in answers] == [503]
