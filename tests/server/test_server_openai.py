"""The OpenAI-compatible API in-process: shapes checked with the openai SDK's own types, settings,
sessions, limits, errors in OpenAI's shape, and SSE streams."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai import InternalServerError, OpenAI
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from starlette.testclient import TestClient

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator
from orchestratex.exceptions import ConfigurationError, ProviderServerError, StoreUnavailable
from orchestratex.orchestrator import RetryPolicy
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.server._openai import _HTTP_ERRORS
from orchestratex.server._openai_errors import _HTTP_CODES, _LIBRARY
from orchestratex.server._openai_results import StopFilter
from orchestratex.stores import MemoryStore

from ..helpers import catalog
from .conftest import Api, in_app_loop

PROMPT = [{"role": "user", "content": "Write a Python function to reverse a string"}]


def chat(api: Api, who: dict[str, str] | None = None, **body: Any) -> httpx2.Response:
    body.setdefault("model", "orchestratex/auto")
    body.setdefault("messages", PROMPT)
    return api.client.post("/v1/chat/completions", json=body, headers=api.alice if who is None else who)


def ok(response: httpx2.Response) -> ChatCompletion:
    assert response.status_code == 200, response.text
    return ChatCompletion.model_validate(response.json())


def error_of(response: httpx2.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) - {"orchestratex"} == {"message", "type", "param", "code"}, body
    assert body["error"].get("orchestratex") == body.get("orchestratex"), body  # (also inside: the SDK keeps `error`)
    assert body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def status_of(api: Api, oid: str, who: dict[str, str] | None = None) -> dict[str, Any]:
    r = api.client.get(f"/api/orchestration/status/{oid}", headers=api.alice if who is None else who)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def calls_usage(doc: dict[str, Any]) -> tuple[int, int]:
    """Input and output tokens of every call of an orchestration document: each answer and each judge."""
    calls = [it["usage"] for it in doc["iterations"]]
    calls += [v["usage"] for it in doc["iterations"] for v in it["evaluation"]["verdicts"]]
    return sum(c["input_tokens"] for c in calls), sum(c["output_tokens"] for c in calls)


def sse(text: str) -> tuple[list[dict[str, Any]], list[str], bool]:
    """The data payloads, the comments, and whether the stream ended with `[DONE]`."""
    payloads, comments, done = [], [], False
    for block in text.split("\n\n"):
        if not block:
            continue
        assert not done, "nothing may follow [DONE]"
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line[1:].strip())
            elif line == "data: [DONE]":
                done = True
            else:
                assert line.startswith("data: "), line
                payloads.append(json.loads(line[6:]))
    return payloads, comments, done


# -- models ---------------------------------------------------------------------------------------


def test_models_lists_the_presets_then_every_usable_model(api: Api) -> None:
    r = api.client.get("/v1/models", headers=api.alice)
    assert r.status_code == 200
    assert r.json()["object"] == "list"
    models = [Model.model_validate(m) for m in r.json()["data"]]
    ids = [m.id for m in models]
    assert ids[:3] == ["orchestratex/auto", "orchestratex/fast", "orchestratex/best"]
    assert {m.name for m in api.client.app.state.server.orchestrator.usable_models(None)} == set(ids[3:])  # type: ignore[attr-defined]
    fast = r.json()["data"][1]
    assert fast["owned_by"] == "orchestratex" and fast["orchestratex"]["preset"] == {"max_iterations": 1}
    one = api.client.get("/v1/models/gpt4", headers=api.alice)  # an alias resolves to its model
    assert (
        one.status_code == 200 and one.json()["id"] == "sim:gpt-4.1" and "gpt4" in one.json()["orchestratex"]["aliases"]
    )
    assert api.client.get("/v1/models/orchestratex/best", headers=api.alice).json()["id"] == "orchestratex/best"
    missing = error_of(api.client.get("/v1/models/gpt-99", headers=api.alice), 404)
    assert missing["code"] == "model_not_found" and missing["param"] == "model"


def test_the_models_url_with_a_trailing_slash_lists_the_models(api: Api) -> None:
    """`GET /v1/models/` (a base URL joined with a slash too many) answered 404 "The model `` does not exist"."""
    listed = api.client.get("/v1/models/", headers=api.alice)
    assert listed.status_code == 200, listed.text
    assert listed.json() == api.client.get("/v1/models", headers=api.alice).json()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer ox_not-a-key"}, {"Authorization": "Basic abc"}])
def test_every_v1_route_needs_a_key(api: Api, headers: dict[str, str]) -> None:
    for r in (api.client.get("/v1/models", headers=headers), chat(api, headers)):
        err = error_of(r, 401)
        assert err["code"] == "invalid_api_key" and err["type"] == "invalid_request_error"
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_v1_urls_and_methods_answer_in_openai_shape(api: Api) -> None:
    assert error_of(api.client.get("/v1/completions", headers=api.alice), 404)["type"] == "invalid_request_error"
    error_of(api.client.get("/v1/chat/completions", headers=api.alice), 405)
    # the spec's routes keep their own shape
    assert api.client.get("/api/models/", headers={}).json()["status_code"] == 401


# -- chat completions ---------------------------------------------------------------------------------


def test_a_completion_is_a_recorded_orchestration(api: Api) -> None:
    r = chat(api, temperature=0.2, max_tokens=500, user="end-user-1", seed=3)
    done = ok(r)
    ext = r.json()["orchestratex"]
    doc = status_of(api, ext["orchestration_id"])
    assert doc["status"] == "completed" and ext["status"] == "completed"
    assert done.id == f"chatcmpl-{doc['_id']}" and done.object == "chat.completion"
    assert done.model == doc["final_model"] == ext["final_model"]
    assert done.choices[0].message.content == doc["final_response"]
    final = next(it for it in doc["iterations"] if it["response"] == doc["final_response"])
    # "length" when the kept answer was cut at its output cap (a learned cap can cut one in fifty: docs/orchestrator.md)
    expected = "length" if final["finish_reason"] == "length" else "stop"
    assert done.choices[0].message.role == "assistant" and done.choices[0].finish_reason == expected
    assert (ext["score"], ext["cost"], ext["stop_reason"]) == (
        doc["final_score"],
        doc["total_cost"],
        doc["stop_reason"],
    )
    assert ext["iterations"] == len(doc["iterations"]) and ext["requested_model"] == "orchestratex/auto"
    assert doc["settings"]["max_output_tokens"] == 500
    # usage: every call, judges included
    assert done.usage is not None
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == calls_usage(doc)
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    judged = sum(v["usage"]["output_tokens"] for it in doc["iterations"] for v in it["evaluation"]["verdicts"])
    assert judged > 0 and done.usage.completion_tokens > sum(it["usage"]["output_tokens"] for it in doc["iterations"])
    # visible through the spec's API and analytics, in the caller's own session
    session = api.client.get(f"/api/sessions/{ext['session_id']}", headers=api.alice).json()
    assert session["user_id"] == "alice"
    analytics = api.client.get(f"/api/analytics/session/{ext['session_id']}", headers=api.alice).json()
    assert analytics["orchestrations"] == 1 and analytics["total_cost"] == doc["total_cost"]
    thread = api.client.get(f"/api/threads/{ext['thread_id']}", headers=api.alice).json()
    assert thread["original_prompt"] == PROMPT[0]["content"]


def test_each_user_has_one_default_session_and_an_ended_one_is_followed_by_a_new_one(api: Api) -> None:
    first = chat(api).json()["orchestratex"]
    second = chat(api).json()["orchestratex"]
    bobs = chat(api, api.bob).json()["orchestratex"]
    assert first["session_id"] == second["session_id"] != bobs["session_id"]
    assert first["thread_id"] != second["thread_id"]
    assert api.client.get(f"/api/sessions/{first['session_id']}", headers=api.bob).status_code == 404
    r = api.client.patch(f"/api/sessions/{first['session_id']}/status", json={"status": "completed"}, headers=api.alice)
    assert r.status_code == 200
    third = chat(api).json()["orchestratex"]
    assert third["session_id"] != first["session_id"]
    assert api.client.get(f"/api/sessions/{third['session_id']}", headers=api.alice).json()["status"] == "active"


def test_a_paused_default_session_is_refused_with_the_fix(api: Api) -> None:
    """Its `param` was `session_id`, a field the request had not sent (the docs: `param` says which session)."""
    sid = chat(api).json()["orchestratex"]["session_id"]
    api.client.patch(f"/api/sessions/{sid}/status", json={"status": "paused"}, headers=api.alice)
    err = error_of(chat(api), 400)
    assert err["code"] == "session_not_active" and f"PATCH /api/sessions/{sid}/status" in err["message"]
    assert err["param"] is None and f"your /v1 session {sid} is paused" in err["message"]
    named = error_of(chat(api, session_id=sid), 400)  # named by the request: then `param` says so
    assert (named["code"], named["param"]) == ("session_not_active", "session_id")


def test_settings_ride_in_extra_body_or_in_the_orchestratex_object(api: Api) -> None:
    preferred = ["gpt4", "claude"]
    names = [api.client.get(f"/v1/models/{p}", headers=api.alice).json()["id"] for p in preferred]
    flat = chat(api, max_iterations=2, threshold=9.9, preferred_models=preferred, patience=1, domain="coding")
    nested = chat(api, orchestratex={"max_iterations": 2, "evaluation_threshold": 9.9, "preferred_models": preferred})
    for r in (flat, nested):
        doc = status_of(api, ok(r).model_extra["orchestratex"]["orchestration_id"])  # type: ignore[index]
        assert doc["settings"]["max_iterations"] == 2 and doc["settings"]["evaluation_threshold"] == 9.9
        assert doc["settings"]["preferred_models"] == names
        assert {it["model_name"] for it in doc["iterations"]} <= set(doc["settings"]["preferred_models"])
    assert status_of(api, flat.json()["orchestratex"]["orchestration_id"])["domain"] == "coding"
    twice = error_of(chat(api, max_iterations=2, orchestratex={"max_iterations": 3}), 400)
    assert twice["param"] == "max_iterations"


def test_a_concrete_model_answers_alone_once(api: Api) -> None:
    r = chat(api, model="gpt4")
    done = ok(r)
    doc = status_of(api, r.json()["orchestratex"]["orchestration_id"])
    assert [it["model_name"] for it in doc["iterations"]] == ["sim:gpt-4.1"] == [done.model]
    assert doc["settings"]["preferred_models"] == ["sim:gpt-4.1"] and doc["settings"]["max_iterations"] == 1
    assert doc["iterations"][0]["evaluation"]["judge_models"] != ["sim:gpt-4.1"]  # judged by others
    more = status_of(
        api, chat(api, model="gpt4", max_iterations=3, threshold=10).json()["orchestratex"]["orchestration_id"]
    )
    assert len(more["iterations"]) >= 2 and {it["model_name"] for it in more["iterations"]} == {"sim:gpt-4.1"}
    err = error_of(chat(api, model="gpt4", preferred_models=["claude"]), 400)
    assert err["param"] == "preferred_models"


def test_the_conversation_reaches_the_orchestration(api: Api) -> None:
    messages = [
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "What is a tide?"},
        {"role": "assistant", "content": "Une marée est..."},
        {"role": "user", "content": [{"type": "text", "text": "And"}, {"type": "text", "text": "a neap tide?"}]},
    ]
    doc = status_of(api, chat(api, messages=messages).json()["orchestratex"]["orchestration_id"])
    assert doc["prompt"] == "And\na neap tide?"
    assert [(m["role"], m["content"]) for m in doc["messages"]] == [
        ("system", "Answer in French."),
        ("user", "What is a tide?"),
        ("assistant", "Une marée est..."),
        ("user", "And\na neap tide?"),
    ]


def test_an_assistant_s_refusal_in_the_conversation_is_what_it_said(api: Api) -> None:
    """An assistant turn holding a refusal, as OpenAI answers one and the SDK types allow (a `refusal` part, or the
    `refusal` field with no content), was refused ("'refusal' parts are not supported (text only)") or dropped as
    an empty message; it is now the assistant's turn, in its words."""
    said = "I can't help with that."
    for turn in (
        {"role": "assistant", "content": [{"type": "refusal", "refusal": said}]},
        {"role": "assistant", "content": None, "refusal": said},
    ):
        messages = [{"role": "user", "content": "Pick a lock"}, turn, {"role": "user", "content": "Explain locks"}]
        doc = status_of(api, ok(chat(api, messages=messages)).id.removeprefix("chatcmpl-"))
        assert [(m["role"], m["content"]) for m in doc["messages"]] == [
            ("user", "Pick a lock"),
            ("assistant", said),
            ("user", "Explain locks"),
        ]
    user_refusal = [{"role": "user", "content": [{"type": "refusal", "refusal": "x"}]}]
    assert error_of(chat(api, messages=user_refusal), 400)["param"] == "messages.0.content.0.type"


