"""The real openai SDK (sync, async, streaming) against `orchestratex serve`, a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from orchestratex.records import Orchestration
from orchestratex.stores import open_store

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow

PROMPT: list[Any] = [{"role": "user", "content": "Write a Python function to calculate fibonacci numbers"}]


@dataclass
class Served:
    server: ServerProcess
    keys: dict[str, str]

    def client(self, user: str, **kwargs: Any) -> OpenAI:
        return OpenAI(base_url=f"{self.server.base_url}/v1", api_key=self.keys[user], **kwargs)

    def async_client(self, user: str, **kwargs: Any) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=f"{self.server.base_url}/v1", api_key=self.keys[user], **kwargs)

    def status(self, user: str, oid: str) -> dict[str, Any]:
        r = httpx.get(
            f"{self.server.base_url}/api/orchestration/status/{oid}",
            headers={"Authorization": f"Bearer {self.keys[user]}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("openai-server")
    url = f"sqlite:///{tmp / 'server.db'}"
    keys = {user: create_key(url, user) for user in ("alice", "bob", "carol", "dan", "erin", "fay", "gus")}
    keys["admin"] = create_key(url, "root", admin=True)
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.01", "ORCHESTRATEX_RATE_LIMIT": "8"}
    with ServerProcess(url, tmp, env=env) as server:
        yield Served(server, keys)


def test_the_sync_sdk_lists_models_and_orchestrates(served: Served) -> None:
    client = served.client("alice")
    ids = [m.id for m in client.models.list()]
    assert ids[:3] == ["orchestratex/auto", "orchestratex/fast", "orchestratex/best"] and len(ids) > 3
    assert client.models.retrieve("orchestratex/fast").owned_by == "orchestratex"
    done = client.chat.completions.create(
        model="orchestratex/auto",
        messages=PROMPT,
        temperature=0.3,
        max_tokens=800,
        extra_body={"max_iterations": 2, "cost_limit": 1.0},
    )
    ext = (done.model_extra or {})["orchestratex"]
    doc = served.status("alice", ext["orchestration_id"])
    assert doc["status"] == "completed" and doc["settings"]["max_iterations"] == 2
    assert done.choices[0].message.content == doc["final_response"]
    assert done.model == doc["final_model"] and ext["score"] == doc["final_score"] and ext["cost"] == doc["total_cost"]
    assert done.usage is not None and done.usage.total_tokens > sum(
        it["usage"]["output_tokens"] for it in doc["iterations"]
    )


def test_the_sync_sdk_streams(served: Served) -> None:
    client = served.client("alice")
    stream = client.chat.completions.create(
        model="orchestratex/fast", messages=PROMPT, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    oid = chunks[0].id.removeprefix("chatcmpl-")
    assert text == served.status("alice", oid)["final_response"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_the_async_sdk_orchestrates_and_streams_concurrently(served: Served) -> None:
    async def main() -> None:
        async with served.async_client("bob") as client:
            done, stream = await asyncio.gather(
                client.chat.completions.create(model="gpt4", messages=PROMPT),
                client.chat.completions.create(model="orchestratex/auto", messages=PROMPT, stream=True),
            )
            assert done.choices[0].message.content and done.model == "sim:gpt-4.1"
            pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
            assert "".join(pieces)
            # the SDK's stream helper accumulates the chunks into a ChatCompletion
            async with client.chat.completions.stream(model="orchestratex/fast", messages=PROMPT) as helper:
                async for _ in helper:
                    pass
                final = await helper.get_final_completion()
            assert final.choices[0].message.content and final.choices[0].finish_reason == "stop"

    asyncio.run(main())


def test_the_sdk_s_stream_helper_reports_the_model_that_answered_with_stream_events(served: Served) -> None:
    """The helper keeps the first chunk's `model`: it reported the preset asked for (`orchestratex/fast`), not the
    model a call without `stream` names."""
    client = served.client("alice")
    with client.chat.completions.stream(
        model="orchestratex/fast", messages=PROMPT, extra_body={"stream_events": True}
    ) as helper:
        for _ in helper:
            pass
        final = helper.get_final_completion()
    doc = served.status("alice", final.id.removeprefix("chatcmpl-"))
    assert final.model == doc["final_model"] and final.choices[0].message.content == doc["final_response"]


def test_errors_arrive_as_the_sdk_s_exceptions(served: Served) -> None:
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=f"{served.server.base_url}/v1", api_key="ox_wrong").models.list()
    client = served.client("alice", max_retries=0)
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-99", messages=PROMPT)
    assert missing.value.code == "model_not_found" and missing.value.param == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="orchestratex/auto", messages=PROMPT, n=2)
    assert bad.value.param == "n"
    with pytest.raises(openai.APIStatusError) as budget:
        client.chat.completions.create(model="orchestratex/auto", messages=PROMPT, extra_body={"cost_limit": 0})
    assert budget.value.status_code == 402 and budget.value.code == "budget_exceeded"
    with pytest.raises(openai.APIError) as streamed:
        list(
            client.chat.completions.create(
                model="orchestratex/auto", messages=PROMPT, stream=True, extra_body={"cost_limit": 0}
            )
        )
    assert "budget" in streamed.value.message
    with pytest.raises(openai.BadRequestError) as tool:
        client.chat.completions.create(
            model="orchestratex/fast", messages=[*PROMPT, {"role": "tool", "content": "x", "tool_call_id": "a"}]
        )
    assert (tool.value.param, tool.value.code) == ("messages.1.role", "invalid_value")  # (it answers no tool call)
    with pytest.raises(openai.BadRequestError) as preferred:
        client.chat.completions.create(
            model="orchestratex/fast", messages=PROMPT, extra_body={"preferred_models": ["nonexistent-model"]}
        )
    assert (preferred.value.param, preferred.value.code) == ("preferred_models", "invalid_value")


REQUEST_ID = re.compile(r"req_[0-9a-f]{32}")


def test_every_answer_carries_a_request_id_the_sdk_reads(served: Served) -> None:
    """OpenAI's API sends `x-request-id` with every answer, which the SDK reads into `_request_id` (an error's
    `request_id`) and clients log to correlate: `/v1` sent none, so they logged None."""
    client = served.client("fay", max_retries=0)
    done = [client.chat.completions.create(model="orchestratex/fast", messages=PROMPT) for _ in range(2)]
    ids = [d._request_id for d in done]
    assert all(REQUEST_ID.fullmatch(i or "") for i in ids) and ids[0] != ids[1], ids
    with client.chat.completions.with_streaming_response.create(
        model="orchestratex/fast", messages=PROMPT, stream=True
    ) as streamed:
        assert REQUEST_ID.fullmatch(streamed.request_id or ""), streamed.headers
        assert streamed.request_id not in ids
    listed = client.models.with_raw_response.list()
    assert REQUEST_ID.fullmatch(listed.request_id or "")
    refused: list[openai.APIStatusError] = []
    for call in (
        lambda: OpenAI(base_url=f"{served.server.base_url}/v1", api_key="ox_wrong", max_retries=0).models.list(),
        lambda: client.chat.completions.create(model="gpt-99", messages=PROMPT),
        lambda: client.chat.completions.create(  # (refused by the body's size limit, before /v1's routes)
            model="orchestratex/fast", messages=[{"role": "user", "content": "x" * (6 * 1024 * 1024)}]
        ),
    ):
        with pytest.raises(openai.APIStatusError) as raised:
            call()
        refused.append(raised.value)
    assert [e.status_code for e in refused] == [401, 404, 413]
    assert all(REQUEST_ID.fullmatch(e.request_id or "") for e in refused), [e.response.headers for e in refused]


def test_a_thread_continues_from_the_answer_the_sdk_received_with_stop(served: Served) -> None:
    client = served.client("bob", max_retries=0)
    first = client.chat.completions.create(model="orchestratex/fast", messages=[{"role": "user", "content": "Q1"}])
    thread = {"thread_id": (first.model_extra or {})["orchestratex"]["thread_id"]}
    cut = client.chat.completions.create(
        model="orchestratex/fast", messages=[{"role": "user", "content": "Q2"}], stop=["answer"], extra_body=thread
    )
    received = cut.choices[0].message.content
    assert received is not None and "answer" not in received
    after = client.chat.completions.create(
        model="orchestratex/fast", messages=[{"role": "user", "content": "Q3"}], extra_body=thread
    )
    doc = served.status("bob", (after.model_extra or {})["orchestratex"]["orchestration_id"])
    assert [m["content"] for m in doc["messages"]][-3:] == ["Q2", received, "Q3"]


def test_a_prompt_longer_than_every_window_is_the_sdk_s_bad_request_error(served: Served) -> None:
    """Formerly a stored orchestration that failed: 502 `orchestration_failed` (`InternalServerError`), or the
    stream's error payload (`APIError`). OpenAI answers 400 `context_length_exceeded` before running anything."""
    client = served.client("dan", max_retries=0)
    too_long: list[Any] = [
        {"role": "user", "content": "word " * 100_000}
    ]  # about 125,000 tokens: haiku's window is 100,000
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="haiku", messages=too_long, stream=stream)
        assert (refused.value.code, refused.value.param) == ("context_length_exceeded", "messages")
        assert "100,000 tokens" in refused.value.message
    sessions = httpx.get(
        f"{served.server.base_url}/api/sessions/user/dan", headers={"Authorization": f"Bearer {served.keys['dan']}"}
    ).json()
    assert asyncio.run(_orchestrations_of(served.server.store_url, [s["_id"] for s in sessions])) == []


