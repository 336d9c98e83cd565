"""The list routes' `limit` and `offset` are read as the WebSocket's `since` is: given once, in plain ASCII digits (and
the admin's keys list takes its `user_id` once)."""

from __future__ import annotations

import pytest

from .conftest import Api


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("limit=1&limit=3", "limit: given more than once in the URL: give it once"),
        ("offset=0&offset=2", "offset: given more than once in the URL: give it once"),
        ("limit=1_0", "limit: must be a whole number in plain digits, not '1_0'"),
        ("limit=%2B2", "limit: must be a whole number in plain digits, not '+2'"),
        ("limit=+2", "limit: must be a whole number in plain digits, not ' 2'"),  # (a + is a space)
        ("offset=1.0", "offset: must be a whole number in plain digits, not '1.0'"),
        ("offset=-0", "offset: must be a whole number in plain digits, not '-0'"),
    ],
)
def test_a_page_asked_ambiguously_is_refused(api: Api, query: str, detail: str) -> None:
    sid = api.session()["_id"]
    for _ in range(3):
        api.thread(sid)
    for path in (f"/api/threads/session/{sid}", "/api/sessions/user/alice"):
        r = api.client.get(f"{path}?{query}", headers=api.alice)
        assert r.status_code == 422, (path, r.text)
        assert {**r.json(), "errors": None} == {"detail": detail, "status_code": 422, "errors": None}


@pytest.mark.parametrize("query", ["skip=2", "page=2", "status=active", "limit=1&cursor=abc", "order=desc"])
def test_a_query_parameter_a_list_does_not_take_is_refused_not_ignored(api: Api, query: str) -> None:
    """`?skip=2` (FastAPI's and MongoDB's name for `offset`) answered the first page again: a client paging on until a
    page came back short never ended. `?status=active` answered every session, as if filtered."""
    sid = api.session()["_id"]
    for _ in range(3):
        api.thread(sid)
    name = query.split("&")[-1].split("=")[0]
    for path in (f"/api/threads/session/{sid}", "/api/sessions/user/alice"):
        r = api.client.get(f"{path}?{query}", headers=api.alice)
        assert (r.status_code, r.json()["detail"]) == (
            422,
            f"{name}: not a query parameter of this list, which takes limit (most items, 1 to 1000) and offset (items"
            " to skip, 0 to 1000000) and filters nothing",
        )
        assert r.json()["errors"][0]["loc"] == ["query", name]
    for unread in ("token=unread", "_=1733500000000"):  # (a WebSocket's key; jQuery's `cache: false`)
        r = api.client.get(f"/api/threads/session/{sid}?offset=2&{unread}", headers=api.alice)
        assert r.status_code == 200 and len(r.json()) == 1


def test_a_page_asked_plainly_is_served(api: Api) -> None:
    sid = api.session()["_id"]
    ids = [api.thread(sid)["_id"] for _ in range(3)]
    r = api.client.get(f"/api/threads/session/{sid}?limit=01&offset=1", headers=api.alice)
    assert r.status_code == 200 and [t["_id"] for t in r.json()] == ids[1:2]


def test_the_keys_of_a_user_given_twice_are_refused(api: Api) -> None:
    """`?user_id=alice&user_id=bob` listed bob's keys only, without a word, to an admin auditing alice's."""
    r = api.client.get("/api/admin/keys/?user_id=alice&user_id=bob", headers=api.admin)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "user_id: given more than once in the URL: give it once"
    listed = api.client.get("/api/admin/keys/?user_id=alice", headers=api.admin).json()
    assert [k["user_id"] for k in listed] == ["alice"]


@pytest.mark.parametrize("query", ["user=alice", "userId=alice", "user_id=alice&label=laptop"])
def test_the_keys_list_asked_with_a_parameter_it_does_not_take_is_refused_not_every_users_keys(
    api: Api, query: str
) -> None:
    """`?user=alice` (as `orchestratex keys list --user alice` names it) listed every user's keys: a script revoking
    "alice's" keys would have revoked everyone's."""
    name = query.split("&")[-1].split("=")[0]
    r = api.client.get(f"/api/admin/keys/?{query}", headers=api.admin)
    assert (r.status_code, r.json()["detail"]) == (
        422,
        f"{name}: not a query parameter of the keys list, which takes user_id only",
    )
    listed = api.client.get("/api/admin/keys/?user_id=alice&_=1733500000000", headers=api.admin).json()
    assert {k["user_id"] for k in listed} == {"alice"}
