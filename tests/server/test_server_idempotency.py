"""`Idempotency-Key` on `POST /api/orchestration/start`: a start sent again (its 202 lost) answers the orchestration
its first attempt stored, in one server and across two sharing a SQLite file, instead of starting a second, billed."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest

from orchestratex.server._schemas import StartSettings

from .conftest import Api
from .server_process import ServerProcess, create_key

START = "/api/orchestration/start"


def _start(api: Api, body: dict[str, Any], key: str | None, who: dict[str, str] | None = None) -> httpx2.Response:
    headers = {**(who or api.alice), **({"Idempotency-Key": key} if key is not None else {})}
    return api.client.post(START, json=body, headers=headers)


def _orchestrations(api: Api, session_id: str) -> int:
    analytics = api.client.get(f"/api/analytics/session/{session_id}", headers=api.alice).json()
    return int(analytics["orchestrations"])


def test_a_start_sent_again_with_its_key_answers_the_first_orchestration_not_a_second(api: Api) -> None:
    # a client whose 202 was lost (a timeout, a dropped connection) sends the start again: a second orchestration
    # ran, and was billed, for the one the user asked
    session = api.session(settings={"cost_limit": 1.0})
    body = {"thread_id": api.thread(session["_id"])["_id"], "settings": {"max_iterations": 2}}
    first = _start(api, body, "3f1c2b7e-retry-me")
    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = _start(api, body, "3f1c2b7e-retry-me")
    assert again.status_code == 202, again.text
    assert again.json()["_id"] == first.json()["_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "RateLimit" in again.headers  # (counted, as every start)
    final = api.wait(first.json()["_id"])
    late = _start(api, body, "3f1c2b7e-retry-me")  # the key holds as long as the orchestration: it has ended
    assert late.status_code == 202 and late.json() == final
    assert _orchestrations(api, session["_id"]) == 1
    # another key, or none, starts another
    assert _start(api, body, "another-key").json()["_id"] != first.json()["_id"]
    assert _start(api, body, None).json()["_id"] != first.json()["_id"]
    assert _orchestrations(api, session["_id"]) == 3


def test_a_start_sent_again_after_its_session_ended_still_answers_its_orchestration(api: Api) -> None:
    # the retry comes after the session was ended (by the user, or another client): the run it started is answered,
    # not "session ... is completed: orchestrations start only in an active session", which reads as never started
    session = api.session()
    body = {"thread_id": api.thread(session["_id"])["_id"]}
    first = _start(api, body, "before-the-end").json()
    r = api.client.patch(f"/api/sessions/{session['_id']}/status", json={"status": "completed"}, headers=api.alice)
    assert r.status_code == 200, r.text
    again = _start(api, body, "before-the-end")
    assert again.status_code == 202 and again.json()["_id"] == first["_id"], again.text
    assert _start(api, body, "after-the-end").status_code == 409  # (a new key: a new start, refused as ever)


def test_the_key_names_a_start_of_its_user_only(api: Api) -> None:
    mine = api.thread(api.session()["_id"])["_id"]
    bobs = api.thread(api.session(who=api.bob)["_id"], who=api.bob)["_id"]
    alice = _start(api, {"thread_id": mine}, "same-key")
    bob = _start(api, {"thread_id": bobs}, "same-key", api.bob)
    assert (alice.status_code, bob.status_code) == (202, 202), bob.text
    assert alice.json()["_id"] != bob.json()["_id"]
    assert "Idempotent-Replayed" not in bob.headers
    # bob reusing his key on alice's thread reads nothing of hers
    r = _start(api, {"thread_id": mine}, "same-key", api.bob)
    assert r.status_code == 404, r.text


def test_the_key_sent_with_another_body_is_refused_409_saying_what_differs(api: Api) -> None:
    session = api.session(max_iterations=3)
    tid = api.thread(session["_id"])["_id"]
    first = _start(api, {"thread_id": tid, "settings": {"evaluation_threshold": 7}}, "k-1").json()
    # the same start written otherwise is the same start: a default given, an alias for the model's name
    same = _start(api, {"thread_id": tid, "settings": {"evaluation_threshold": 7.0, "max_iterations": 3}}, "k-1")
    assert same.status_code == 202 and same.json()["_id"] == first["_id"], same.text
    for body, differ in (
        ({"thread_id": tid, "prompt": "Something else"}, "prompt, settings.evaluation_threshold"),
        ({"thread_id": tid, "settings": {"evaluation_threshold": 7, "max_iterations": 2}}, "settings.max_iterations"),
        ({"thread_id": tid, "settings": {"evaluation_threshold": 7, "cost_limit": 0.5}}, "settings.cost_limit"),
        ({"thread_id": api.thread(session["_id"])["_id"], "settings": {"evaluation_threshold": 7}}, "thread_id"),
    ):
        r = _start(api, body, "k-1")
        assert r.status_code == 409, r.text
        assert r.json()["detail"] == (
            f"Idempotency-Key was already used for another start, orchestration {first['_id']} ("
            f"{r.json()['detail'].split('(')[1].split(')')[0]}), whose {differ} differ from this request's: send a"
            " new key for a new orchestration, or this request's body as it was first sent"
        )
    assert _orchestrations(api, session["_id"]) == 1


@pytest.mark.parametrize(
    ("key", "shown"),
    [("", "''"), ("has space", "'has space'"), ("x" * 256, repr("x" * 40 + "…")), ("tab\tin", "'tab\\tin'")],
)
def test_an_unusable_key_is_refused_422_and_starts_nothing(api: Api, key: str, shown: str) -> None:
    session = api.session()
    r = _start(api, {"thread_id": api.thread(session["_id"])["_id"]}, key)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == (
        "Idempotency-Key: must be 1 to 255 printable ASCII characters without spaces (a UUID, say), not"
        f" {shown} ({len(key)} characters)"
    )
    assert r.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert _orchestrations(api, session["_id"]) == 0


def test_a_key_given_twice_is_refused_422(api: Api) -> None:
    tid = api.thread(api.session()["_id"])["_id"]
    headers = [*api.alice.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    r = api.client.post(START, json={"thread_id": tid}, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "Idempotency-Key: given more than once: give it once"


@pytest.mark.slow
def test_the_same_start_sent_at_once_to_two_servers_on_one_file_stores_one_orchestration(tmp_path: Path) -> None:
    # the retry of a lost 202 may reach another server behind the load balancer while the first is still storing
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.05", "ORCHESTRATEX_RATE_LIMIT": "100000"}
    with (
        contextlib.ExitStack() as stack,
        ServerProcess(url, tmp_path, env=env, name="one") as one,
        ServerProcess(url, tmp_path, env=env, name="two") as two,
    ):
        clients = [
            stack.enter_context(
                httpx.Client(base_url=s.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
            )
            for s in (one, two)
        ]
        session = clients[0].post("/api/sessions/", json={"settings": {"cost_limit": 1.0}}).json()
        thread = clients[0].post("/api/threads/", json={"session_id": session["_id"], "original_prompt": "Hi"}).json()
        body = {"thread_id": thread["_id"], "settings": {"max_iterations": 2}}
        for attempt in range(3):
            answers = _at_once([clients[i % 2] for i in range(6)], body, f"at-once-{attempt}")
            said = [line for s in (one, two) for line in s.log().splitlines() if "answered 5" in line]
            assert [r.status_code for r in answers] == [202] * 6, ([r.text for r in answers], said)
            assert len({r.json()["_id"] for r in answers}) == 1
            assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == 5
        analytics = clients[1].get(f"/api/analytics/session/{session['_id']}").json()
        assert analytics["orchestrations"] == 3


def _at_once(clients: list[httpx.Client], body: dict[str, Any], key: str) -> list[httpx.Response]:
    """The start `body` with `key` sent by each of `clients` at once (each from its own thread); their answers."""
    answers: list[httpx.Response] = []
    gate = threading.Barrier(len(clients))

    def send(client: httpx.Client) -> None:
        gate.wait()
        answers.append(client.post(START, json=body, headers={"Idempotency-Key": key}))

    senders = [threading.Thread(target=send, args=(client,)) for client in clients]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    return answers


def _another(name: str, value: object, models: list[str]) -> object:
    """A value of the start setting `name` other than the resolved `value` it was stored with."""
    if name == "preferred_models":
        return [next(m for m in models if [m] != value)]
    assert isinstance(value, int | float | None), f"a start setting of a new kind: {name}={value!r}"
    return 0.25 if value is None else (value + 1 if value < 9 else value - 1)


def test_every_setting_a_start_takes_is_compared_as_the_start_resolves_it(api: Api) -> None:
    """The replay compares each setting of `StartSettings` as the start resolves it (the session's, the server's
    default): it re-derived that resolution field by field, and a setting added to the start, or resolved otherwise,
    would have been missed (a start sent again with another value answered the first orchestration)."""
    models = [m["name"] for m in api.client.get("/api/models/", headers=api.alice).json()]
    session = api.session(max_iterations=3, settings={"preferred_models": models[:1]})
    tid = api.thread(session["_id"])["_id"]
    first = _start(api, {"thread_id": tid}, "every-setting").json()
    stored = first["settings"]
    assert stored["max_iterations"] == 3 and stored["preferred_models"] == models[:1]  # (the session's)
    # each value as resolved, given explicitly: the same start
    explicit = {name: stored[name] for name in StartSettings.model_fields if stored[name] is not None}
    same = _start(api, {"thread_id": tid, "settings": explicit}, "every-setting")
    assert same.status_code == 202 and same.json()["_id"] == first["_id"], same.text
    for name in StartSettings.model_fields:
        changed = {name: _another(name, stored[name], models)}
        r = _start(api, {"thread_id": tid, "settings": changed}, "every-setting")
        assert r.status_code == 409, (name, r.text)
        assert f"whose settings.{name} differ" in r.json()["detail"], r.text
    assert _orchestrations(api, session["_id"]) == 1
