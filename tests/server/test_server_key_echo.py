"""An API key a client put where the server names what it was given (a query parameter's name, a value, a path) is not
sent back in the error: `orchestratex serve` as a real process, called with httpx and a real WebSocket client.

`?ox_…` (the `token=` forgotten), `?Bearer ox_…`, `?limit=ox_…` were answered 422 naming the parameter or the value,
the key's first 37 characters (30 after `Bearer `) in clear, in a body that clients, proxies and browsers' developer
tools log; `/api/sessions/ox_…` was answered 404 quoting the key whole.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow


def secret_parts(key: str) -> list[str]:
    """Pieces of the key's secret part (after `ox_`) that no answer may hold: any 12 characters of it in a row."""
    secret = key[3:]
    return [secret[i : i + 12] for i in range(len(secret) - 11)]


def assert_hidden(key: str, text: str) -> None:
    leaked = [part for part in secret_parts(key) if part in text]
    assert not leaked, text


def test_a_key_put_where_an_error_names_the_input_is_not_echoed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'echo.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path, name="echo") as server:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            sid = client.post("/api/sessions/", json={}).json()["_id"]
            for path, status in (
                (f"/api/sessions/{sid}?{key}", 422),  # (the `token=` forgotten)
                (f"/api/sessions/user/alice?{key}", 422),
                (f"/api/sessions/user/alice?Bearer%20{key}", 422),  # (cut to 40 characters, not a key any more)
                (f"/api/sessions/user/alice?limit={key}", 422),
                (f"/api/sessions/user/alice?offset=Bearer%20{key}", 422),
                (f"/api/threads/session/{sid}?{key}=1", 422),
                (f"/api/sessions/{key}", 404),
                (f"/api/sessions/user/{key}", 404),
            ):
                answer = client.get(path)
                assert answer.status_code == status, answer.text
                assert_hidden(key, answer.text)
                assert "ox_***" in answer.text  # (the answer still says what was given, and where)
            answer = client.post("/api/sessions/", json={key: 1})
            assert answer.status_code == 422
            assert_hidden(key, answer.text)

        async def refusals() -> list[tuple[int, str]]:
            seen = []
            offered = [Subprotocol("orchestratex"), Subprotocol(f"bearer.{key}")]
            for query in (key, f"since=0&{key}=", f"since={key}", f"Bearer%20{key}"):
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with websockets.connect(f"{server.ws_url}/ws/{sid}?{query}", subprotocols=offered):
                        pass
                response = refused.value.response
                seen.append((response.status_code, bytes(response.body).decode()))
            return seen

        for status, body in asyncio.run(refusals()):
            assert status == 422, body
            assert_hidden(key, body)
            assert "ox_***" in body
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            assert client.get(f"/api/sessions/{sid}").status_code == 200  # (the key still serves: nothing was broken)
