"""One orchestration seen through the server's doors: the `/v1` stream (its comments, its `stream_events`
chunks) and the WebSocket tell the same story as the store."""

from __future__ import annotations

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
