"""Keys: the admin API and the CLI list and revoke them; a revoked key is refused on its next request —
whichever process revoked it — its open WebSockets are closed and its `/v1` streams end."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.websockets import WebSocketDisconnect

from orchestratex.server import CLOSE_KEY_REVOKED, ServerSettings, create_app, hash_key, issue_api_key
from orchestratex.stores import SQLiteStore, open_store

from .conftest import Api, bearer, in_app_loop
from .server_process import CLI, ServerProcess, child_env, create_key


def _key_id(api: Api, who: str) -> str:
    record = in_app_loop(api.client).call(api.store.get_api_key, hash_key(api.keys[who]))
    assert record is not None
    return record.id


def test_admins_list_keys_without_hashes(api: Api) -> None:
    assert api.client.get("/api/models/", headers=api.admin).status_code == 200
    r = api.client.get("/api/admin/keys/", headers=api.admin)
    assert r.status_code == 200
    keys = r.json()
    assert [k["user_id"] for k in keys] == ["alice", "bob", "root"]
    assert [k["admin"] for k in keys] == [False, False, True]
    for k in keys:
        assert set(k) == {"_id", "user_id", "admin", "label", "created_at", "updated_at", "revoked_at", "last_used_at"}
        assert datetime.fromisoformat(k["updated_at"]) >= datetime.fromisoformat(k["created_at"])
    assert not any(api.keys[w] in r.text or hash_key(api.keys[w]) in r.text for w in api.keys)
    assert keys[2]["last_used_at"] is not None and keys[0]["last_used_at"] is None
    only = api.client.get("/api/admin/keys/?user_id=bob", headers=api.admin).json()
    assert [k["user_id"] for k in only] == ["bob"]


def test_only_admins_manage_keys(api: Api) -> None:
    assert api.client.get("/api/admin/keys/", headers=api.alice).status_code == 403
    assert api.client.delete(f"/api/admin/keys/{_key_id(api, 'bob')}", headers=api.alice).status_code == 403
    assert api.client.get("/api/admin/keys/").status_code == 401
    assert api.client.delete("/api/admin/keys/" + "0" * 24, headers=api.admin).status_code == 404


@pytest.mark.parametrize("cache_s", [0.0, 60.0])
def test_a_key_revoked_through_the_api_is_refused_on_its_next_request(
    make_api: Callable[..., Api], cache_s: float
) -> None:
    api = make_api(auth_cache_s=cache_s)
    assert api.client.get("/api/models/", headers=api.alice).status_code == 200  # verified (and cached)
    r = api.client.delete(f"/api/admin/keys/{_key_id(api, 'alice')}", headers=api.admin)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None and r.json()["user_id"] == "alice"
    assert r.json()["updated_at"] == r.json()["revoked_at"]  # (every document of the API carries `updated_at`)
    refused = api.client.get("/api/models/", headers=api.alice)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert api.client.get("/api/models/", headers=api.bob).status_code == 200
    again = api.client.delete(f"/api/admin/keys/{_key_id(api, 'alice')}", headers=api.admin)
    assert again.status_code == 200 and again.json()["revoked_at"] == r.json()["revoked_at"]


def test_a_key_revoked_by_another_process_is_refused_on_its_next_request(make_api: Callable[..., Api]) -> None:
    api = make_api()
    assert api.client.get("/api/models/", headers=api.alice).status_code == 200
    in_app_loop(api.client).call(api.store.revoke_api_key, _key_id(api, "alice"))  # as the CLI would, in the store
    assert api.client.get("/api/models/", headers=api.alice).status_code == 401


def test_revoking_a_key_closes_its_open_websockets(api: Api) -> None:
    sid = api.session()["_id"]
    other = api.session(api.bob)["_id"]
    with (
        api.client.websocket_connect(f"/ws/{sid}", headers=api.alice) as mine,
        api.client.websocket_connect(f"/ws/{other}", headers=api.bob) as bobs,
    ):
        assert api.client.delete(f"/api/admin/keys/{_key_id(api, 'alice')}", headers=api.admin).status_code == 200
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                mine.receive_text()  # heartbeats until the close
        assert closed.value.code == CLOSE_KEY_REVOKED
        assert json.loads(bobs.receive_text())["type"] == "heartbeat"  # bob's socket stays open


def test_a_websocket_notices_a_revocation_by_another_process(make_api: Callable[..., Api]) -> None:
    api = make_api(ws_auth_check_s=0.1)
    sid = api.session()["_id"]
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice) as ws:
        in_app_loop(api.client).call(api.store.revoke_api_key, _key_id(api, "alice"))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_text()
        assert closed.value.code == CLOSE_KEY_REVOKED


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=child_env(), timeout=60, check=False)


@pytest.mark.slow
def test_keys_list_and_revoke_from_the_cli_against_a_real_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    alice = create_key(url, "alice")
    admin = create_key(url, "root", admin=True)
    listed = _cli("keys", "list", "--store", url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "USER", "ADMIN", "CREATED"]
    assert [line.split()[1] for line in lines[1:]] == ["alice", "root"]
    as_json = json.loads(_cli("keys", "list", "--json", "--store", url, "--user", "alice").stdout)
    assert [k["user_id"] for k in as_json] == ["alice"]
    assert "key_hash" not in as_json[0] and alice not in listed.stdout and hash_key(alice) not in listed.stdout
    alice_id = as_json[0]["_id"]

    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            assert client.get("/health").json() == {"status": "ok"}
            assert client.get("/health/ready").status_code == 200
            assert client.get("/api/models/", headers=bearer(alice)).status_code == 200
            revoked = _cli("keys", "revoke", alice_id, "--store", url)
            assert revoked.returncode == 0, revoked.stderr
            assert alice_id in revoked.stdout
            assert client.get("/api/models/", headers=bearer(alice)).status_code == 401  # the very next request
            assert client.get("/api/models/", headers=bearer(admin)).status_code == 200
            sid = client.post("/api/sessions/", json={}, headers=bearer(admin)).json()["_id"]
            tid = client.post(
                "/api/threads/", json={"session_id": sid, "original_prompt": "Explain DNS"}, headers=bearer(admin)
            ).json()["_id"]
            body = {"thread_id": tid, "settings": {"max_iterations": 1}}
            oid = client.post("/api/orchestration/start", json=body, headers=bearer(admin)).json()["_id"]
            for _ in range(300):
                status = client.get(f"/api/orchestration/status/{oid}", headers=bearer(admin)).json()["status"]
                if status in ("completed", "failed"):
                    break
                time.sleep(0.05)
            metrics = client.get("/metrics", headers=bearer(admin))
            assert metrics.status_code == 200 and "orchestratex_http_requests_total" in metrics.text
            assert re.search(rf'orchestratex_orchestrations_total{{status="{status}",[^}}]*}} 1\.0', metrics.text)
            log = server.log()  # `serve` shows the orchestratex loggers at INFO
            assert f"routing orchestration_id={oid}" in log and f"model_call orchestration_id={oid}" in log
            assert f"stop orchestration_id={oid}" in log and "Explain DNS" not in log
            docs = client.get("/docs")
            assert docs.status_code == 200 and "/_docs/swagger-ui-bundle.js" in docs.text
    after = json.loads(_cli("keys", "list", "--json", "--store", url).stdout)
    assert [k["revoked_at"] is not None for k in after] == [True, False]
    assert after[0]["last_used_at"] is not None
    missing = _cli("keys", "revoke", "0" * 24, "--store", url)
    assert missing.returncode == 2 and "no API key" in missing.stderr


async def test_concurrent_requests_share_key_reads(tmp_path: Path) -> None:
    """Reads of one key are coalesced, and never served from a read older than the request."""
    import asyncio

    async with SQLiteStore(tmp_path / "k.db") as store:
        key = await issue_api_key(store, "alice")
        app = create_app(store, settings=ServerSettings())
        auth = app.state.server.auth
        reads = 0
        original = store.get_api_key

        async def counting(digest: str):  # type: ignore[no-untyped-def]
            nonlocal reads
            reads += 1
            return await original(digest)

        auth._reads.read = counting
        principals = await asyncio.gather(*(auth.principal(key) for _ in range(50)))
        assert {p.user_id for p in principals} == {"alice"}
        assert reads <= 2
        await store.revoke_api_key(principals[0].key_id or "")
        with pytest.raises(Exception, match="revoked"):
            await auth.principal(key)


def _stream_until_revoked(
    client: Any, headers: dict[str, str], revoke: Callable[[], None]
) -> tuple[str, dict[str, Any], float]:
    """Start a slow `/v1` stream and call `revoke` once it has begun; returns its orchestration's id, the error
    it ended with, and how long after `revoke` it ended."""
    body = {"model": "orchestratex/best", "messages": [{"role": "user", "content": "Explain DNS"}], "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        first = next(lines)
        assert first.startswith(": orchestratex orchestration ")
        revoke()
        revoked_at = time.monotonic()
        data = [line for line in lines if line.startswith("data: ")]
    took = time.monotonic() - revoked_at
    assert len(data) == 1, data  # no answer: only the error
    payload = json.loads(data[0][6:])
    # which run it is, beside the error (its message only named it): to follow it without parsing the text
    assert payload["orchestratex"]["orchestration_id"] == first.split()[3], payload
    assert payload["orchestratex"]["status"] == "cancelled"
    return first.split()[3], payload["error"], took


def test_revoking_a_key_ends_its_v1_streams_and_stops_their_orchestrations(make_api: Callable[..., Api]) -> None:
    api = make_api(env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}, ws_auth_check_s=60)  # only the signal can tell

    def revoke() -> None:
        assert api.client.delete(f"/api/admin/keys/{_key_id(api, 'alice')}", headers=api.admin).status_code == 200

    oid, error, took = _stream_until_revoked(api.client, api.alice, revoke)
    assert error["code"] == "invalid_api_key" and "revoked while the answer streamed" in error["message"]
    assert took < 30  # by the signal, not the store's check after 60 s (generous: a loaded runner pauses the test)
    assert api.wait(oid, api.admin)["status"] == "cancelled"


@pytest.mark.slow
def test_a_v1_stream_ends_within_the_check_interval_when_the_cli_revokes_its_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    alice = create_key(url, "alice")
    admin = create_key(url, "root", admin=True)
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "1", "ORCHESTRATEX_WS_AUTH_CHECK_S": "1"}
    with ServerProcess(url, tmp_path, env=env) as server, httpx.Client(base_url=server.base_url) as client:
        key_id = json.loads(_cli("keys", "list", "--json", "--user", "alice", "--store", url).stdout)[0]["_id"]

        def revoke() -> None:
            assert _cli("keys", "revoke", key_id, "--store", url).returncode == 0

        oid, error, took = _stream_until_revoked(client, bearer(alice), revoke)
        assert error["code"] == "invalid_api_key", error
        assert took < 1 + 10  # the check interval, and time to answer on a loaded runner (the run takes far longer)
        for _ in range(100):
            status = client.get(f"/api/orchestration/status/{oid}", headers=bearer(admin)).json()["status"]
            if status != "running":
                break
            time.sleep(0.1)
        assert status == "cancelled"


def _call_until_revoked(
    client: Any, headers: dict[str, str], revoke: Callable[[], None], begun: Callable[[], bool]
) -> tuple[Any, float]:
    """A slow `/v1` call without `stream`, in a thread; `revoke` once it has begun (`begun()`: its run is stored,
    so its key was taken). Returns its answer and how long after `revoke` it came."""
    body = {"model": "orchestratex/best", "messages": [{"role": "user", "content": "Explain DNS"}]}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(client.post, "/v1/chat/completions", json=body, headers=headers)
        _wait_until(begun)  # (a second's sleep was not always enough on a loaded machine: the key was revoked first)
        assert not answer.done()  # (the run takes far longer)
        revoke()
        revoked_at = time.monotonic()
        response = answer.result()
    return response, time.monotonic() - revoked_at


def test_revoking_a_key_stops_its_v1_calls_that_are_not_streamed(make_api: Callable[..., Api]) -> None:
    """The answer of a call whose key was revoked meanwhile used to be handed to the key's holder."""
    api = make_api(env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}, ws_auth_check_s=60)  # only the signal can tell

    def revoke() -> None:
        assert api.client.delete(f"/api/admin/keys/{_key_id(api, 'alice')}", headers=api.admin).status_code == 200

    def begun() -> bool:
        return bool(in_app_loop(api.client).call(api.store.count_active_orchestrations, "alice"))

    r, took = _call_until_revoked(api.client, api.alice, revoke, begun)
    error = r.json()["error"]
    assert r.status_code == 401 and error["code"] == "invalid_api_key", r.text
    assert "revoked while the answer was computed" in error["message"] and r.headers["x-should-retry"] == "false"
    assert took < 30  # by the signal, not the store's check after 60 s (generous: a loaded runner pauses the test)
    oid = error["message"].split("orchestration ")[1].split()[0]
    assert api.wait(oid, api.admin)["status"] == "cancelled"
    extension = r.json()["orchestratex"]  # (which run it is, beside the error: its message only named it)
    assert (extension["orchestration_id"], extension["status"]) == (oid, "cancelled"), extension


