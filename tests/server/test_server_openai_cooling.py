"""A call whose every model is kept out of routing by its circuit breaker (it failed several times in a row and cools
down) is answered 503 `model_unavailable` with `Retry-After`, before anything is stored: it was stored, failed at once
with "no model is available: every candidate failed, is cooling down or is too small", and answered 502
`orchestration_failed` with `x-should-retry: false`, so the openai SDK never waited for the cooldown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai import InternalServerError, OpenAI

from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.exceptions import ProviderServerError
from orchestratex.orchestrator import CircuitPolicy, RetryPolicy
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore

from .conftest import in_app_loop

PROMPT: Any = [{"role": "user", "content": "Name a prime"}]


def _profile(name: str) -> ModelProfile:
    return ModelProfile(
        name=f"function:{name}",
        input_cost_per_1k=0.001,
        output_cost_per_1k=0.001,
        context_window=100_000,
        max_output_tokens=1000,
    )


def _answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return '{"score": 8, "feedback": "fine"}'
    if request.model.name == "function:down":
        raise ProviderServerError("the model's server is down", status_code=503)
    return "7"


@pytest.fixture
def served() -> Iterator[tuple[OpenAI, TestClient, MemoryStore]]:
    store = MemoryStore()
    orchestrator = Orchestrator(
        catalog=ModelCatalog([_profile("up"), _profile("down"), _profile("judge")]),
        providers={"function": FunctionProvider(_answer)},
        store=store,
        circuit=CircuitPolicy(failure_threshold=1, cooldown_s=600),
        retry=RetryPolicy(max_attempts=1),
    )
    with TestClient(create_app(store, orchestrator)) as http:
        key = in_app_loop(http).call(issue_api_key, store, "alice")
        yield OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0), http, store


def test_a_model_cooling_down_is_a_503_with_retry_after_and_nothing_stored(
    served: tuple[OpenAI, TestClient, MemoryStore],
) -> None:
    client, http, store = served
    with pytest.raises(InternalServerError) as first:  # (its failure opens its circuit)
        client.chat.completions.create(model="function:down", messages=PROMPT)
    assert first.value.code == "orchestration_failed"
    stored = len(in_app_loop(http).call(store.list_orchestrations))
    with pytest.raises(InternalServerError) as cooling:
        client.chat.completions.create(model="function:down", messages=PROMPT)
    assert (cooling.value.status_code, cooling.value.code) == (503, "model_unavailable")
    assert "function:down is cooling down" in cooling.value.message
    retry_after = int(cooling.value.response.headers["Retry-After"])
    assert 1 <= retry_after <= 600 and cooling.value.response.headers.get("x-should-retry") != "false"
    with pytest.raises(InternalServerError) as streamed:
        client.chat.completions.create(model="function:down", messages=PROMPT, stream=True)
    assert streamed.value.code == "model_unavailable"
    assert len(in_app_loop(http).call(store.list_orchestrations)) == stored
    # a call that may use another model runs
    done = client.chat.completions.create(
        model="orchestratex/fast", messages=PROMPT, extra_body={"preferred_models": ["function:down", "function:up"]}
    )
    assert done.model == "function:up"


def _judge_down(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        raise ProviderServerError("the judge's server is down", status_code=503)
    return "7"


def test_every_judge_cooling_down_is_a_503_with_retry_after_and_nothing_stored() -> None:
    """The model that answers is up, but the only model that can judge it cools down (a second local model serving as
    the judge, its server down a while): the run stopped at once on "no judge is available", was stored `failed` and
    answered 502 with `x-should-retry: false`, so the SDK never waited for the judge to come back."""
    store = MemoryStore()
    orchestrator = Orchestrator(
        catalog=ModelCatalog([_profile("up"), _profile("judge")]),
        providers={"function": FunctionProvider(_judge_down)},
        store=store,
        circuit=CircuitPolicy(failure_threshold=1, cooldown_s=600),
        retry=RetryPolicy(max_attempts=1),
    )
    with TestClient(create_app(store, orchestrator)) as http:
        key = in_app_loop(http).call(issue_api_key, store, "alice")
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(InternalServerError) as first:  # (the judge's failure opens its circuit)
            client.chat.completions.create(model="function:up", messages=PROMPT)
        assert first.value.code == "orchestration_failed"
        stored = len(in_app_loop(http).call(store.list_orchestrations))
        for stream in (False, True):
            with pytest.raises(InternalServerError) as cooling:
                client.chat.completions.create(model="function:up", messages=PROMPT, stream=stream)
            assert (cooling.value.status_code, cooling.value.code) == (503, "model_unavailable")
            said = cooling.value.message
            assert "every model that could judge this call's answers (function:judge) is cooling down" in said, said
            retry_after = int(cooling.value.response.headers["Retry-After"])
            assert 1 <= retry_after <= 600 and cooling.value.response.headers.get("x-should-retry") != "false"
        assert len(in_app_loop(http).call(store.list_orchestrations)) == stored
        # an answer that needs no verdict (one attempt, in a session taking answers unjudged) is still given
        session = http.post(
            "/api/sessions/",
            json={"user_id": "alice", "max_iterations": 1, "settings": {"judging": "when_needed"}},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        done = client.chat.completions.create(
            model="function:up", messages=PROMPT, extra_body={"session_id": session["_id"]}
        )
        assert done.choices[0].message.content == "7"
        # and so is one of a session whose runs return an answer no judge could judge: no wait (it was a 503 too)
        lenient = http.post(
            "/api/sessions/",
            json={"user_id": "alice", "settings": {"judging": "when_possible"}},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        extra = {"session_id": lenient["_id"]}
        given = client.chat.completions.create(model="function:up", messages=PROMPT, extra_body=extra)
        assert given.choices[0].message.content == "7"
        chunks = client.chat.completions.create(model="function:up", messages=PROMPT, stream=True, extra_body=extra)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "7"


def _twin_judge_down(request: GenerationRequest) -> str:
    if request.purpose == "judge" and request.model.name == "function:judge":
        raise ProviderServerError("the judge's server is down", status_code=503)
    return '{"score": 8, "feedback": "fine"}' if request.purpose == "judge" else "7"


def test_the_same_model_on_another_endpoint_is_no_judge_left_while_the_judge_cools_down() -> None:
    """llama3.2 on a laptop and on a GPU box, and one judge whose server is down a while: a model never judges its
    own answers, wherever it is served, so nothing can judge the call and it waits for the judge (503 with
    `Retry-After`, nothing stored). The GPU's copy was counted as a judge of the laptop's: the run was stored, failed
    at once on "no judge is available" and answered 502 with `x-should-retry: false`."""
    laptop, gpu = (
        ModelProfile(name=f"function:{where}-llama", version="llama3.2", cost_per_1k_tokens=0)
        for where in ("laptop", "gpu")
    )
    store = MemoryStore()
    orchestrator = Orchestrator(
        catalog=ModelCatalog([laptop, gpu, _profile("judge").model_copy(update={"judge_only": True})]),
        providers={"function": FunctionProvider(_twin_judge_down)},
        store=store,
        circuit=CircuitPolicy(failure_threshold=1, cooldown_s=600),
        retry=RetryPolicy(max_attempts=1),
    )
    with TestClient(create_app(store, orchestrator)) as http:
        key = in_app_loop(http).call(issue_api_key, store, "alice")
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(InternalServerError) as first:  # (the judge's failure opens its circuit)
            client.chat.completions.create(model="function:laptop-llama", messages=PROMPT)
        assert first.value.code == "orchestration_failed"
        stored = len(in_app_loop(http).call(store.list_orchestrations))
        for model in ("function:laptop-llama", "orchestratex/fast"):
            with pytest.raises(InternalServerError) as cooling:
                client.chat.completions.create(model=model, messages=PROMPT)
            assert (cooling.value.status_code, cooling.value.code) == (503, "model_unavailable")
            assert "(function:judge) is cooling down" in cooling.value.message
        assert len(in_app_loop(http).call(store.list_orchestrations)) == stored
