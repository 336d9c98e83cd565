"""`/v1` answers what clients send at its edges: a body with a byte order mark, a model name of any length, a store
that cannot be reached before anything ran."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orchestratex.exceptions import StoreUnavailable
from orchestratex.stores import MemoryStore

from .conftest import Api
from .test_server_openai import PROMPT, chat, error_of, ok


def test_a_body_with_a_utf8_byte_order_mark_is_read(api: Api) -> None:
    """PowerShell's `Out-File -Encoding utf8` (and Notepad) write a byte order mark first: `/v1` refused such a body
    as "not valid JSON (expected value at line 1 column 1)", while `/api` and JSON's own parsers skip it."""
    body = json.dumps({"model": "orchestratex/fast", "messages": PROMPT}).encode()
    r = api.client.post("/v1/chat/completions", content=b"\xef\xbb\xbf" + body, headers=api.alice)
    assert ok(r).choices[0].message.content


def test_an_unknown_model_of_any_length_is_not_echoed_whole(api: Api) -> None:
    """A 60,000-character model name came back whole in the 404 (and in the 400 of `preferred_models`): a 60 KB
    answer, written to the client's logs."""
    name = "m" * 60_000
    for response, status in (
        (chat(api, model=name), 404),
        (api.client.get(f"/v1/models/{name}", headers=api.alice), 404),
        (chat(api, preferred_models=[name]), 400),
    ):
        err = error_of(response, status)
        assert len(response.content) < 2_000, err["message"][:200]
        assert "60,000 characters" in err["message"] or "(60000 characters)" in err["message"], err["message"][:300]
    assert "does not exist" in error_of(chat(api, model="no-such-model"), 404)["message"]
    assert "`no-such-model`" in error_of(chat(api, model="no-such-model"), 404)["message"]


def test_a_field_name_of_any_length_is_not_echoed_whole(api: Api) -> None:
    """A field name of 60,000 characters (a document sent as a key: `{text: 1}` with the text in a variable) came back
    whole in the 400, twice (the message and `param`), for an unknown field, one in `orchestratex`, and a key of
    `metadata` or `logit_bias` whose value is refused; `/api` and a field given twice cut it."""
    name = "k" * 60_000
    unknown: dict[str, Any] = {name: 1}
    for response in (
        chat(api, **unknown),
        chat(api, orchestratex={name: 1}),
        chat(api, metadata={name: 1}),
        chat(api, logit_bias={name: "high"}),
    ):
        err = error_of(response, 400)
        assert len(response.content) < 2_000, err["message"][:200]
        assert "(60000 characters)" in err["message"] and "(60000 characters)" in err["param"], err["message"][:300]
    assert error_of(chat(api, tempreature=1), 400)["param"] == "tempreature"  # (a short name as it is)
    assert error_of(chat(api, metadata={"run": 1}), 400)["param"] == "metadata.run"


def test_a_value_of_any_length_is_not_echoed_whole(api: Api) -> None:
    """A content part's `type`, `response_format.type`, a tool call's `type` and `id` and a tool message's
    `tool_call_id` of 60,000 characters came back whole in the 400 (a tool call's `type` twice, in `param` too); they
    are cut past 80 characters, saying how long they were, as a field name is."""
    long = "t" * 60_000
    asked: dict[str, Any] = PROMPT[0]

    def called(call: dict[str, Any]) -> dict[str, Any]:
        return {"role": "assistant", "content": None, "tool_calls": [call]}

    function = {"name": "f", "arguments": "{}"}
    answer: dict[str, Any] = {"role": "tool", "tool_call_id": "c1", "content": "4"}
    for messages, extra in (
        ([{"role": "user", "content": [{"type": long, "text": "Name a prime"}]}], {}),
        ([asked], {"response_format": {"type": long}}),
        ([asked], {"response_format": {"type": {"schema": long}}}),
        ([asked, called({"id": "c1", "type": long, "function": function}), answer], {}),
        ([asked, called({"id": "c1", "type": long, long: {"name": "f", "arguments": {}}}), answer], {}),
        ([asked, called({"id": long, "type": "function", "function": function}), asked], {}),
        ([asked, called({"id": "c1", "type": "function", "function": function}), {**answer, "tool_call_id": long}], {}),
    ):
        response = chat(api, messages=messages, **extra)
        err = error_of(response, 400)
        assert len(response.content) < 2_000, err["message"][:300]
        assert "… (600" in err["message"], err["message"][:300]  # (cut, saying how long it was)
        assert len(err["param"]) < 200
    short = [asked, called({"id": "c1", "type": "functoin", "function": function}), answer]
    assert error_of(chat(api, messages=short), 400)["param"] == "messages.1.tool_calls.0.functoin"  # (as it is)
    typed = [asked, called({"id": "c1", "type": 7, "function": function}), answer]
    assert error_of(chat(api, messages=typed), 400)["param"] == "messages.1.tool_calls.0.type"


class _Unreachable(MemoryStore):
    """A store whose database cannot be reached when a call's thread is stored (before any model ran)."""

    async def create_thread(self, thread: Any) -> Any:
        raise StoreUnavailable("cannot reach mongodb://app@db-7.internal.example:27017 (topology: ...)")


def test_an_unreachable_store_answers_503_with_retry_after_and_without_its_address(
    make_api: Callable[..., Api],
) -> None:
    """`/v1` answered the store's own message (the database's user, host and port) with no `Retry-After`, where `/api`
    says the database is unavailable and when to retry, and logs where and why."""
    api = make_api(store=_Unreachable())
    r = chat(api)
    err = error_of(r, 503)
    assert err["code"] == "store_unavailable"
    assert "db-7.internal" not in r.text and "mongodb://" not in r.text
    assert "unavailable" in err["message"] and r.headers["Retry-After"] == "1"


def test_a_body_that_is_not_utf8_is_said_to_be_so(api: Api) -> None:
    """Windows PowerShell 5.1's `Invoke-RestMethod` sends a string body in ISO-8859-1: a message with an `é` was
    refused as "not valid JSON: invalid unicode code point at line 1 column 71", blaming JSON that was valid; `/api`
    says the body is not UTF-8. A UTF-16 file (PowerShell's `Out-File`) likewise."""
    body = json.dumps(
        {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "café"}]}, ensure_ascii=False
    )
    latin = body.encode("latin-1")
    err = error_of(api.client.post("/v1/chat/completions", content=latin, headers=api.alice), 400)
    at = latin.index(b"\xe9")
    assert err["code"] == "invalid_json"
    assert err["message"] == f"the request body is not UTF-8 (byte 0xe9 at {at}): send JSON in UTF-8"
    utf16 = error_of(api.client.post("/v1/chat/completions", content=body.encode("utf-16"), headers=api.alice), 400)
    assert utf16["message"].startswith("the request body is not UTF-8 (byte 0xff at 0)")
    assert ok(api.client.post("/v1/chat/completions", content=body.encode(), headers=api.alice)).choices