def test_max_tokens_above_the_model_s_limit_is_the_sdk_s_bad_request_error(served: Served) -> None:
    """Formerly lowered to the model's limit without a word; OpenAI answers 400 for a max_tokens above its model's
    limit. With a preset, only a cap above every routable model's limit is refused."""
    client = served.client("erin", max_retries=0)  # (7 calls: the rate limit is 8 a minute)
    one_model = ("orchestratex/fast", {"preferred_models": ["sim:gpt-4o"]})
    for (model, extra), field, stream in (
        (("sim:gpt-4o", {}), "max_tokens", False),
        (("sim:gpt-4o", {}), "max_completion_tokens", True),
        (one_model, "max_tokens", True),
        (one_model, "max_completion_tokens", False),
    ):
        tokens, completion = (16_385, None) if field == "max_tokens" else (None, 16_385)  # (null is not given)
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(
                model=model,
                messages=PROMPT,
                stream=stream,
                extra_body=extra,
                max_tokens=tokens,
                max_completion_tokens=completion,
            )
        assert (refused.value.code, refused.value.param) == ("invalid_value", field)
        assert refused.value.message.endswith(
            f"{field} is too large: 16385. sim:gpt-4o supports at most 16,384 completion tokens: lower {field}"
        )
    assert client.chat.completions.create(model="sim:gpt-4o", messages=PROMPT, max_tokens=16_384).choices
    limits = [(m.model_extra or {})["orchestratex"].get("max_output_tokens", 0) for m in client.models.list()]
    largest = max(limits)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="orchestratex/auto", messages=PROMPT, max_tokens=largest + 1)
    assert f"the models this call may use support at most {largest:,} completion tokens" in refused.value.message
    assert client.chat.completions.create(model="orchestratex/fast", messages=PROMPT, max_tokens=largest).choices


