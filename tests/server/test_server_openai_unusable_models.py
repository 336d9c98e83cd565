"""A model of the catalog that cannot answer on `/v1` — judge-only, disabled — is said to be so, in a request and in a
preset (which then stops the server from starting, as a preset preferring an unknown model does)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai import BadRequestError, NotFoundError, OpenAI

from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.exceptions import ConfigurationError
from orchestratex.server import Preset, ServerSettings, create_app, issue_api_key
from orchestratex.stores import MemoryStore

from .conftest import in_app_loop

PROMPT: Any = [{"role": "user", "content": "Name a prime"}]


def _profile(name: str, **kw: Any) -> ModelProfile:
    return ModelProfile(
        name=f"function:{name}",
        input_cost_per_1k=0.001,
        output_cost_per_1k=0.001,
        context_window=100_000,
        max_output_tokens=1000,
        **kw,
    )


def _answer(request: GenerationRequest) -> str:
    return '{"score": 8, "feedback": "fine"}' if request.purpose == "judge" else "7"


def _orchestrator(store: MemoryStore) -> Orchestrator:
    models = [_profile("a"), _profile("b"), _profile("judge", judge_only=True), _profile("off", status="disabled")]
    return Orchestrator(catalog=ModelCatalog(models), providers={"function": FunctionProvider(_answer)}, store=store)


@pytest.fixture
def client() -> Iterator[OpenAI]:
    store = MemoryStore()
    with TestClient(create_app(store, _orchestrator(store))) as http:
        key = in_app_loop(http).call(issue_api_key, store, "alice")
        yield OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)


def test_a_judge_only_model_is_said_to_be_one_not_unconfigured(client: OpenAI) -> None:
    """It was "in the catalog but not configured on this server": its provider is, and it judges every answer."""
    with pytest.raises(NotFoundError) as asked:
        client.chat.completions.create(model="function:judge", messages=PROMPT)
    assert asked.value.code == "model_not_found" and "judge-only" in asked.value.message
    assert "not configured" not in asked.value.message and "(function:judge)" not in asked.value.message
    with pytest.raises(BadRequestError) as preferred:
        client.chat.completions.create(
            model="orchestratex/auto", messages=PROMPT, extra_body={"preferred_models": ["function:judge"]}
        )
    assert preferred.value.param == "preferred_models" and "judge-only" in preferred.value.message
    with pytest.raises(NotFoundError) as off:
        client.chat.completions.create(model="function:off", messages=PROMPT)
    assert "is in the catalog but disabled" in off.value.message
    assert client.chat.completions.create(model="function:a", messages=PROMPT).choices[0].message.content == "7"


@pytest.mark.parametrize(("preferred", "says"), [(["function:judge"], "judge-only"), (["function:off"], "disabled")])
def test_a_preset_preferring_only_models_that_cannot_answer_stops_the_app(preferred: list[str], says: str) -> None:
    """The server started, and every call of the preset answered 400 "none of the preferred models can answer …
    choose other models", blaming the client for the server's own settings."""
    store = MemoryStore()
    settings = ServerSettings(presets={"team/x": Preset(preferred_models=tuple(preferred))})
    with pytest.raises(ConfigurationError, match="preset 'team/x'") as refused:
        create_app(store, _orchestrator(store), settings=settings)
    assert says in str(refused.value) and preferred[0] in str(refused.value)


def test_a_preset_with_one_model_that_can_answer_starts() -> None:
    store = MemoryStore()
    settings = ServerSettings(presets={"team/x": Preset(preferred_models=("function:off", "function:a"))})
    with TestClient(create_app(store, _orchestrator(store), settings=settings)) as http:
        key = in_app_loop(http).call(issue_api_key, store, "alice")
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        done = client.chat.completions.create(model="team/x", messages=PROMPT)
    assert done.model == "function:a"
