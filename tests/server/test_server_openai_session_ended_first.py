"""A `/v1` call whose session another process ends after the call stored its run, before the run's task began (a
loaded server: the task had not been scheduled yet). The run is stored `cancelled`, as one stopped once begun; the
call was answered 409 `conflict` ("session … is completed: orchestrations start only in an active session"), which
the openai SDK retries, where a run stopped from elsewhere is answered 503 `orchestration_cancelled`, not retried."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Callable

import pytest

from orchestratex.stores import SQLiteStore

from .conftest import Api, in_app_loop


class _LateTask(SQLiteStore):
    """The run's task claims its lease only once its session has ended (as if scheduled after that), up to 30 s."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.claiming = False

    # (the store's own start, one write that leases the run to the server accepting it: with `claim` overridden,
    # `Store.start` would be its default made of `claim` and the others)
    start = SQLiteStore.start.__wrapped__  # type: ignore[attr-defined]

    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        self.claiming = True
        session_id = (await self.get_orchestration(orchestration_id)).session_id
        deadline = time.monotonic() + 30
        while (await self.get_session(session_id)).status == "active" and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return await super().claim(orchestration_id, owner, ttl_s)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_call_whose_session_ends_before_its_run_began_is_answered_orchestration_cancelled(
    make_api: Callable[..., Api], stream: bool
) -> None:
    store = _LateTask()
    api = make_api(store)
    sid = api.session()["_id"]
    body = {"model": "orchestratex/auto", "messages": [{"role": "user", "content": "Explain DNS"}], "stream": stream}
    body["session_id"] = sid
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(api.client.post, "/v1/chat/completions", json=body, headers=api.alice)
        deadline = time.monotonic() + 30
        while not store.claiming:  # (the call has stored its run, whose task now waits)
            assert time.monotonic() < deadline and not answer.done(), answer.result().text if answer.done() else ""
            time.sleep(0.01)
        in_app_loop(api.client).call(store.set_session_status, sid, "completed")  # (another process: the store only)
        r = answer.result(timeout=60)
    if stream:
        assert r.status_code == 200, r.text
        last = [line for line in r.text.splitlines() if line.startswith("data: ")][-1]
        error = json.loads(last.removeprefix("data: "))["error"]
    else:
        assert r.status_code == 503 and r.headers["x-should-retry"] == "false", r.text
        error = r.json()["error"]
    assert error["code"] == "orchestration_cancelled", error
    assert f"session {sid} is completed: orchestrations start only in an active session" in error["message"]
    oid = error["orchestratex"]["orchestration_id"]
    doc = api.client.get(f"/api/orchestration/status/{oid}", headers=api.alice).json()
    assert (doc["status"], doc["stop_reason"], doc["iterations"]) == ("cancelled", "cancelled", [])
    assert error["orchestratex"]["status"] == "cancelled"