def test_the_rate_limit_is_the_sdk_s_rate_limit_error(served: Served) -> None:
    client = served.client("carol", max_retries=0)
    into_window = time.time() % 60  # the limit counts in fixed windows of 60 s: all 9 requests in one
    if into_window > 40:
        time.sleep(60.5 - into_window)
    with pytest.raises(openai.RateLimitError) as limited:
        for _ in range(9):
            client.chat.completions.create(model="orchestratex/fast", messages=PROMPT)
    assert int(limited.value.response.headers["retry-after"]) >= 1


def test_the_sdk_reads_the_rate_limit_headers_of_every_answer(served: Served) -> None:
    """`GET /v1/models` (through `with_raw_response`) carried no `RateLimit`: a client pacing itself found nothing
    there. The models name the user's limit, a call its session's (the closer one), each request counted once."""
    into_window = time.time() % 60  # (fixed windows of 60 s: every request in one)
    if into_window > 50:
        time.sleep(60.5 - into_window)
    with served.client("gus", max_retries=0) as client:
        listed = client.models.with_raw_response.list()
        model = client.models.with_raw_response.retrieve("orchestratex/fast")
        called = client.chat.completions.with_raw_response.create(model="orchestratex/fast", messages=PROMPT)
        again = client.models.with_raw_response.list()
        with pytest.raises(openai.NotFoundError) as missing:
            client.models.retrieve("no-such-model")
    headers = [listed.headers, model.headers, called.headers, again.headers, missing.value.response.headers]
    assert {h["ratelimit-policy"] for h in headers} == {'"session";q=8;w=60, "user";q=1000;w=60'}
    said = [h["ratelimit"].split(";t=")[0] for h in headers]
    assert said == ['"user";r=999', '"user";r=998', '"session";r=7', '"user";r=996', '"user";r=995']
    assert listed.parse().data and called.parse().choices


