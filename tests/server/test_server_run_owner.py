"""The server runs an orchestration as its session's user, whichever key starts it: an admin's run in alice's
session (REST and `/v1`) is
alice's, and alice reads it; the admin's own runs stay the admin's."""

from __future__ import annotations

from .conftest import Api
from .test_server_openai import chat, ok, status_of


def test_an_admins_run_in_alices_session_is_alices(api: Api) -> None:
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    started = api.start(tid, who=api.admin)
    assert started["user_id"] == "alice"
    assert api.wait(started["_id"])["user_id"] == "alice"
    r = chat(api, who=api.admin, session_id=sid)
    assert status_of(api, ok(r).model_extra["orchestratex"]["orchestration_id"])["user_id"] == "alice"  # type: ignore[index]
    r = chat(api, who=api.admin, thread_id=tid)
    assert status_of(api, ok(r).model_extra["orchestratex"]["orchestration_id"])["user_id"] == "alice"  # type: ignore[index]
    # the admin's own runs (no session named) stay the admin's
    own = ok(chat(api, who=api.admin)).model_extra["orchestratex"]["orchestration_id"]  # type: ignore[index]
    assert status_of(api, own, who=api.admin)["user_id"] == "root"