def test_a_thread_keeps_its_conversation(api: Api) -> None:
    first = chat(api, messages=[{"role": "user", "content": "Name a prime number"}])
    ext = first.json()["orchestratex"]
    follow = chat(api, thread_id=ext["thread_id"], messages=[{"role": "user", "content": "And another one?"}])
    doc = status_of(api, follow.json()["orchestratex"]["orchestration_id"])
    assert doc["thread_id"] == ext["thread_id"]
    assert [(m["role"], m["content"]) for m in doc["messages"]] == [
        ("user", "Name a prime number"),
        ("assistant", ok(first).choices[0].message.content),
        ("user", "And another one?"),
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_a_thread_continues_from_the_answer_the_client_received_not_past_its_stop(api: Api, stream: bool) -> None:
    first = chat(api, model="orchestratex/fast", messages=[{"role": "user", "content": "Q1"}])
    tid = first.json()["orchestratex"]["thread_id"]
    cut = chat(
        api,
        model="orchestratex/fast",
        thread_id=tid,
        stop=["answer"],
        stream=stream,
        messages=[{"role": "user", "content": "Q2"}],
    )
    if stream:
        payloads, _, _ = sse(cut.text)
        chunks = [ChatCompletionChunk.model_validate(p) for p in payloads]
        received = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        oid = chunks[0].id.removeprefix("chatcmpl-")
    else:
        received = ok(cut).choices[0].message.content or ""
        oid = cut.json()["orchestratex"]["orchestration_id"]
    stored = status_of(api, oid)
    assert "answer" in stored["final_response"] and received == stored["final_response"].split("answer")[0]
    assert stored["settings"]["stop_sequences"] == ["answer"]  # the orchestration keeps the whole answer
    after = chat(api, model="orchestratex/fast", thread_id=tid, messages=[{"role": "user", "content": "Q3"}])
    doc = status_of(api, after.json()["orchestratex"]["orchestration_id"])
    assert [(m["role"], m["content"]) for m in doc["messages"]][-3:] == [
        ("user", "Q2"),
        ("assistant", received),
        ("user", "Q3"),
    ]


def test_session_and_thread_ids_place_the_call(api: Api) -> None:
    sid = api.session(settings={"cost_limit": 5.0})["_id"]
    tid = api.thread(sid)["_id"]
    in_session = chat(api, session_id=sid).json()["orchestratex"]
    assert in_session["session_id"] == sid
    in_thread = chat(api, thread_id=tid).json()["orchestratex"]
    assert (in_thread["session_id"], in_thread["thread_id"]) == (sid, tid)
    assert error_of(chat(api, api.bob, session_id=sid), 404)["param"] == "session_id"
    assert error_of(chat(api, api.bob, thread_id=tid), 404)["param"] == "thread_id"
    other = api.session()["_id"]
    assert error_of(chat(api, thread_id=tid, session_id=other), 400)["param"] == "thread_id"
    api.client.patch(f"/api/sessions/{sid}/status", json={"status": "completed"}, headers=api.alice)
    assert error_of(chat(api, session_id=sid), 400)["code"] == "session_not_active"
    # (the session came from the thread: `param` says so, as documented; it said `session_id`, not sent)
    ended = error_of(chat(api, thread_id=tid), 400)
    assert (ended["code"], ended["param"]) == ("session_not_active", "thread_id"), ended
    assert f"thread {tid}" in ended["message"]


IMAGE = {"type": "image_url", "image_url": {"url": "x"}}
TOOL_CALL = {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"n": 2}, "n", "unsupported_parameter"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools", "unsupported_parameter"),
        ({"tool_choice": "required"}, "tool_choice", "invalid_value"),  # (only allowed with tools, as OpenAI says)
        ({"response_format": {"type": "json_object"}}, "response_format", "unsupported_parameter"),
        ({"logprobs": True}, "logprobs", "unsupported_parameter"),
        ({"top_logprobs": 3}, "top_logprobs", "unsupported_parameter"),  # (was blamed on `logprobs`, not sent)
        ({"top_logprobs": 21}, "top_logprobs", "invalid_value"),  # (OpenAI's range is 0 to 20)
        ({"top_logprobs": -1}, "top_logprobs", "invalid_value"),
        ({"response_format": {}}, "response_format.type", "invalid_value"),  # (was taken as text)
        ({"seed": 2**64}, "seed", "invalid_value"),  # (OpenAI's seed is a 64-bit integer)
        ({"seed": -(2**63) - 1}, "seed", "invalid_value"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio", "unsupported_parameter"),
        ({"modalities": ["text", "audio"]}, "modalities", "unsupported_parameter"),
        ({"web_search_options": {}}, "web_search_options", "unsupported_parameter"),
        ({"temperature": 3}, "temperature", "invalid_value"),
        ({"max_tokens": 0}, "max_tokens", "invalid_value"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "invalid_value"),
        ({"cost_limt": 1}, "cost_limt", "unknown_parameter"),
        ({"cost_limit": -1}, "cost_limit", "invalid_value"),
        ({"cost_limit": 1e9}, "cost_limit", "invalid_value"),
        ({"cost_limit": 1, "orchestratex": {"cost_limit": 2}}, "cost_limit", "invalid_value"),
        ({"orchestratex": {"max_iteration": 2}}, "max_iteration", "unknown_parameter"),
        ({"orchestratex": 5}, "orchestratex", "invalid_value"),
        ({"domain": "codeing"}, "domain", "invalid_value"),
        ({"orchestratex": {"domain": "MATHS"}}, "domain", "invalid_value"),
        ({"messages": []}, "messages", "invalid_value"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages.0.role", "invalid_value"),
        ({"messages": [{"role": "system", "content": "be nice"}]}, "messages.0.role", "invalid_value"),
        ({"messages": [*PROMPT, {"role": "assistant", "content": "2"}]}, "messages.1.role", "invalid_value"),
        ({"messages": [{"role": "user", "content": " "}]}, "messages.0.content", "invalid_value"),
        ({"messages": [{"role": "user", "content": "\u200b"}]}, "messages.0.content", "invalid_value"),  # invisible
        ({"messages": [{"role": "user", "content": None}]}, "messages.0.content", "invalid_value"),
        ({"messages": [{"role": "user", "content": [IMAGE]}]}, "messages.0.content.0.type", "unsupported_parameter"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text", "invalid_value"),
        (
            {"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}, *PROMPT]},  # (answers no call)
            "messages.0.role",
            "invalid_value",
        ),
        (
            {"messages": [*PROMPT, {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}, *PROMPT]},
            "messages.1.tool_calls",  # (its call is not answered)
            "invalid_value",
        ),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role", "invalid_value"),
        ({"stream_options": {"include_usage": True}}, "stream_options", "invalid_value"),
        ({"model": ""}, "model", "invalid_value"),
        ({"preferred_models": ["nonexistent-model"]}, "preferred_models", "invalid_value"),
        ({"preferred_models": ["gpt4"] * 101}, "preferred_models", "invalid_value"),  # (as /api: stored unbounded)
        ({"session_id": "z" * 100_000}, "session_id", "invalid_value"),  # (as /api; it was echoed in a 404)
        ({"orchestratex": {"thread_id": ""}}, "thread_id", "invalid_value"),
        ({"top_p": 1.5}, "top_p", "invalid_value"),
        ({"presence_penalty": 2.5}, "presence_penalty", "invalid_value"),
        ({"frequency_penalty": -3}, "frequency_penalty", "invalid_value"),
        ({"seed": "x"}, "seed", "invalid_value"),
        # accepted and not acted on, but with OpenAI's types (formerly any value passed)
        ({"user": 5}, "user", "invalid_value"),
        ({"metadata": "x"}, "metadata", "invalid_value"),
        ({"metadata": {"team": 1}}, "metadata.team", "invalid_value"),
        ({"service_tier": 5}, "service_tier", "invalid_value"),
        ({"logit_bias": {"50256": "x"}}, "logit_bias.50256", "invalid_value"),
        ({"prediction": "x"}, "prediction", "invalid_value"),
    ],
)
def test_invalid_requests_answer_400_naming_the_parameter_with_a_documented_code(
    api: Api, body: dict[str, Any], param: str, code: str
) -> None:
    err = error_of(chat(api, **body), 400)
    assert (err["type"], err["param"], err["code"]) == ("invalid_request_error", param, code), err
    assert code in DOCUMENTED_CODES


DOCUMENTED_CODES = set(
    re.findall(
        r"`([a-z_]+)`",
        (Path(__file__).parents[2] / "docs" / "openai-compatible.md")
        .read_text()
        .split("| status | when | `code` |")[1]
        .split("\n\n")[0],
    )
)
"""The codes of the errors table of docs/openai-compatible.md."""


@pytest.mark.parametrize(
    ("field", "value", "param", "said"),
    [
        ("content", {"text": "hi"}, "messages.0.content", "a string or an array of content parts"),
        ("content", 5, "messages.0.content", "a string or an array of content parts"),
        ("content", [{"text": "hi"}], "messages.0.content.0.type", "Field required"),
        ("content", [{"type": "text", "text": 5}], "messages.0.content.0.text", "valid string"),
        ("stop", 5, "stop", "a string or an array of strings"),
        ("stop", ["a", 5], "stop.1", "valid string"),
    ],
)
def test_a_value_of_a_field_taking_text_or_an_array_is_named_where_it_goes_wrong(
    api: Api, field: str, value: Any, param: str, said: str
) -> None:
    """`content` and `stop` take text or an array: a bad value was blamed on the text form whatever it was, with a
    `param` no request has (`messages.0.content.str: Input should be a valid string` for a part without its `type`,
    `stop.str` for `["a", 5]`)."""
    body: dict[str, Any] = {"model": "orchestratex/fast"}
    if field == "content":
        body["messages"] = [{"role": "user", "content": value}]
    else:
        body["stop"] = value
    err = error_of(chat(api, **body), 400)
    assert (err["param"], err["code"]) == (param, "invalid_value"), err
    assert err["message"].startswith(f"{param}: ") and said in err["message"], err


@pytest.mark.parametrize(
    ("body", "param", "said"),
    [
        ({"messages": ["hi"]}, "messages.0", '{"role": "user", "content": "..."}'),
        (
            {"messages": [{"role": "user", "content": ["hi"]}]},
            "messages.0.content.0",
            '{"type": "text", "text": "..."}',
        ),
        ({"stream": True, "stream_options": True}, "stream_options", '{"include_usage": true}'),
    ],
)
def test_a_value_that_should_be_an_object_says_which_object(
    api: Api, body: dict[str, Any], param: str, said: str
) -> None:
    """A message or content part given as bare text, the commonest slip, was "Input should be a valid dictionary or
    instance of ChatMessageIn" (or ContentPart, StreamOptions): the server's own class names, which no client knows."""
    err = error_of(chat(api, model="orchestratex/fast", **body), 400)
    assert (err["param"], err["code"]) == (param, "invalid_value"), err
    assert said in err["message"] and "instance of" not in err["message"], err


def test_a_misspelt_setting_in_the_orchestratex_object_is_named_with_the_settings_there_are(api: Api) -> None:
    nested = error_of(chat(api, orchestratex={"max_iteration": 2}), 400)
    assert "max_iteration in `orchestratex`" in nested["message"] and "max_iterations" in nested["message"]
    assert "Extra inputs" not in nested["message"]
    not_an_object = error_of(chat(api, orchestratex=5), 400)
    assert not_an_object["message"].startswith("orchestratex must be a JSON object of orchestration settings (")
    misspelt = error_of(chat(api, domain="codeing"), 400)
    assert "'codeing' looks like 'coding' misspelt" in misspelt["message"]
    completed = ok(chat(api, domain="CODING", max_iterations=1)).model_extra
    assert completed is not None
    assert status_of(api, completed["orchestratex"]["orchestration_id"])["domain"] == "coding"


def test_parameters_not_acted_on_are_accepted_with_openai_s_types(api: Api) -> None:
    accepted: dict[str, Any] = {
        "user": "u-1",
        "metadata": {"team": "core"},
        "service_tier": "auto",
        "reasoning_effort": "low",
        "verbosity": "low",
        "prompt_cache_key": "k",
        "safety_identifier": "s",
        "logit_bias": {"50256": -100},
        "prediction": {"type": "content", "content": "x"},
        "prompt_cache_retention": "24h",
        "prompt_cache_options": {"mode": "implicit"},
        "temperature": 0,
        "seed": 7,
    }
    assert ok(chat(api, model="orchestratex/fast", **accepted))
    wrong: dict[str, Any] = {"prompt_cache_retention": 24, "prompt_cache_options": "24h"}
    for name, value in wrong.items():
        assert error_of(chat(api, model="orchestratex/fast", **{name: value}), 400)["param"] == name


def test_every_parameter_of_the_openai_sdk_is_known(api: Api) -> None:
    """The SDK sends `prompt_cache_retention`, `prompt_cache_options` and `moderation`, OpenAI parameters that were
    refused as unknown ("Unrecognized request argument supplied", `unknown_parameter`), as a misspelt one is. Each
    parameter of the SDK's `chat.completions.create` is now accepted or refused as unsupported, naming it."""
    from openai.types.chat.completion_create_params import CompletionCreateParamsBase

    err = error_of(chat(api, model="orchestratex/fast", moderation={"model": "omni-moderation-latest"}), 400)
    assert (err["param"], err["code"]) == ("moderation", "unsupported_parameter"), err
    for name in set(CompletionCreateParamsBase.__annotations__) - {"model", "messages"}:
        # (a model that does not exist: the parameters are read first, and nothing runs)
        err = error_of(chat(api, model="no-such-model", **{name: None}), 404)
        assert err["code"] == "model_not_found", (name, err)


def test_threshold_and_its_long_name_together_are_one_setting_given_twice(api: Api) -> None:
    """Formerly "threshold: Extra inputs are not permitted" (top level), or "Unrecognized request argument supplied:
    threshold in `orchestratex`", calling a documented setting unknown."""
    for body in (
        {"threshold": 8, "evaluation_threshold": 9},
        {"orchestratex": {"threshold": 8, "evaluation_threshold": 9}},
    ):
        err = error_of(chat(api, **body), 400)
        assert (err["param"], err["code"]) == ("threshold", "invalid_value"), err
        assert "same setting" in err["message"] and "give one" in err["message"]
        assert "Extra inputs" not in err["message"] and "Unrecognized" not in err["message"]
    assert ok(chat(api, model="orchestratex/fast", threshold=8))


def test_bodies_that_are_not_json_objects_answer_400_invalid_json(api: Api) -> None:
    for content in (b"{not json", b"[1, 2]"):
        r = api.client.post("/v1/chat/completions", content=content, headers=api.alice)
        assert error_of(r, 400)["code"] == "invalid_json" in DOCUMENTED_CODES


def test_unknown_urls_and_methods_answer_with_documented_codes(api: Api) -> None:
    assert error_of(api.client.get("/v1/nowhere", headers=api.alice), 404)["code"] == "not_found"
    assert error_of(api.client.delete("/v1/models", headers=api.alice), 405)["code"] == "method_not_allowed"
    assert {"not_found", "method_not_allowed"} <= DOCUMENTED_CODES
    # (a GET where POST is needed, as a browser sends: the answer had no `Allow` header and did not name POST)
    wrong = api.client.get("/v1/chat/completions", headers=api.alice)
    assert wrong.headers["Allow"] == "POST"
    assert error_of(wrong, 405)["message"].startswith("GET is not allowed on /v1/chat/completions: use POST")


def test_every_error_code_of_the_v1_modules_is_documented() -> None:
    server = Path(__file__).parents[2] / "src" / "orchestratex" / "server"
    used = {c for f in server.glob("_openai*.py") for c in re.findall(r'code="([a-z_]+)"', f.read_text())}
    used |= {code for _, _, code in _LIBRARY if code} | set(_HTTP_CODES.values())
    used |= {code for _, code in _HTTP_ERRORS.values() if code}
    assert used and used <= DOCUMENTED_CODES, used - DOCUMENTED_CODES


def test_an_unknown_preferred_model_is_a_400_naming_preferred_models_not_model(api: Api) -> None:
    err = error_of(chat(api, model="orchestratex/fast", preferred_models=["gpt4", "nonexistent-model"]), 400)
    assert (err["param"], err["code"]) == ("preferred_models", "invalid_value")
    assert "nonexistent-model" in err["message"] and "GET /v1/models" in err["message"]


def test_unknown_or_unusable_models_answer_404(api: Api) -> None:
    err = error_of(chat(api, model="gpt-99"), 404)
    assert (err["code"], err["param"]) == ("model_not_found", "model")
    assert "orchestratex/auto" in err["message"]


def test_stop_sequences_cut_the_answer(api: Api) -> None:
    r = chat(api, model="orchestratex/fast", stop="no real model")
    full = status_of(api, r.json()["orchestratex"]["orchestration_id"])["final_response"]
    done = ok(r)
    assert "no real model" in full
    assert done.choices[0].message.content == full[: full.index("no real model")]
    assert done.choices[0].finish_reason == "stop"


def test_a_run_that_ends_without_an_answer_is_an_error_never_retried(api: Api) -> None:
    r = chat(api, cost_limit=0)
    err = error_of(r, 402)
    assert err["code"] == "budget_exceeded" and r.headers["x-should-retry"] == "false"
    doc = status_of(api, r.json()["orchestratex"]["orchestration_id"])
    assert doc["status"] == "failed" and doc["stop_reason"] == "budget"


class _StoreLostAtTheEnd(MemoryStore):
    """A store that cannot be reached when a run commits its end (after its models were paid for)."""

    async def commit(self, orchestration: Any, events: Any = (), **rest: Any) -> Any:
        if orchestration.status == "completed":
            raise StoreUnavailable("cannot reach the database")
        return await super().commit(orchestration, events, **rest)


def test_a_store_failure_after_the_run_started_is_never_retried_by_the_sdk(make_api: Callable[..., Api]) -> None:
    """The store lost as a run ended answered 503 `store_unavailable` without `x-should-retry: false`: the openai SDK
    (max_retries=2) sent the call twice more, three orchestrations ran (each paid, each left to resume later)."""
    api = make_api(store=_StoreLostAtTheEnd())
    client = OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=2)
    with pytest.raises(InternalServerError) as raised:
        client.chat.completions.create(model="orchestratex/fast", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 503 and raised.value.response.headers["x-should-retry"] == "false"
    runs = in_app_loop(api.client).call(api.store.list_orchestrations)
    assert len(runs) == 1 and f"orchestration {runs[0].id} had started" in raised.value.message


@pytest.mark.parametrize("stream", [False, True])
def test_a_conversation_longer_than_every_window_is_refused_before_anything_is_stored(api: Api, stream: bool) -> None:
    """Formerly stored and run to `failed`: 502 `orchestration_failed` (a stream's error payload), as OpenAI
    refuses it with a 400 `context_length_exceeded`. A thread's earlier turns count, as the run sends them."""

    def stored() -> int:
        async def count() -> int:
            return len(await api.store.list_orchestrations())

        return in_app_loop(api.client).call(count)

    first = chat(api, model="haiku", messages=[{"role": "user", "content": "x" * 240_000}])  # 60,000 tokens
    assert ok(first)
    thread = {"thread_id": first.json()["orchestratex"]["thread_id"]}
    before = stored()
    for messages, extra in (
        ([{"role": "user", "content": "x" * 500_000}], {}),  # 125,000 tokens: haiku's window is 100,000
        ([{"role": "user", "content": "y" * 200_000}], thread),  # 50,000 more after the thread's 60,000
    ):
        err = error_of(chat(api, model="haiku", messages=messages, stream=stream, **extra), 400)
        assert (err["code"], err["param"], err["type"]) == (
            "context_length_exceeded",
            "messages",
            "invalid_request_error",
        )
        assert "100,000 tokens" in err["message"] and "shorten the prompt" in err["message"]
    assert stored() == before
    answer_too_long = chat(api, model="haiku", messages=[{"role": "user", "content": "x" * 390_000}], max_tokens=30_000)
    assert "lower max_tokens" in error_of(answer_too_long, 400)["message"]
    long_prompt = [{"role": "user", "content": "x" * 390_000}]
    named = error_of(chat(api, model="haiku", messages=long_prompt, max_completion_tokens=30_000), 400)["message"]
    assert named.endswith("lower max_completion_tokens")  # (the field the request used: it said max_tokens)
    assert ok(chat(api, model="haiku", messages=[{"role": "user", "content": "x" * 390_000}], max_tokens=100))
    assert stored() == before + 1


# -- limits ---------------------------------------------------------------------------------------


def test_the_session_rate_limit_applies_with_retry_after(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit=2)
    for _ in range(2):
        assert chat(api, model="orchestratex/fast").status_code == 200
    r = chat(api, model="orchestratex/fast")
    err = error_of(r, 429)
    assert err["code"] == "rate_limit_exceeded"
    assert 1 <= int(r.headers["Retry-After"]) <= 60 and "RateLimit" in r.headers
    assert chat(api, api.bob, model="orchestratex/fast").status_code == 200  # bob's own session


def test_the_concurrency_limit_applies_with_retry_after(make_api: Callable[..., Api]) -> None:
    api = make_api(max_concurrent=1)
    sid = api.session()["_id"]
    orchestrator = api.client.app.state.server.orchestrator  # type: ignore[attr-defined]
    in_app_loop(api.client).call(lambda: orchestrator.prepare("held", session=sid))  # pending: holds alice's slot
    r = chat(api)
    err = error_of(r, 429)
    assert "orchestrations running" in err["message"] and r.headers["Retry-After"] == "1"
    assert chat(api, api.bob, model="orchestratex/fast").status_code == 200


# -- presets --------------------------------------------------------------------------------------


def test_the_storage_quota_counts_the_messages_of_a_call(make_api: Callable[..., Api]) -> None:
    api = make_api(storage_quota_bytes=10_000)
    big = [{"role": "system", "content": "s" * 3_000}, {"role": "user", "content": "u" * 2_000}]
    # as /api counts an orchestration: its prompt (2,000) and its conversation (5,000), then the new thread's 2,000
    ok(chat(api, model="orchestratex/fast", messages=big))
    r = chat(api, model="orchestratex/fast", messages=big)
    err = error_of(r, 413)
    assert err["code"] == "storage_quota_exceeded" and "storage quota reached: user alice" in err["message"]
    ok(chat(api, model="orchestratex/fast", messages=[{"role": "user", "content": "x" * 400}]))  # nothing counted
    ok(chat(api, api.bob, model="orchestratex/fast", messages=big))  # another user's own quota


def test_the_storage_quota_counts_a_thread_s_earlier_turns_and_the_stop_sequences(make_api: Callable[..., Api]) -> None:
    """A call continuing a thread stores the thread's earlier turns and their answers with its orchestration, and a
    call's stop sequences are stored in its settings: `/v1` counted neither (only the text of the request), so a long
    thread, or a call with four 1 MB stop sequences, stored past the quota that `/api/orchestration/start` enforces."""
    api = make_api(storage_quota_bytes=12_000)
    first = ok(chat(api, model="orchestratex/fast", messages=[{"role": "user", "content": "u" * 3_000}]))
    thread = {"thread_id": (first.model_extra or {})["orchestratex"]["thread_id"]}  # 6,000 so far
    ok(chat(api, model="orchestratex/fast", messages=[{"role": "user", "content": "next"}], **thread))  # 3,000 more
    again = chat(api, model="orchestratex/fast", messages=[{"role": "user", "content": "again"}], **thread)
    assert error_of(again, 413)["code"] == "storage_quota_exceeded"  # its conversation holds the 3,000 once more
    stops = chat(
        api, api.bob, model="orchestratex/fast", messages=[{"role": "user", "content": "hi"}], stop=["s" * 3_000] * 4
    )
    assert error_of(stops, 413)["code"] == "storage_quota_exceeded"
    ok(
        chat(
            api, api.bob, model="orchestratex/fast", messages=[{"role": "user", "content": "hi"}], stop=["s" * 100] * 4
        )
    )


def test_presets_are_configurable(make_api: Callable[..., Api], tmp_path: Path) -> None:
    api = make_api(
        presets={
            "orchestratex/cheap": {"description": "cheap", "max_iterations": 1, "preferred_models": ["gpt4"]},
            "orchestratex/best": None,
        }
    )
    ids = [m["id"] for m in api.client.get("/v1/models", headers=api.alice).json()["data"]]
    assert "orchestratex/cheap" in ids and "orchestratex/best" not in ids and "orchestratex/auto" in ids
    doc = status_of(api, chat(api, model="orchestratex/cheap").json()["orchestratex"]["orchestration_id"])
    assert doc["settings"]["max_iterations"] == 1 and doc["settings"]["preferred_models"] == ["sim:gpt-4.1"]
    assert error_of(chat(api, model="orchestratex/best"), 404)["code"] == "model_not_found"
    toml = tmp_path / "presets.toml"
    toml.write_text('[presets."team/careful"]\nmax_iterations = 4\nevaluation_threshold = 9.5\n')
    env = ServerSettings.from_env({"ORCHESTRATEX_PRESETS": str(toml)})
    assert env.presets["team/careful"] is not None and env.presets["team/careful"].max_iterations == 4
    inline = ServerSettings.from_env({"ORCHESTRATEX_PRESETS": '{"x/y": {"cost_limit": 0.5}}'})
    assert inline.presets["x/y"] is not None and inline.presets["x/y"].cost_limit == 0.5


@pytest.mark.parametrize(
    "value",
    ['{"a": {"max_iterations": 0}}', '{"a": {"colour": 1}}', "{broken", "/no/such/presets.toml", '{"a": 3}'],
)
def test_bad_presets_are_configuration_errors(value: str) -> None:
    with pytest.raises(ConfigurationError, match="presets"):
        ServerSettings.from_env({"ORCHESTRATEX_PRESETS": value})


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ('{"domain": "codeing"}', "domain: domain 'codeing' looks like 'coding' misspelt"),
        ('{"cost_limit": 1e12}', "cost_limit: Input should be less than or equal to 1000000"),
        ('{"preferred_models": []}', "preferred_models: Tuple should have at least 1 item"),
        ('{"evaluation_threshold": NaN}', "evaluation_threshold: Input should be a finite number"),
    ],
)
def test_a_preset_no_call_could_use_stops_the_server_from_starting(settings: str, says: str) -> None:
    """Formerly the server started, and every call of the preset answered 400 about a `domain` or a `cost_limit`
    it did not send (an empty `preferred_models` routed among every model; NaN said "less than or equal to 10")."""
    with pytest.raises(ConfigurationError, match="presets") as refused:
        ServerSettings.from_env({"ORCHESTRATEX_PRESETS": f'{{"team/x": {settings}}}'})
    assert f"'team/x': {says}" in str(refused.value)
    kept = ServerSettings.from_env(
        {"ORCHESTRATEX_PRESETS": '{"team/x": {"domain": "CODING"}, "y": {"domain": "legal"}}'}
    )
    assert [kept.presets[name].domain for name in ("team/x", "y")] == ["coding", "legal"]  # type: ignore[union-attr]


def test_a_preset_preferring_an_unknown_model_stops_the_app_from_being_built() -> None:
    with pytest.raises(ConfigurationError, match="gpt-99"):
        create_app(MemoryStore(), settings=ServerSettings(presets={"p": {"preferred_models": ["gpt-99"]}}))


# -- streaming ------------------------------------------------------------------------------------


def test_a_stream_sends_progress_comments_then_the_final_answer(api: Api) -> None:
    r = chat(api, stream=True, stream_options={"include_usage": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    payloads, comments, done = sse(r.text)
    assert done
    chunks = [ChatCompletionChunk.model_validate(p) for p in payloads]
    oid = chunks[0].id.removeprefix("chatcmpl-")
    doc = status_of(api, oid)
    assert comments[0].startswith(f"orchestratex orchestration {oid}")
    kinds = [c.split()[1] for c in comments[1:] if c.startswith("orchestratex ")]
    assert kinds[0] == "orchestration_started" and kinds[-1] == "orchestration_completed"
    assert kinds.count("evaluation_completed") == len(doc["iterations"])
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == doc["final_response"]
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].choices[0].finish_reason == "stop"
    assert finish[0].model_extra["orchestratex"]["orchestration_id"] == oid  # type: ignore[index]
    assert {c.model for c in chunks} == {doc["final_model"]}
    usage = chunks[-1]
    assert usage.choices == [] and usage.usage is not None
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens) == calls_usage(doc)
    assert all(c.usage is None for c in chunks[:-1])


def test_a_stream_without_include_usage_has_no_usage_chunk_and_events_are_opt_in(api: Api) -> None:
    plain, _, _ = sse(chat(api, stream=True, model="orchestratex/fast").text)
    assert all("usage" not in p and p["choices"] for p in plain)
    with_events, _, done = sse(chat(api, stream=True, model="orchestratex/fast", stream_events=True).text)
    extras = [p["orchestratex"] for p in with_events if not p["choices"]]
    events = [x["event"] for x in extras if "event" in x]
    drafts = [x["delta"] for x in extras if "delta" in x]
    assert done and events[0]["type"] == "orchestration_started" and events[-1]["type"] == "orchestration_completed"
    assert [e["seq"] for e in events] == list(range(events[0]["seq"], events[0]["seq"] + len(events)))
    assert [d["index"] for d in drafts] == list(range(len(drafts))) and len(drafts) > 1
    assert "".join(d["text"] for d in drafts) == events[-1]["final_response"]


def order(text: str) -> list[str]:
    """What a stream sends, in order: `content` for a content chunk, else the comment's event type."""
    seen = []
    for block in text.split("\n\n"):
        if block.startswith(": orchestratex "):
            seen.append(block.split()[2])
        elif block.startswith("data: {") and json.loads(block[6:]).get("choices"):
            if json.loads(block[6:])["choices"][0]["delta"].get("content"):
                seen.append("content")
    return seen


def test_a_one_attempt_run_streams_its_answer_live_and_others_once_judged(api: Api) -> None:
    live = order(chat(api, stream=True, model="orchestratex/fast").text)
    assert live.index("content") < live.index("response_generated") < live.index("evaluation_completed")
    assert live.count("content") > 1  # piece by piece, as the model produced it
    judged = order(chat(api, stream=True, model="orchestratex/auto").text)
    assert judged.index("content") > judged.index("orchestration_completed")


def test_a_stream_that_ends_without_an_answer_ends_with_an_error_payload(api: Api) -> None:
    r = chat(api, stream=True, cost_limit=0)
    payloads, _, done = sse(r.text)
    assert not done
    assert payloads[-1]["error"]["code"] == "budget_exceeded"
    assert all(not p.get("choices") for p in payloads)


def test_stop_sequences_cut_a_streamed_answer(api: Api) -> None:
    payloads, _, _ = sse(chat(api, stream=True, model="orchestratex/fast", stop=["no real model"]).text)
    chunks = [ChatCompletionChunk.model_validate(p) for p in payloads]
    full = status_of(api, chunks[0].id.removeprefix("chatcmpl-"))["final_response"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "no real model" in full and text == full[: full.index("no real model")]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_a_streamed_cut_waits_for_a_longer_stop_that_starts_earlier() -> None:
    """`b` is found first while streaming, but `ab\n`, which starts earlier, ends the text before it."""
    streamed = StopFilter(["b", "ab\n"])
    assert [streamed.feed(p) for p in ("a", "b", "\n")] == ["", "", ""]
    assert streamed.flush() == "" and streamed.stopped
    diverged = StopFilter(["b", "ab\n"])
    assert [diverged.feed(p) for p in ("a", "b", "x")] == ["", "", "a"] and diverged.stopped


@given(
    st.lists(st.text(alphabet="ab\n", max_size=6), max_size=8),
    st.lists(st.text(alphabet="ab\n", min_size=1, max_size=3), max_size=3),
)
def test_a_streamed_cut_equals_the_whole_cut(pieces: list[str], stops: list[str]) -> None:
    whole = "".join(pieces)
    streamed = StopFilter(stops)
    out = "".join(streamed.feed(p) for p in pieces) + streamed.flush()
    first = min((i for i in (whole.find(s) for s in stops) if i >= 0), default=len(whole))
    assert out == whole[:first] == StopFilter(stops).cut(whole)
    assert streamed.stopped == (first < len(whole))


def test_a_live_answer_that_restarts_after_text_went_out_ends_with_an_error_naming_the_orchestration() -> None:
    calls = {"n": 0}

    def answers(request: GenerationRequest) -> Iterator[str]:
        if request.purpose == "judge":
            yield json.dumps({"score": 9, "feedback": "fine"})
            return
        calls["n"] += 1
        yield "Hello, "
        if calls["n"] == 1:
            raise ProviderServerError("upstream hiccup", status_code=503)
        yield "world."

    store = MemoryStore()
    orchestrator = Orchestrator(
        providers=[FunctionProvider(answers)],
        catalog=catalog("a", "b"),
        store=store,
        retry=RetryPolicy(initial_wait=0, max_wait=0),
    )
    with TestClient(create_app(orchestrator=orchestrator)) as client:
        key = in_app_loop(client).call(issue_api_key, store, "alice")
        body = {"model": "function:a", "messages": PROMPT, "stream": True}
        r = client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
        payloads, _, done = sse(r.text)
        assert not done
        sent = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads if p.get("choices"))
        assert sent == "Hello, "
        err = payloads[-1]["error"]
        oid = payloads[-1]["orchestratex"]["orchestration_id"]
        assert err["code"] == "stream_interrupted" and f"/api/orchestration/status/{oid}" in err["message"]
        status = client.get(f"/api/orchestration/status/{oid}", headers={"Authorization": f"Bearer {key}"}).json()
        assert status["status"] == "completed" and status["final_response"] == "Hello, world."
        # the same failure before any text went out streams the retried answer cleanly
        calls["n"] = 0
        body["stop"] = ["Hello"]  # holds the first piece back
        r = client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
        payloads, _, done = sse(r.text)
        assert done and payloads[-1]["choices"][0]["finish_reason"] == "stop"


def test_processes_sharing_a_store_find_the_same_default_session(make_api: Callable[..., Api]) -> None:
    store = MemoryStore()
    one, two = make_api(store), make_api(store)
    first = chat(one, model="orchestratex/fast").json()["orchestratex"]["session_id"]
    second = chat(two, two.alice, model="orchestratex/fast").json()["orchestratex"]["session_id"]
    assert first == second


@pytest.mark.parametrize("field", ["cost_limit", "threshold", "temperature", "top_p"])
def test_a_non_finite_number_is_refused_as_such(api: Api, field: str) -> None:
    body = f'{{"model": "orchestratex/auto", "messages": {json.dumps(PROMPT)}, "{field}": NaN}}'
    headers = {**api.alice, "Content-Type": "application/json"}
    err = error_of(api.client.post("/v1/chat/completions", content=body, headers=headers), 400)
    assert (err["param"], err["message"]) == (field, f"{field}: Input should be a finite number")


def test_a_live_answer_that_restarts_after_only_white_space_went_out_streams_the_retried_answer() -> None:
    """Models often begin with a line break. An attempt that failed after sending only that (a dropped connection,
    here a 503, or an answer of white space only, which is no answer) ended the stream with `stream_interrupted`,
    though nothing the client could see had gone out: the leading white space now goes with the first visible text."""
    calls = {"n": 0}

    def answers(request: GenerationRequest) -> Iterator[str]:
        if request.purpose == "judge":
            yield json.dumps({"score": 9, "feedback": "fine"})
            return
        calls["n"] += 1
        yield "\n\n"
        if calls["n"] == 1:
            raise ProviderServerError("upstream hiccup", status_code=503)
        yield "Hello, "
        yield "world."

    store = MemoryStore()
    orchestrator = Orchestrator(
        providers=[FunctionProvider(answers)],
        catalog=catalog("a", "b"),
        store=store,
        retry=RetryPolicy(initial_wait=0, max_wait=0),
    )
    with TestClient(create_app(orchestrator=orchestrator)) as client:
        key = in_app_loop(client).call(issue_api_key, store, "alice")
        headers = {"Authorization": f"Bearer {key}"}
        for stop in (None, ["world"]):
            calls["n"] = 0
            body = {"model": "function:a", "messages": PROMPT, "stream": True, "stop": stop}
            payloads, _, done = sse(client.post("/v1/chat/completions", json=body, headers=headers).text)
            assert done, payloads[-1]
            sent = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads if p.get("choices"))
            assert sent == ("\n\nHello, world." if stop is None else "\n\nHello, ")
            assert payloads[-1]["choices"][0]["finish_reason"] == "stop" and calls["n"] == 2
            assert [p["choices"][0]["delta"].get("content") for p in payloads if p.get("choices")][:2] == [
                "",
                "\n\nHello, ",
            ]


class _StoreBrokenAtTheEnd(MemoryStore):
    """A store failing with an error of no kind the server knows when a run commits its end."""

    async def commit(self, orchestration: Any, events: Any = (), **rest: Any) -> Any:
        if orchestration.status == "completed":
            raise RuntimeError("the driver broke")
        return await super().commit(orchestration, events, **rest)


def test_the_log_of_an_unexpected_failure_names_the_request_id_its_answer_carries(
    make_api: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    """An operator finds the server's side of a call by the `x-request-id` its client logged (`exc.request_id`)."""
    api = make_api(store=_StoreBrokenAtTheEnd())
    client = OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=0)
    with caplog.at_level("ERROR", logger="orchestratex.server"), pytest.raises(InternalServerError) as raised:
        client.chat.completions.create(model="orchestratex/fast", messages=[{"role": "user", "content": "hi"}])
    ident = raised.value.request_id
    assert ident is not None and re.fullmatch(r"req_[0-9a-f]{32}", ident), raised.value.response.headers
    logged = [r for r in caplog.records if r.name == "orchestratex.server" and "failed unexpectedly" in r.getMessage()]
    assert [r.__dict__.get("request_id") for r in logged] == [ident] and ident in logged[0].getMessage()