@pytest.mark.slow
def test_the_openai_sdk_gets_401_when_the_cli_revokes_the_key_of_its_call(tmp_path: Path) -> None:
    import openai

    url = f"sqlite:///{tmp_path / 'keys.db'}"
    alice = create_key(url, "alice")
    admin = create_key(url, "root", admin=True)
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "1", "ORCHESTRATEX_WS_AUTH_CHECK_S": "1"}
    with ServerProcess(url, tmp_path, env=env) as server, httpx.Client(base_url=server.base_url) as client:
        key_id = json.loads(_cli("keys", "list", "--json", "--user", "alice", "--store", url).stdout)[0]["_id"]
        sdk = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=alice, max_retries=0, timeout=60)
        with sdk, concurrent.futures.ThreadPoolExecutor(1) as pool:
            call = pool.submit(
                lambda: sdk.chat.completions.create(
                    model="orchestratex/best", messages=[{"role": "user", "content": "Explain DNS"}]
                )
            )
            _wait_until(lambda: asyncio.run(_active_runs(url, "alice")) > 0)  # (the call's run is stored)
            assert _cli("keys", "revoke", key_id, "--store", url).returncode == 0
            revoked_at = time.monotonic()
            with pytest.raises(openai.AuthenticationError) as refused:
                call.result()
        assert time.monotonic() - revoked_at < 1 + 10  # the check interval, and time to answer on a loaded runner
        oid = str(refused.value.message).split("orchestration ")[1].split()[0]
        status = client.get(f"/api/orchestration/status/{oid}", headers=bearer(admin)).json()["status"]
        assert status == "cancelled"


def _wait_until(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not done():
        assert time.monotonic() < deadline
        time.sleep(0.05)


async def _active_runs(url: str, user_id: str) -> int:
    store = await open_store(url)
    try:
        return await store.count_active_orchestrations(user_id)
    finally:
        await store.close()
