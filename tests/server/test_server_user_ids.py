"""User ids that would read as another user's (invisible characters, white space at an end) are refused
wherever a user id is given out: a key (`keys create`) or a session an admin creates for a user."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import Api
from .server_process import CLI, child_env

LOOK_ALIKES = [
    ("alice\u200b", "the invisible character U+200B (ZERO WIDTH SPACE)"),
    ("\u2060alice", "the invisible character U+2060 (WORD JOINER)"),
    ("ecila\u202e", "the invisible character U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("al\u00adice", "the invisible character U+00AD (SOFT HYPHEN)"),
    ("alice ", "must not begin or end with white space ('alice ')"),
    ("\u3000alice", "must not begin or end with white space ('\\u3000alice')"),  # (named by its code)
]


@pytest.mark.parametrize(("user_id", "problem"), LOOK_ALIKES)
def test_a_session_for_a_look_alike_user_id_is_refused(api: Api, user_id: str, problem: str) -> None:
    r = api.client.post("/api/sessions/", json={"user_id": user_id}, headers=api.admin)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("user_id: a user id ") and problem in r.json()["detail"]
    assert "it would read as another user's id" in r.json()["detail"]


@pytest.mark.parametrize(("user_id", "problem"), LOOK_ALIKES[:4])
def test_keys_create_refuses_a_look_alike_user_id(tmp_path: Path, user_id: str, problem: str) -> None:
    args = [*CLI, "keys", "create", user_id, "--store", f"sqlite:///{tmp_path / 'k.db'}"]
    done = subprocess.run(args, capture_output=True, text=True, env=child_env(), timeout=60, check=False)
    assert done.returncode == 2 and problem in done.stderr, done.stderr
    assert done.stdout == ""


def test_other_scripts_and_their_own_forms_stay_distinct_users(api: Api) -> None:
    """Full-width `ａｌｉｃｅ` is a user of its own (only an admin gives out ids), never alice's data."""
    mine = api.session(api.admin, user_id="ａｌｉｃｅ")
    assert mine["user_id"] == "ａｌｉｃｅ"
    r = api.client.get("/api/sessions/user/alice", headers=api.alice)
    assert mine["_id"] not in [s["_id"] for s in r.json()]
    assert api.client.get(f"/api/sessions/{mine['_id']}", headers=api.alice).status_code == 404
