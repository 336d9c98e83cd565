"""One orchestration seen through the server's doors: the `/v1` stream (its comments, its `stream_events`
chunks) and the WebSocket tell the same story as the store."""

from __future__ import annotations

from typing import Any

from .conftest import Api
from .test_server_openai import sse

PROMPT = [{"role": "user", "content": "Write a haiku about TCP 🌍"}]


def test_an_unjudged_answer_streams_to_its_end(api: Api) -> None:
    """A session with `judging="when_needed"` returns a one-attempt answer unjudged: its `orchestration_completed`
    has `final_score` None. The stream's progress comment for it raised, and the client got `internal_error`
    after the whole answer."""
    session = api.session(settings={"judging": "when_needed"})
    body = {
        "model": "orchestratex/auto",
        "messages": PROMPT,
        "stream": True,
        "stream_events": True,
        "orchestratex": {"session_id": session["_id"], "max_iterations": 1},
    }
    r = api.client.post("/v1/chat/completions", json=body, headers=api.alice)
    payloads, comments, done = sse(r.text)
    assert done and not [p for p in payloads if "error" in p], payloads[-1]
    events = [p["orchestratex"]["event"] for p in payloads if not p["choices"] and "event" in p["orchestratex"]]
    assert events[-1]["type"] == "orchestration_completed" and events[-1]["final_score"] is None
    assert comments[-1].startswith("orchestratex orchestration_completed score=unjudged iterations=1 ")
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads if p["choices"])
    assert text == events[-1]["final_response"]
    finish = [p for p in payloads if p["choices"] and p["choices"][0]["finish_reason"]]
    assert finish[0]["orchestratex"]["score"] is None
    with api.client.websocket_connect(f"/ws/{session['_id']}?token={api.keys['alice']}") as ws:
        assert [ws.receive_json() for _ in events] == events  # the WebSocket's JSON, in the same order


def _events_stream(api: Api, **body: Any) -> list[dict[str, Any]]:
    body = {"messages": PROMPT, "stream": True, "stream_events": True, **body}
    payloads, _, done = sse(api.client.post("/v1/chat/completions", json=body, headers=api.alice).text)
    assert done or "error" in payloads[-1], payloads[-1]
    return payloads


def _event(payload: dict[str, Any]) -> dict[str, Any] | None:
    event: dict[str, Any] | None = payload.get("orchestratex", {}).get("event")
    return event


def test_no_chunk_names_the_preset_asked_for_once_a_model_is_chosen(api: Api) -> None:
    """The first chunks (the events before the answer) named the preset, `orchestratex/fast`, and the answer's the
    model that wrote it: the openai SDK's `stream()` helper, which keeps the first chunk's `model`, reported the
    preset. Each chunk now names the model at work: the attempt's from its `model_selected` on, then the final
    answer's; `orchestration_started` waits for the first choice."""
    payloads = _events_stream(api, model="orchestratex/fast")
    assert {p["model"] for p in payloads} == {payloads[-1]["orchestratex"]["final_model"]}
    payloads = _events_stream(api, model="orchestratex/auto", max_iterations=2, evaluation_threshold=9.99)
    started, selected = _event(payloads[0]), _event(payloads[1])
    assert started is not None and selected is not None
    assert (started["type"], selected["type"]) == ("orchestration_started", "model_selected")
    attempt = selected["model_name"]
    answer = [p for p in payloads if p["choices"]]
    for p in payloads[: payloads.index(answer[0])]:
        event = _event(p)
        if event is not None and event["type"] == "model_selected":
            attempt = event["model_name"]
        assert p["model"] == attempt, (p, attempt)
    assert {p["model"] for p in answer} == {answer[-1]["orchestratex"]["final_model"]}


def test_a_run_that_chooses_no_model_still_sends_its_started_event(api: Api) -> None:
    payloads = _events_stream(api, model="orchestratex/auto", cost_limit=0)
    events = [e["type"] for e in map(_event, payloads) if e is not None]
    assert events == ["orchestration_started", "orchestration_failed"]
    assert {p["model"] for p in payloads if "model" in p} == {"orchestratex/auto"}  # (no model was chosen)
    assert payloads[-1]["error"]["code"] == "budget_exceeded"
