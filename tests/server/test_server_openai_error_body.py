"""The orchestration an error is about, as the openai SDK's exception shows it.

The `orchestratex` field went next to `error` only, and the openai SDK keeps `error` alone as its exception's `body`
(a stream's error has no response besides): an SDK user had to parse the message (`re.search("orchestration
([0-9a-f]{24})", exc.message)`) to follow the run, which may have been paid for. It is now inside `error` too."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore

from .conftest import FAST

ASK: Any = [{"role": "user", "content": "Name a prime"}]


@pytest.mark.parametrize("stream", [False, True])
def test_the_sdk_s_exception_names_the_orchestration_of_a_failed_call(
    stream: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    store = MemoryStore()
    with TestClient(create_app(store)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(openai.APIError) as raised:
            reply = client.chat.completions.create(
                model="orchestratex/fast", messages=ASK, stream=stream, extra_body={"cost_limit": 0}
            )
            if stream:
                for _ in reply:
                    pass
        error = raised.value
        assert error.code == "budget_exceeded"
        assert isinstance(error.body, dict)
        named = error.body["orchestratex"]
        assert named["status"] == "failed" and named["stop_reason"] == "budget"
        status = http.get(
            f"/api/orchestration/status/{named['orchestration_id']}", headers={"Authorization": f"Bearer {key}"}
        )
        assert status.status_code == 200 and status.json()["status"] == "failed"
        assert status.json()["thread_id"] == named["thread_id"]
