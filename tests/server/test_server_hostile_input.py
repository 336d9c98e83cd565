"""Hostile request bodies over HTTP: each is a 4xx saying what is wrong, never a 500."""

from __future__ import annotations

import pytest

from .conftest import Api

_CHAT = '{"model": "orchestratex/fast", "messages": [{"role": "user", "content": %s}]}'


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("[" * 50_000 + "]" * 50_000, "recursion limit"),
        ('{"a":' * 20_000 + "{}" + "}" * 20_000, "recursion limit"),
        (_CHAT % '"\\ud800"', "hex escape"),  # a lone surrogate: no text can hold it
        (_CHAT % '"ok \\udfff"', "hex escape"),
    ],
    ids=["nested-arrays", "nested-objects", "lone-high-surrogate", "lone-low-surrogate"],
)
def test_v1_refuses_bodies_python_cannot_hold_with_400_invalid_json(api: Api, body: str, why: str) -> None:
    r = api.client.post("/v1/chat/completions", content=body, headers={**api.alice, "content-type": "application/json"})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_json"
    assert error["message"].startswith("the request body is not valid JSON: ") and why in error["message"]


def test_v1_still_takes_a_surrogate_pair(api: Api) -> None:
    r = api.client.post(
        "/v1/chat/completions", content=_CHAT % '"smile \\ud83d\\ude00"', headers={**api.alice, "content-type": "x"}
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "body",
    ["[" * 50_000 + "]" * 50_000, '{"user_id": "\\ud800"}', '{"max_iterations": 1e999999}'],
    ids=["nested", "lone-surrogate", "huge-number"],
)
def test_api_refuses_the_same_bodies_with_a_4xx(api: Api, body: str) -> None:
    r = api.client.post("/api/sessions/", content=body, headers={**api.alice, "content-type": "application/json"})
    assert r.status_code in (400, 422), r.text


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "the request body is nested too deeply: its arrays and objects go past"),
        (b'{"a":' * 2_000 + b"1" + b"}" * 2_000, "the request body is nested too deeply"),
        (b'{"max_iterations": 1' + b"0" * 5_000 + b"}", "the request body holds a number of more than 4300 digits"),
        (b'{"user_id": "caf\xe9"}', "the request body is not UTF-8 (byte 0xe9 at 16): send JSON in UTF-8"),
    ],
    ids=["nested-arrays", "nested-objects", "long-number", "latin-1"],
)
def test_api_says_what_is_wrong_with_a_body_python_cannot_read(api: Api, body: bytes, detail: str) -> None:
    """These answered FastAPI's "There was an error parsing the body", which says nothing of what to fix."""
    r = api.client.post("/api/sessions/", content=body, headers={**api.alice, "content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json() == {"detail": r.json()["detail"], "status_code": 400}
    assert r.json()["detail"].startswith(detail), r.text
