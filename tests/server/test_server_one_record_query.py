"""The routes reading or acting on one record (a session, thread, orchestration, model or key its path names) refuse a
query parameter they do not read, as the lists do: `token` and jQuery's `_` pass."""

from __future__ import annotations

from .conftest import Api

ONE_RECORD = "not a query parameter of this route, which takes none: it is about the one record its path names"
BODY_ONLY = "not a query parameter of this route, which reads its JSON body only: give it there"


def test_a_query_parameter_a_route_of_one_record_does_not_read_is_refused_not_ignored(api: Api) -> None:
    # Before: `GET /api/models/gpt4?provider=openai` answered the model whatever its provider, `?fields=status` the
    # whole record, `POST …/cancel?force=true` cancelled as without it and `PATCH …/status?status=completed` set the
    # body's status: the lists answered 422 for the same mistake
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    oid = api.wait(api.start(tid, settings={"max_iterations": 1})["_id"])["_id"]
    keys = api.client.get("/api/admin/keys/?user_id=bob", headers=api.admin).json()
    asked = [
        ("GET", f"/api/sessions/{sid}", "fields=status", api.alice, ONE_RECORD),
        ("GET", f"/api/threads/{tid}", "include=orchestrations", api.alice, ONE_RECORD),
        ("GET", f"/api/orchestration/status/{oid}", "wait=true", api.alice, ONE_RECORD),
        ("POST", f"/api/orchestration/{oid}/cancel", "force=true", api.alice, ONE_RECORD),
        ("GET", "/api/models/gpt4", "provider=openai", api.alice, ONE_RECORD),
        ("DELETE", f"/api/admin/keys/{keys[0]['_id']}", "user_id=bob", api.admin, ONE_RECORD),
        ("PATCH", f"/api/sessions/{sid}/status", "status=completed", api.alice, BODY_ONLY),
    ]
    for method, path, query, who, message in asked:
        body = {"status": "paused"} if method == "PATCH" else None
        r = api.client.request(method, f"{path}?{query}", json=body, headers=who)
        name = query.split("=")[0]
        assert (r.status_code, r.json()["detail"]) == (422, f"{name}: {message}"), (method, path)
        assert r.json()["errors"][0]["loc"] == ["query", name]
    # nothing was done: the session still active, the key not revoked, the orchestration as it ended
    assert api.client.get(f"/api/sessions/{sid}", headers=api.alice).json()["status"] == "active"
    assert not api.client.get("/api/admin/keys/?user_id=bob", headers=api.admin).json()[0]["revoked_at"]
    assert api.client.get(f"/api/orchestration/status/{oid}", headers=api.alice).json()["status"] == "completed"
    for method, path, _, who, _ in asked:
        if method == "GET":  # (a WebSocket's key; jQuery's `cache: false`)
            r = api.client.get(f"{path}?token=unread&_=1733500000000", headers=who)
            assert r.status_code == 200, (path, r.text)
