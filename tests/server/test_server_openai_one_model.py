"""A server whose catalog has one model (a single local model, the first setup most people try): no model can judge
its answers, and the 400 says what a `/v1` call can do about it, not only what a library user can."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai import BadRequestError, OpenAI

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore

from .conftest import FAST

ASK: Any = [{"role": "user", "content": "Write a haiku about tides"}]


def test_a_call_no_model_can_judge_is_told_how_to_run_unjudged_on_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 400 said to pass `Orchestrator(evaluator=...)` or `judging="when_needed"`, neither of which a `/v1` call can
    send; a session of the caller's that takes answers unjudged can, and its `session_id` is what a call passes."""
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    store = MemoryStore()
    solo = ModelCatalog([ModelProfile(name="sim:solo", cost_per_1k_tokens=0, quality=7)])
    with TestClient(create_app(store, orchestrator=Orchestrator(store=store, catalog=solo, simulate=True))) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        for stream in (False, True):
            with pytest.raises(BadRequestError) as refused:
                client.chat.completions.create(model="orchestratex/fast", messages=ASK, stream=stream)
            said = refused.value.message
            assert "no model can judge the answers of sim:solo" in said, said
            assert (
                'a session of yours created with {"max_iterations": 1, "settings": {"judging": "when_needed"}}' in said
            )
            assert "pass its session_id" in said
        session = http.post(
            "/api/sessions/",
            json={"user_id": "alice", "max_iterations": 1, "settings": {"judging": "when_needed"}},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        reply = client.chat.completions.create(
            model="orchestratex/fast", messages=ASK, extra_body={"session_id": session["_id"]}
        )
        assert reply.choices[0].message.content and reply.model == "sim:solo"


def test_a_call_in_such_a_session_asking_for_more_attempts_is_told_so_not_to_pass_the_session_it_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`orchestratex/best` (up to 8 attempts) or `"max_iterations": 3` in the session the docs say to create: every
    attempt but the last needs a verdict, so the call is refused; the 400 told the caller to pass that session's id,
    which it had passed. It now says which setting asks for more than one attempt, and names it in `param`."""
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    store = MemoryStore()
    solo = ModelCatalog([ModelProfile(name="sim:solo", cost_per_1k_tokens=0, quality=7)])
    with TestClient(create_app(store, orchestrator=Orchestrator(store=store, catalog=solo, simulate=True))) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        session = http.post(
            "/api/sessions/",
            json={"user_id": "alice", "max_iterations": 1, "settings": {"judging": "when_needed"}},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        calls: list[tuple[str, dict[str, Any], str, str]] = [
            ("orchestratex/best", {}, "up to 8 attempts (the preset orchestratex/best's max_iterations)", "model"),
            (
                "orchestratex/auto",
                {"max_iterations": 3},
                "up to 3 attempts (the request's max_iterations)",
                "max_iterations",
            ),
        ]
        for model, extra, why, param in calls:
            for stream in (False, True):
                with pytest.raises(BadRequestError) as refused:
                    client.chat.completions.create(
                        model=model, messages=ASK, stream=stream, extra_body={"session_id": session["_id"], **extra}
                    )
                said = refused.value.message
                assert f"Session {session['_id']} takes answers unjudged, but this call asks for {why}" in said, said
                assert '"max_iterations": 1, or call orchestratex/fast' in said and "pass its session_id" not in said
                assert isinstance(refused.value.body, dict) and refused.value.body["param"] == param
        reply = client.chat.completions.create(
            model="orchestratex/best", messages=ASK, extra_body={"session_id": session["_id"], "max_iterations": 1}
        )
        assert reply.choices[0].message.content and reply.model == "sim:solo"
