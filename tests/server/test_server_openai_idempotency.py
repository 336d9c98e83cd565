"""`Idempotency-Key` on `/v1/chat/completions`, with the real openai SDK against `orchestratex serve`: the header was
ignored, so a call sent again (an SDK's retry after a timeout, with `extra_headers={"Idempotency-Key": …}`) ran and
billed a second orchestration, and the first call's run was cancelled when its client timed out. The call sent again
answers the first one's orchestration (`Idempotent-Replayed: true`), streamed or not; another call with the key:
409."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from orchestratex.server._idempotency import keyed_id

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow

DNS: Any = [{"role": "user", "content": "Explain DNS"}]


def _orchestrations(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        count: int = conn.execute("SELECT count(*) FROM orchestrations").fetchone()[0]
    return count


def test_a_call_sent_again_with_its_key_answers_the_first_ones_run(tmp_path: Path) -> None:
    db = tmp_path / "ox.db"
    url = f"sqlite:///{db}"
    key = create_key(url, "alice")
    with (
        ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.05"}) as server,
        OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0, timeout=60) as client,
    ):
        sent = {"Idempotency-Key": str(uuid.uuid4())}
        first = client.chat.completions.with_raw_response.create(
            model="orchestratex/fast", messages=DNS, extra_headers=sent
        )
        again = client.chat.completions.with_raw_response.create(
            model="orchestratex/fast", messages=DNS, extra_headers=sent
        )
        assert "idempotent-replayed" not in first.headers
        assert again.headers["idempotent-replayed"] == "true"
        a, b = first.parse(), again.parse()
        assert b.id == a.id and b.choices[0].message.content == a.choices[0].message.content
        assert b.usage == a.usage
        streamed = client.chat.completions.create(
            model="orchestratex/fast", messages=DNS, extra_headers=sent, stream=True
        )
        chunks = list(streamed)
        assert {c.id for c in chunks} == {a.id}
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == a.choices[0].message.content
        assert _orchestrations(db) == 1  # (nothing run again)

        with pytest.raises(openai.ConflictError) as other:
            client.chat.completions.create(
                model="orchestratex/fast", messages=[{"role": "user", "content": "Explain TCP"}], extra_headers=sent
            )
        oid = a.id.removeprefix("chatcmpl-")
        assert f"Idempotency-Key was already used for another call, orchestration {oid} (completed)" in str(other.value)
        assert "whose messages differ" in other.value.message
        with pytest.raises(openai.BadRequestError, match="Idempotency-Key: must be 1 to 255 printable ASCII"):
            client.chat.completions.create(
                model="orchestratex/fast", messages=DNS, extra_headers={"Idempotency-Key": "a b"}
            )
        assert _orchestrations(db) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_call_whose_client_left_goes_on_and_the_call_sent_again_answers_it(tmp_path: Path, stream: bool) -> None:
    """The client left (an SDK's timeout closes the connection): the run was cancelled (`client_disconnected`), and
    the retry, a new call, ran and billed another. With a key, the run goes on, and the call sent again waits for its
    end and answers it."""
    db = tmp_path / "ox.db"
    url = f"sqlite:///{db}"
    key = create_key(url, "alice")
    auth = {"Authorization": f"Bearer {key}"}
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}) as server:
        sent = {"Idempotency-Key": str(uuid.uuid4())}
        oid = keyed_id("alice", sent["Idempotency-Key"])  # (the id its orchestration is stored under)
        body = json.dumps({"model": "orchestratex/fast", "messages": DNS, "stream": stream}).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            head = (
                "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {key}\r\nIdempotency-Key: {sent['Idempotency-Key']}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode() + body)
            deadline = time.monotonic() + 60
            while httpx.get(f"{server.base_url}/api/orchestration/status/{oid}", headers=auth).status_code == 404:
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.05)
        # (the connection is closed: the client has left while its run goes on)
        with OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0, timeout=300) as patient:
            again = patient.chat.completions.with_raw_response.create(
                model="orchestratex/fast", messages=DNS, extra_headers=sent
            )
        assert again.headers["idempotent-replayed"] == "true"
        answer = again.parse()
        assert answer.id == f"chatcmpl-{oid}" and answer.choices[0].message.content
        status = httpx.get(f"{server.base_url}/api/orchestration/status/{oid}", headers=auth).json()
        assert status["status"] == "completed" and status["final_response"] == answer.choices[0].message.content
        assert _orchestrations(db) == 1