def _v1_answers(served: Served, status: str) -> float:
    """How many `/v1/chat/completions` answers of `status` the server's metrics count."""
    admin = {"Authorization": f"Bearer {served.keys['admin']}"}
    metrics = httpx.get(f"{served.server.base_url}/metrics", headers=admin, timeout=10).text
    counted = f'orchestratex_http_requests_total{{method="POST",route="/v1/chat/completions",status="{status}"}} '
    return sum(float(line.removeprefix(counted)) for line in metrics.splitlines() if line.startswith(counted))


def test_a_client_that_leaves_while_sending_its_body_is_no_server_error(served: Served) -> None:
    """Formerly an ERROR traceback (`ClientDisconnect`) in the log and a 500 in the metrics for every such client."""
    body = json.dumps({"model": "orchestratex/fast", "messages": PROMPT, "stream": True}).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {served.keys['bob']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    before = _v1_answers(served, "400")
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", served.server.port), timeout=10) as raw:
            raw.sendall(head + body[: len(body) // 2])  # then gone, the rest of its body never sent
    deadline = time.monotonic() + 10
    while _v1_answers(served, "400") < before + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _v1_answers(served, "400") == before + 3 and _v1_answers(served, "500") == 0
    assert "ClientDisconnect" not in served.server.log() and "failed unexpectedly" not in served.server.log()


def test_a_client_that_leaves_a_stream_cancels_its_orchestration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "dave")
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}) as server:
        body = {"model": "orchestratex/best", "messages": PROMPT, "stream": True}
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.stream("POST", f"{server.base_url}/v1/chat/completions", json=body, headers=headers) as r:
            first = next(r.iter_lines())
        oid = first.split()[3]
        assert first.startswith(": orchestratex orchestration ")
        deadline = time.monotonic() + 60  # (not completed: the simulated run takes far longer; only the disconnect
        # ends it, which a loaded runner may take more than the 10 s that were allowed to tell)
        while time.monotonic() < deadline:
            doc = httpx.get(f"{server.base_url}/api/orchestration/status/{oid}", headers=headers).json()
            assert "status" in doc, (oid, doc)
            if doc["status"] not in ("pending", "running"):
                break
            time.sleep(0.25)
        assert doc["status"] == "cancelled" and doc["stop_reason"] == "cancelled"


