"""User ids that would read as another user's (invisible characters, white space at an end) are refused
wherever a user id is given out: a key (`keys create`) or a session an admin creates for a user."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import UserError
from orchestratex.server import issue_api_key
from orchestratex.stores import SQLiteStore

from .conftest import FAST, Api, bearer, in_app_loop
from .server_process import CLI, ServerProcess, child_env, create_key

LOOK_ALIKES = [
    ("alice\u200b", "the invisible character U+200B (ZERO WIDTH SPACE)"),
    ("\u2060alice", "the invisible character U+2060 (WORD JOINER)"),
    ("ecila\u202e", "the invisible character U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("al\u00adice", "the invisible character U+00AD (SOFT HYPHEN)"),
    ("ali\x9bce", "the invisible character U+009B (a control character)"),  # (C1: shown as `alice`)
    ("ali\x85ce", "the invisible character U+0085 (a control character)"),  # (next line: no break shown)
    ("ali\u2028ce", "the invisible character U+2028 (LINE SEPARATOR)"),
    ("alice\u3164", "the invisible character U+3164 (HANGUL FILLER)"),
    ("\u2800alice", "the invisible character U+2800 (BRAILLE PATTERN BLANK)"),
    ("alice ", "must not begin or end with white space ('alice ')"),
    ("\u3000alice", "must not begin or end with white space ('\\u3000alice')"),  # (named by its code)
]


@pytest.mark.parametrize(("user_id", "problem"), LOOK_ALIKES)
def test_a_session_for_a_look_alike_user_id_is_refused(api: Api, user_id: str, problem: str) -> None:
    r = api.client.post("/api/sessions/", json={"user_id": user_id}, headers=api.admin)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("user_id: a user id ") and problem in r.json()["detail"]
    assert "it would read as another user's id" in r.json()["detail"]


@pytest.mark.parametrize(("user_id", "problem"), LOOK_ALIKES[:9])
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


def test_keys_create_refuses_a_user_id_the_api_cannot_name(tmp_path: Path) -> None:
    """A key for a 201-character user id could create sessions (their owner defaults to the key's user), but
    no admin could create one for that user nor list its keys over HTTP (both take at most 200)."""
    args = [*CLI, "keys", "create", "u" * 201, "--store", f"sqlite:///{tmp_path / 'k.db'}"]
    done = subprocess.run(args, capture_output=True, text=True, env=child_env(), timeout=60, check=False)
    assert done.returncode == 2 and "a user id must be at most 200 characters, not 201" in done.stderr, done.stderr
    assert done.stdout == ""


def test_the_longest_user_id_a_key_is_given_is_one_the_api_names(api: Api) -> None:
    longest = "u" * 200
    key = in_app_loop(api.client).call(issue_api_key, api.store, longest)
    assert api.session(api.admin, user_id=longest)["user_id"] == longest
    listed = api.client.get("/api/admin/keys/", params={"user_id": longest}, headers=api.admin)
    assert listed.status_code == 200 and [k["user_id"] for k in listed.json()] == [longest]
    assert api.client.get(f"/api/sessions/user/{longest}", headers=bearer(key)).status_code == 200
    with pytest.raises(UserError, match="at most 200 characters, not 201"):
        in_app_loop(api.client).call(issue_api_key, api.store, longest + "u")
    with pytest.raises(UserError, match="at most 200 characters, not 400"):  # (U+0958 is two code points in NFC)
        in_app_loop(api.client).call(issue_api_key, api.store, "\u0958" * 200)


@pytest.mark.parametrize("route", ["/api/sessions/user/{}", "/api/analytics/user/{}"])
def test_a_user_id_longer_than_any_user_s_is_refused_by_the_routes_naming_a_user(api: Api, route: str) -> None:
    """An admin's was answered 200 (`[]`, or analytics echoing the whole id back), while `?user_id=` of the admin
    API refuses it with 422: no user can have it, so it is a mistake to say, as there."""
    longest = "u" * 200
    assert api.client.get(route.format(longest), headers=api.admin).status_code == 200
    too_long = "u" * 201
    for headers in (api.admin, api.alice):
        r = api.client.get(route.format(too_long), headers=headers)
        assert (r.status_code, r.json()["detail"]) == (422, "user_id: String should have at most 200 characters")
        assert too_long not in r.text


@pytest.mark.parametrize(("user_id", "problem"), [*LOOK_ALIKES, ("..", "must not be '..'")])
def test_a_user_id_no_user_can_have_is_refused_by_the_routes_naming_a_user(
    api: Api, user_id: str, problem: str
) -> None:
    """`alice ` copied with a table column's padding, or with a zero-width space from a chat: an admin asking for its
    sessions, analytics or keys was answered `[]` (no sessions, no cost, no key), read as the truth about alice, and
    alice herself "no user 'alice '". Such an id is refused where it is given out, so no user has it: it is now 422
    saying what is wrong with it, as in `POST /api/sessions/`."""
    from urllib.parse import quote

    api.session(api.alice)
    asked = quote(user_id, safe="").replace(".", "%2E")  # (`..` as sent, not resolved away by the client)
    for path, where in (
        (f"/api/sessions/user/{asked}", "path"),
        (f"/api/analytics/user/{asked}", "path"),
        (f"/api/admin/keys/?user_id={asked}", "query"),
    ):
        for headers in (api.admin, api.alice):
            r = api.client.get(path, headers=headers)
            if path.startswith("/api/admin/") and headers is api.alice:
                assert r.status_code == 403  # (the keys API is an admin's)
                continue
            assert r.status_code == 422, (path, r.text)
            assert r.json()["detail"].startswith("user_id: a user id ") and problem in r.json()["detail"], r.text
            assert r.json()["errors"][0]["loc"] == [where, "user_id"]
    assert len(api.client.get("/api/sessions/user/alice", headers=api.admin).json()) == 1


ZOE = "zo\u00eb"
"""`zoë` as most keyboards type it (NFC: one code point for `ë`)."""
ZOE_DECOMPOSED = "zoe\u0308"
"""The same name as macOS file names and some input methods give it (NFD: `e` and a combining diaeresis)."""


@pytest.mark.parametrize(("given", "typed"), [(ZOE, ZOE_DECOMPOSED), (ZOE_DECOMPOSED, ZOE)])
def test_a_user_id_in_another_unicode_form_names_the_keys_own_user(api: Api, given: str, typed: str) -> None:
    """The console logged zoë in with "This key cannot open user "zoë"": her key's id and the one she typed read the
    same, but one was composed (`ë`) and the other decomposed (`e` + U+0308); the routes compared code points. Her
    key now opens her user however it is typed, her sessions are found, and a key stored before in the
    decomposed form (`given`) keeps its sessions."""
    from urllib.parse import quote

    key = bearer(in_app_loop(api.client).call(issue_api_key, api.store, given))
    mine = api.session(key)
    made = api.client.post("/api/sessions/", json={"user_id": typed}, headers=key)
    assert made.status_code == 201, made.text
    for path in (f"/api/sessions/user/{quote(typed)}", f"/api/sessions/user/{quote(mine['user_id'])}"):
        r = api.client.get(path, headers=key)
        assert r.status_code == 200, r.text
        assert [s["_id"] for s in r.json()] == [mine["_id"], made.json()["_id"]]
        assert {s["user_id"] for s in r.json()} == {mine["user_id"]}
    r = api.client.get(f"/api/analytics/user/{quote(typed)}", headers=key)
    assert r.status_code == 200, r.text
    assert api.client.get(f"/api/sessions/user/{quote(typed)}", headers=api.alice).status_code == 404  # (not hers)


def test_keys_create_stores_a_user_id_composed(tmp_path: Path) -> None:
    """`keys create zoë` typed decomposed gave a key whose user read as `zoë` and was another user than the `zoë` of
    a key created composed; ids are now stored composed (NFC), unless keys of the decomposed id are stored already
    (made before: a new key of that user keeps reaching the user's sessions)."""
    import asyncio
    import json

    from orchestratex.records import ApiKey
    from orchestratex.server import hash_key
    from orchestratex.stores import open_store

    store_url = f"sqlite:///{tmp_path / 'k.db'}"
    for user_id in (ZOE_DECOMPOSED, ZOE):
        args = [*CLI, "keys", "create", user_id, "--store", store_url]
        done = subprocess.run(args, capture_output=True, text=True, env=child_env(), timeout=60, check=False)
        assert done.returncode == 0, done.stderr

    async def older_key() -> None:
        store = await open_store(store_url)
        try:
            await store.create_api_key(ApiKey(key_hash=hash_key("ox_old"), user_id="be\u0301a"))
        finally:
            await store.close()

    asyncio.run(older_key())
    args = [*CLI, "keys", "create", "be\u0301a", "--store", store_url]
    done = subprocess.run(args, capture_output=True, text=True, env=child_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    args = [*CLI, "keys", "list", "--json", "--store", store_url]
    done = subprocess.run(args, capture_output=True, text=True, env=child_env(), timeout=60, check=False)
    assert [k["user_id"] for k in json.loads(done.stdout)] == [ZOE, ZOE, "be\u0301a", "be\u0301a"]


def test_keys_of_a_user_id_given_decomposed_are_listed(api: Api, tmp_path: Path) -> None:
    """`keys create` stores `zoë` composed (NFC); asked for with the id as it was given (decomposed, pasted from a
    macOS file name), `keys list --user` and the admin API's `?user_id=` listed nothing, read as "zoë has no keys"."""
    import json

    store_url = f"sqlite:///{tmp_path / 'k.db'}"
    args = [*CLI, "keys", "create", ZOE_DECOMPOSED, "--store", store_url]
    done = subprocess.run(args, capture_output=True, text=True, env=child_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    args = [*CLI, "keys", "list", "--user", ZOE_DECOMPOSED, "--json", "--store", store_url]
    done = subprocess.run(args, capture_output=True, text=True, env=child_env(), timeout=60, check=False)
    assert [k["user_id"] for k in json.loads(done.stdout)] == [ZOE], done.stderr
    in_app_loop(api.client).call(issue_api_key, api.store, ZOE_DECOMPOSED)
    for asked in (ZOE_DECOMPOSED, ZOE):
        listed = api.client.get("/api/admin/keys/", params={"user_id": asked}, headers=api.admin)
        assert listed.status_code == 200 and [k["user_id"] for k in listed.json()] == [ZOE], listed.text


def test_an_admin_naming_a_user_in_another_unicode_form_reaches_their_sessions(api: Api) -> None:
    """An admin's `zoë` pasted decomposed (as `keys create` was given it, which stores it composed) made her sessions
    under another id than her key's, listed none of hers and gave her analytics as empty; it now names her. An id
    whose sessions were stored decomposed before is still reached as given."""
    from urllib.parse import quote

    from orchestratex.records import Session

    key = bearer(in_app_loop(api.client).call(issue_api_key, api.store, ZOE_DECOMPOSED))
    made = api.session(api.admin, user_id=ZOE_DECOMPOSED)
    assert made["user_id"] == ZOE
    assert [s["_id"] for s in api.client.get(f"/api/sessions/user/{quote(ZOE)}", headers=key).json()] == [made["_id"]]
    for asked in (ZOE_DECOMPOSED, ZOE):
        r = api.client.get(f"/api/sessions/user/{quote(asked)}", headers=api.admin)
        assert [s["_id"] for s in r.json()] == [made["_id"]], r.text
        assert api.client.get(f"/api/analytics/user/{quote(asked)}", headers=api.admin).status_code == 200
    bea = "be\u0301a"
    older = Session(user_id=bea, max_iterations=1)  # (stored decomposed by an earlier version)
    in_app_loop(api.client).call(api.store.create_session, older)
    r = api.client.get(f"/api/sessions/user/{quote(bea)}", headers=api.admin)
    assert [s["_id"] for s in r.json()] == [older.id], r.text
    assert api.session(api.admin, user_id=bea)["user_id"] == bea


def test_a_key_stored_decomposed_before_keeps_its_first_session_under_its_id(api: Api) -> None:
    """The Python API stores a new session of an id not in NFC composed, as the server gives out ids; a key stored
    decomposed by an earlier version, whose user has no session yet, keeps its form: her first session is stored under
    her key's id, so her own listing finds it."""
    from urllib.parse import quote

    from orchestratex.records import ApiKey
    from orchestratex.server._auth import hash_key

    secret = "ox_legacy-decomposed-key-made-by-an-earlier-version"
    stored = ApiKey(key_hash=hash_key(secret), user_id=ZOE_DECOMPOSED)
    in_app_loop(api.client).call(api.store.create_api_key, stored)
    key = bearer(secret)
    made = api.session(key)
    assert made["user_id"] == ZOE_DECOMPOSED
    for typed in (ZOE, ZOE_DECOMPOSED):
        r = api.client.get(f"/api/sessions/user/{quote(typed)}", headers=key)
        assert [s["_id"] for s in r.json()] == [made["_id"]], r.text


@pytest.mark.parametrize("user_id", ["alice ", "a/b", "..", "tab\there", "alice\u200b"], ids=repr)
def test_the_library_refuses_the_user_ids_the_server_refuses_with_the_same_reason(
    api: Api, tmp_path: Path, user_id: str
) -> None:
    """One rule at both doors: `Orchestrator.run(user_id=...)` and `create_session` stored a session for `alice `,
    `a/b` or `..`, which no key could then reach (`keys create` refused the id, or made `alice`'s key), nor any route
    name. The library refuses them as the server does, saying the same."""
    refused = api.client.post("/api/sessions/", json={"user_id": user_id}, headers=api.admin)
    assert refused.status_code == 422, refused.text
    reason = refused.json()["detail"].removeprefix("user_id: ")

    async def through_the_library() -> None:
        async with Orchestrator(store=SQLiteStore(tmp_path / "lib.db"), simulate=True) as o:
            with pytest.raises(UserError) as made:
                await o.create_session(user_id)
            assert str(made.value) == f"user_id {user_id[:80]!r}: {reason}"
            with pytest.raises(UserError) as ran:
                await o.run("Explain DNS", user_id=user_id, max_iterations=1)
            assert str(ran.value) == str(made.value)
            assert await o.store.list_sessions(user_id) == []  # (nothing stored)

    asyncio.run(through_the_library())


def test_a_run_the_library_made_for_a_user_is_read_through_the_server_with_their_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user id the library takes (`x y`, with a space) is one the server's keys and routes reach."""
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    url = f"sqlite:///{tmp_path / 'ox.db'}"

    async def run() -> str:
        async with Orchestrator(store=SQLiteStore(tmp_path / "ox.db"), simulate=True) as o:
            return (await o.run("Explain DNS", user_id="x y", max_iterations=1)).orchestration.id

    oid = asyncio.run(run())
    headers = {"Authorization": f"Bearer {create_key(url, 'x y')}"}
    with ServerProcess(url, tmp_path, env=FAST) as server, httpx.Client(base_url=server.base_url) as client:
        r = client.get(f"/api/orchestration/status/{oid}", headers=headers)
        assert r.status_code == 200 and r.json()["user_id"] == "x y", r.text
        listed = client.get("/api/sessions/user/x%20y", headers=headers)
        assert [s["_id"] for s in listed.json()] == [r.json()["session_id"]]
