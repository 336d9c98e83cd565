"""The server operator's provider key, quoted back by a gateway in its error, never reaches the API's users.

`orchestratex serve` as a real process, its catalog naming an OpenAI-compatible gateway (a real HTTP server on
127.0.0.1) that answers every call 401 quoting the key it was sent, as some gateways do. A user's `/v1` call fails:
its answer, the run's stored status and the server's log show `***` where the key was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestratex.testing.provider_contract import Reply, local_server

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow

KEY = "sk-gw-Zq8mR2vT5xY7wK3pL9nB4cD6"
CATALOG = """include_default = false

[providers.gw]
kind = "openai"
base_url = "{base}/v1"
api_key_env = "GW_KEY"

[[models]]
name = "gw:one"
input_cost_per_1k = 0
output_cost_per_1k = 0
context_window = 8192
quality = 7.0

[[models]]
name = "gw:two"
input_cost_per_1k = 0
output_cost_per_1k = 0
context_window = 8192
quality = 6.0
"""


def refused(sent: Any) -> Reply:
    error = {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}
    return Reply(401, json={"error": {**error, "code": "invalid_api_key"}})


def test_a_gateway_quoting_the_provider_key_does_not_show_it_to_the_api_user(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    with local_server(refused) as base:
        catalog = tmp_path / "models.toml"
        catalog.write_text(CATALOG.format(base=base), encoding="utf-8")
        env = {"GW_KEY": KEY, "ORCHESTRATEX_CATALOG": str(catalog)}
        with ServerProcess(url, tmp_path, env=env) as server:
            headers = {"Authorization": f"Bearer {key}"}
            body = {"model": "gw:one", "messages": [{"role": "user", "content": "Hello"}]}
            answer = httpx.post(f"{server.base_url}/v1/chat/completions", json=body, headers=headers, timeout=60)
            assert answer.status_code == 502, answer.text
            assert "Incorrect API key provided: ***" in answer.text
            oid = answer.json()["error"]["orchestratex"]["orchestration_id"]
            status = httpx.get(f"{server.base_url}/api/orchestration/status/{oid}", headers=headers, timeout=30)
            assert status.status_code == 200 and status.json()["status"] == "failed"
            log = server.log()
    assert KEY not in answer.text + json.dumps(status.json()) + log