@pytest.mark.parametrize("wait_s", [0.3, 2.5])
def test_a_client_that_leaves_a_call_without_stream_cancels_its_orchestration(tmp_path: Path, wait_s: float) -> None:
    """Formerly the run went on to `completed` (and kept paying) after the SDK timed out or the connection closed;
    a stream's run was cancelled. The SDK gives up after `wait_s`: as the first model answers, or later. The run
    refines towards 10/10 (a second attempt at least, but for a perfect first score): a cheap model's answer judged
    9/10 at once (`orchestratex/best` stops there) could end the run within 2.5 s, and the call was answered."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "gina")
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}) as server:
        client = OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0, timeout=wait_s)
        docs: list[Orchestration] = []
        for _ in range(3):  # (a server too busy to read the call before its client left runs nothing: ask again)
            with pytest.raises(openai.APITimeoutError):  # the SDK closes the connection as it gives up
                client.chat.completions.create(
                    model="orchestratex/best", messages=PROMPT, extra_body={"evaluation_threshold": 10}
                )
            docs = _settled(url, wait_for_one_s=3.0)
            if docs:
                break
        assert docs, "no call reached its run in 3 attempts"
        assert all(d.status == "cancelled" and d.stop_reason == "cancelled" for d in docs), docs
        assert "failed unexpectedly" not in server.log()


def _settled(url: str, wait_for_one_s: float) -> list[Orchestration]:
    """The orchestrations of the store at `url` once none is pending or running (within 60 s, generous for a loaded
    runner: a simulated run takes far longer, so only a disconnect ends it); none when none has appeared within
    `wait_for_one_s`."""
    started = time.monotonic()
    while True:
        docs = asyncio.run(_orchestrations(url))
        waited = time.monotonic() - started
        if (docs and all(d.status not in ("pending", "running") for d in docs)) or waited > 60:
            return docs
        if not docs and waited > wait_for_one_s:
            return []
        time.sleep(0.25)


async def _orchestrations(url: str) -> list[Orchestration]:
    return await _orchestrations_of(url, [None])


async def _orchestrations_of(url: str, session_ids: list[str | None]) -> list[Orchestration]:
    """The orchestrations of these sessions (`None`: of every session) in the store at `url`."""
    store = await open_store(url)
    try:
        return [doc for sid in session_ids for doc in await store.list_orchestrations(session_id=sid)]
    finally:
        await store.close()


def test_calls_whose_run_is_stopped_from_elsewhere_end_with_orchestration_cancelled(tmp_path: Path) -> None:
    """Their session ended (or `POST /api/orchestration/{id}/cancel`) while the SDK waited: a stream was cut off
    without an end (the SDK raised `RemoteProtocolError`), a plain call said 503 `stopped`, "it resumes when a
    server restarts", of a run that had ended `cancelled`."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "frank")
    headers = {"Authorization": f"Bearer {key}"}
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}) as server:
        client = OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)

        def end_once_running(sid: str) -> None:
            """End the session once the call's run is stored (a second's timer could end it first on a loaded runner:
            the call was then refused, `session_not_active`)."""
            deadline = time.monotonic() + 60
            while not asyncio.run(_orchestrations_of(url, [sid])) and time.monotonic() < deadline:
                time.sleep(0.05)
            httpx.patch(f"{server.base_url}/api/sessions/{sid}/status", json={"status": "completed"}, headers=headers)

        def ask(stream: bool) -> openai.APIError:
            sid = httpx.post(f"{server.base_url}/api/sessions/", json={"user_id": "frank"}, headers=headers).json()
            end = threading.Thread(target=end_once_running, args=(sid["_id"],))
            end.start()
            extra = {"session_id": sid["_id"], "max_iterations": 5, "evaluation_threshold": 9.99}
            try:
                with pytest.raises(openai.APIError) as failed:
                    if stream:
                        with client.chat.completions.create(
                            model="orchestratex/best", messages=PROMPT, stream=True, extra_body=extra
                        ) as chunks:
                            for _ in chunks:
                                pass
                    else:
                        client.chat.completions.create(model="orchestratex/best", messages=PROMPT, extra_body=extra)
            finally:
                end.join()
            return failed.value

        streamed, plain = ask(True), ask(False)
        assert streamed.code == "orchestration_cancelled", streamed
        assert isinstance(plain, openai.InternalServerError) and plain.status_code == 503
        assert plain.code == "orchestration_cancelled" and plain.response.headers["x-should-retry"] == "false"
        for failure in (streamed, plain):
            named = re.search(r"orchestration ([0-9a-f]{24}) ended without an answer \(cancelled\)", failure.message)
            assert named is not None, failure.message
            oid = named.group(1)
            doc = httpx.get(f"{server.base_url}/api/orchestration/status/{oid}", headers=headers).json()
            assert doc["status"] == "cancelled", doc
        assert "ASGI callable returned without completing response" not in server.log()


