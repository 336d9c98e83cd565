"""A run belongs to its session's user: a `user_id` that is not the owner of the `session` (or of the `thread`'s
session) is refused before anything is stored or paid, through `run`, `run_sync`, `run_stream` and `prepare`;
left out, the run is the owner's; without a session, it names the new session's user."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator, UserError
from orchestratex.records import Session

from ..helpers import catalog


def counting() -> tuple[Orchestrator, list[GenerationRequest]]:
    calls: list[GenerationRequest] = []

    def answer(request: GenerationRequest) -> str:
        calls.append(request)
        return json.dumps({"score": 9, "feedback": "fine"}) if request.purpose == "judge" else "an answer"

    return Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b")), calls


async def stored(orch: Orchestrator, session: Session) -> tuple[int, int]:
    threads = await orch.store.list_threads(session.id)
    orchestrations = await orch.store.list_orchestrations(session_id=session.id)
    return len(threads), len(orchestrations)


MISMATCH = r"user_id 'bob' is not the user of session [0-9a-f]{24} \('alice'\): leave user_id out"


async def test_another_users_id_with_a_session_or_its_thread_is_refused_before_anything_is_stored() -> None:
    orch, calls = counting()
    async with orch:
        session = await orch.create_session("alice")
        first = await orch.run("Hello", session=session, max_iterations=1)
        assert first.orchestration.user_id == "alice"
        before, paid = await stored(orch, session), len(calls)
        thread = first.orchestration.thread_id
        attempts: list[dict[str, Any]] = [
            {"session": session},
            {"session": session.id},
            {"thread": thread},
            {"thread": await orch.store.get_thread(thread)},
            {"session": session, "thread": thread},
        ]
        for where in attempts:
            with pytest.raises(UserError, match=MISMATCH):
                await orch.run("Hello", user_id="bob", **where)
            with pytest.raises(UserError, match=MISMATCH):
                await orch.prepare("Hello", user_id="bob", **where)
            with pytest.raises(UserError, match=MISMATCH):
                async with orch.run_stream("Hello", user_id="bob", **where) as stream:
                    async for _ in stream:
                        pass
        # "local" said out loud is a user id too: not alice's
        with pytest.raises(UserError, match="user_id 'local' is not the user of session"):
            await orch.run("Hello", session=session, user_id="local")
        assert await stored(orch, session) == before and len(calls) == paid
        # the owner's own id, or none, runs in the session as before
        same = await orch.run("Again", thread=thread, user_id="alice", max_iterations=1)
        left_out = await orch.run("Again", session=session.id, max_iterations=1)
        assert same.orchestration.user_id == left_out.orchestration.user_id == "alice"
        # without a session, user_id names the new session's user (default "local")
        bobs = await orch.run("Hello", user_id="bob", max_iterations=1)
        local = await orch.run("Hello", max_iterations=1)
        assert (await orch.store.get_session(bobs.orchestration.session_id)).user_id == "bob"
        assert (await orch.store.get_session(local.orchestration.session_id)).user_id == "local"


def test_run_sync_refuses_another_users_id() -> None:
    orch, calls = counting()
    with orch:
        session = asyncio.run(orch.create_session("alice"))  # (one loop after another: supported)
        with pytest.raises(UserError, match=MISMATCH):
            orch.run_sync("Hello", session=session, user_id="bob")
        assert calls == []


@pytest.mark.parametrize(
    ("user_id", "message"), [(5, "must be a string, not int 5"), ("", "must not be empty"), ("  ", "must not be empty")]
)
async def test_a_user_id_that_is_no_user_id_is_refused_with_a_session_too(user_id: Any, message: str) -> None:
    orch, calls = counting()
    async with orch:
        session = await orch.create_session("alice")
        places: list[dict[str, Any]] = [{"session": session}, {}]
        for where in places:
            with pytest.raises(UserError, match=f"^user_id {message}$"):
                await orch.run("Hello", user_id=user_id, **where)
        assert await stored(orch, session) == (0, 0) and calls == []


COMPOSED, DECOMPOSED = "zo\u00eb", "zoe\u0308"  # one user, as the server takes her: `zoë` typed two ways


async def test_a_user_id_in_another_unicode_form_is_the_same_user() -> None:
    orch, _ = counting()
    async with orch:
        session = await orch.create_session(COMPOSED)
        # her id typed decomposed (pasted from a macOS file name) runs in her session: it was refused with
        # "user_id 'zoë' is not the user of session … ('zoë')", two ids that read the same
        mine = await orch.run("Hello", session=session, user_id=DECOMPOSED, max_iterations=1)
        assert mine.status == "completed" and mine.orchestration.user_id == COMPOSED
        # new sessions of the decomposed id are hers, stored in NFC as the server stores its users' sessions
        made = await orch.create_session(DECOMPOSED)
        ran = await orch.run("Hello", user_id=DECOMPOSED, max_iterations=1)
        assert made.user_id == ran.orchestration.user_id == COMPOSED
        theirs = {s.id for s in await orch.store.list_sessions(COMPOSED)}
        assert theirs == {session.id, made.id, ran.orchestration.session_id}
        assert await orch.store.list_sessions(DECOMPOSED) == []


async def test_a_user_whose_sessions_are_stored_decomposed_keeps_that_form() -> None:
    orch, _ = counting()
    async with orch:
        before = await orch.store.create_session(Session(user_id=DECOMPOSED))  # made before ids were composed
        made = await orch.create_session(DECOMPOSED)
        ran = await orch.run("Hello", user_id=DECOMPOSED, max_iterations=1)
        assert made.user_id == ran.orchestration.user_id == DECOMPOSED
        assert {s.id for s in await orch.store.list_sessions(DECOMPOSED)} == {
            before.id,
            made.id,
            ran.orchestration.session_id,
        }