def test_sigterm_answers_waiting_calls_within_the_grace_and_hands_their_runs_back(tmp_path: Path) -> None:
    """A graceful stop gives `/v1` calls waiting for their runs `shutdown_grace_s`, not until the runs end: each
    is answered 503 `stopped` (not to be retried), the server exits, and the next server completes the runs."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    headers = {"Authorization": f"Bearer {create_key(url, 'erin')}"}
    slow = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "100", "ORCHESTRATEX_SHUTDOWN_GRACE_S": "1"}
    body = {"model": "orchestratex/auto", "messages": PROMPT}
    answers: dict[str, Any] = {}
    with ServerProcess(url, tmp_path, env=slow) as server:
        endpoint = f"{server.base_url}/v1/chat/completions"

        def call() -> None:
            answers["plain"] = httpx.post(endpoint, json=body, headers=headers, timeout=120)

        def stream(started: threading.Event) -> None:
            with httpx.stream("POST", endpoint, json={**body, "stream": True}, headers=headers, timeout=120) as r:
                lines = r.iter_lines()
                answers["stream_id"] = next(lines).split()[3]
                started.set()
                answers["stream"] = [line for line in lines if line.startswith("data: ")]

        started = threading.Event()
        threads = [threading.Thread(target=call), threading.Thread(target=stream, args=(started,))]
        for thread in threads:
            thread.start()
        assert started.wait(30)
        deadline = time.monotonic() + 60  # the plain call's run is stored too (a sleep of 0.5 s was not always enough
        while asyncio.run(_active_runs(url, "erin")) < 2:  # on a loaded runner: the stop came before the call)
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        assert server.proc is not None
        stopping = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=60)
        assert time.monotonic() - stopping < 15  # the simulated runs would take minutes
        for thread in threads:
            thread.join(timeout=30)
    plain = answers["plain"]
    assert plain.status_code == 503 and plain.headers["x-should-retry"] == "false", plain.text
    assert plain.json()["error"]["code"] == "stopped"
    plain_id = plain.json()["error"]["message"].split()[4].rstrip(";")
    # which run each is, beside the error (their messages only named it), as a failure's answer says it
    assert plain.json()["orchestratex"]["orchestration_id"] == plain_id
    assert plain.json()["orchestratex"]["status"] == "running"  # (it resumes on the next server)
    payload = json.loads(answers["stream"][-1].removeprefix("data: "))
    assert payload["orchestratex"]["orchestration_id"] == answers["stream_id"]
    stopped = payload["error"]
    assert stopped["code"] == "stopped"
    # the stream's error names its run, as the plain call's does (the SDK shows no comment: its message is all a
    # client has; it said "the server stopped the orchestration")
    assert f"follow GET /api/orchestration/status/{answers['stream_id']}" in stopped["message"], stopped
    fast = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.01", "ORCHESTRATEX_LEASE_TTL_S": "2"}
    with ServerProcess(url, tmp_path, env=fast, name="restarted") as server:
        for oid in (plain_id, answers["stream_id"]):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                doc = httpx.get(f"{server.base_url}/api/orchestration/status/{oid}", headers=headers).json()
                if doc["status"] not in ("pending", "running"):
                    break
                time.sleep(0.25)
            assert doc["status"] == "completed", doc


def test_a_model_whose_provider_is_not_in_use_is_not_said_not_to_exist(tmp_path: Path) -> None:
    """A server with OpenAI's key only: a Claude model of the catalog was "The model `claude-sonnet-4-6` does not
    exist" (and, preferred by a preset, "not in the catalog"), as if its name were wrong, while `/api` said its
    provider was not in use. Now both say what to set. (No model is called: the key is never used.)"""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    env = {"OPENAI_API_KEY": "sk-test-never-sent"}
    with (
        ServerProcess(url, tmp_path, env=env) as server,
        OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0) as client,
    ):
        for call in (
            lambda: client.chat.completions.create(model="claude-sonnet-4-6", messages=PROMPT),
            lambda: client.models.retrieve("claude-sonnet-4-6"),
        ):
            with pytest.raises(openai.NotFoundError) as raised:
                call()
            assert (raised.value.code, raised.value.param) == ("model_not_found", "model")
            assert raised.value.message.startswith(
                "Error code: 404 - The model `claude-sonnet-4-6` (anthropic:claude-sonnet-4-6) is in the catalog, but"
                " its provider 'anthropic' is not in use on this server (its API key is not set, or its adapter not"
                " installed)"
            )
        with pytest.raises(openai.NotFoundError, match=r"did you mean `gpt-4o`\?"):
            client.models.retrieve("GPT-4O")
        with pytest.raises(openai.NotFoundError, match="The model `gpt-99` does not exist: use a preset"):
            client.models.retrieve("gpt-99")
    presets = json.dumps({"team/claude": {"preferred_models": ["anthropic:claude-sonnet-4-6"]}})
    refused = ServerProcess(url, tmp_path, env={**env, "ORCHESTRATEX_PRESETS": presets}, name="presets")
    with pytest.raises(AssertionError, match="exited with 2") as stopped:
        refused.start()
    assert (
        "preset 'team/claude' prefers 'anthropic:claude-sonnet-4-6': model 'anthropic:claude-sonnet-4-6' is"
        " anthropic:claude-sonnet-4-6, whose provider 'anthropic' is not in use here" in str(stopped.value)
    )


async def _active_runs(url: str, user_id: str) -> int:
    store = await open_store(url)
    try:
        return await store.count_active_orchestrations(user_id)
    finally:
        await store.close()
