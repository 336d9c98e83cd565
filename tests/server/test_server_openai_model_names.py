"""A `model` that names a preset in another letter case, or with white space around it (an env file's line ending), is
answered with the preset meant, as a catalog model's name is; a name holding a control character is quoted visibly."""

from __future__ import annotations

from typing import Any

import pytest
from openai import BadRequestError, NotFoundError, OpenAI

from .conftest import Api
from .test_server_openai import PROMPT as _PROMPT

PROMPT: Any = _PROMPT


def _client(api: Api) -> OpenAI:
    return OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=0)


@pytest.mark.parametrize(
    "name", ["orchestratex/Fast", "orchestratex/fast\r", " orchestratex/fast", "ORCHESTRATEX/FAST"]
)
def test_a_preset_name_in_another_case_or_with_white_space_says_which_was_meant(api: Api, name: str) -> None:
    """It was "The model `orchestratex/fast\\r` does not exist", and no preset was suggested; in a terminal the `\\r`
    hid itself (the message read "The model `orchestratex/fast` does not exist")."""
    client = _client(api)
    with pytest.raises(NotFoundError) as chat:
        client.chat.completions.create(model=name, messages=PROMPT)
    assert (chat.value.code, chat.value.param) == ("model_not_found", "model")
    assert "(did you mean `orchestratex/fast`? names are matched exactly)" in chat.value.message
    assert "\r" not in chat.value.message
    with pytest.raises(NotFoundError) as retrieved:
        client.models.retrieve("Orchestratex/fast")
    assert "did you mean `orchestratex/fast`" in retrieved.value.message


def test_a_catalog_name_with_a_line_ending_is_quoted_visibly(api: Api) -> None:
    with pytest.raises(NotFoundError) as chat:
        _client(api).chat.completions.create(model="gpt4\r", messages=PROMPT)
    assert "'gpt4\\r'" in chat.value.message and "did you mean `gpt4`" in chat.value.message


def test_a_bare_model_id_of_two_endpoints_is_said_to_be_ambiguous(api: Api) -> None:
    """`model="llama3.2"` with `laptop:llama3.2` and `gpu:llama3.2` in the catalog said "The model `llama3.2` does not
    exist", of a model the catalog holds twice: the client is told to name one in full, as the library says."""
    from orchestratex import ModelProfile

    catalog = api.client.app.state.server.orchestrator.catalog  # type: ignore[attr-defined]
    for endpoint in ("laptop", "gpu"):
        catalog.add(ModelProfile(name=f"{endpoint}:llama3.2", cost_per_1k_tokens=0))
    with pytest.raises(NotFoundError) as chat:
        _client(api).chat.completions.create(model="llama3.2", messages=PROMPT)
    assert (chat.value.code, chat.value.param) == ("model_not_found", "model")
    assert chat.value.message.endswith(
        "The model `llama3.2` is ambiguous: it is the model id of `gpu:llama3.2`, `laptop:llama3.2`; name one in full"
    )


def test_a_preset_in_preferred_models_is_said_to_be_a_preset_not_a_missing_model(api: Api) -> None:
    """`preferred_models: ["orchestratex/fast"]` was "The model `orchestratex/fast` does not exist: name models of GET
    /v1/models", which lists that very name (the presets come first)."""
    with pytest.raises(BadRequestError) as refused:
        _client(api).chat.completions.create(
            model="orchestratex/auto", messages=PROMPT, extra_body={"preferred_models": ["gpt4", "orchestratex/fast"]}
        )
    assert (refused.value.code, refused.value.param) == ("invalid_value", "preferred_models")
    assert "`orchestratex/fast` is a preset (orchestration settings), not a model" in refused.value.message
    assert "does not exist" not in refused.value.message


def test_a_model_written_as_provider_slash_model_says_which_was_meant(api: Api) -> None:
    """`ollama/llama3.2`, as LiteLLM (and tools built on it) names a model, was "The model `sim/gpt-4.1` does not
    exist", though `sim:gpt-4.1` is served; the message now names it (the CLI's `--models` says the same)."""
    client = _client(api)
    with pytest.raises(NotFoundError) as chat:
        client.chat.completions.create(model="sim/gpt-4.1", messages=PROMPT)
    assert (chat.value.code, chat.value.param) == ("model_not_found", "model")
    assert "(did you mean `sim:gpt-4.1`? names are matched exactly)" in chat.value.message
    with pytest.raises(BadRequestError) as preferred:
        client.chat.completions.create(
            model="orchestratex/auto", messages=PROMPT, extra_body={"preferred_models": ["Sim/GPT-4.1"]}
        )
    assert preferred.value.param == "preferred_models" and "did you mean `sim:gpt-4.1`" in preferred.value.message


@pytest.mark.parametrize(
    ("name", "meant"), [("gpt-4o-2024-08-06", "gpt-4o"), ("claude-haiku-4-5-20251001", "claude-haiku-4-5")]
)
def test_a_dated_snapshot_says_which_model_of_the_catalog_was_meant(api: Api, name: str, meant: str) -> None:
    """`gpt-4o-2024-08-06`, as code written for OpenAI's API pins a model (Anthropic's `…-20251001` alike), was "The
    model `gpt-4o-2024-08-06` does not exist" with no hint, though `gpt-4o` is served: the message now names it."""
    client = _client(api)
    with pytest.raises(NotFoundError) as chat:
        client.chat.completions.create(model=name, messages=PROMPT)
    assert (chat.value.code, chat.value.param) == ("model_not_found", "model")
    assert f"(did you mean `{meant}`? names are matched exactly)" in chat.value.message
    with pytest.raises(NotFoundError) as retrieved:
        client.models.retrieve(name)
    assert f"did you mean `{meant}`" in retrieved.value.message


@pytest.mark.parametrize("name", ["fast", "Fast", "orchestratex:fast"])
def test_a_preset_named_without_its_prefix_says_which_was_meant(api: Api, name: str) -> None:
    """`model="fast"` (the preset's name without `orchestratex/`) or `orchestratex:fast` (written as a catalog model is)
    was "The model `fast` does not exist", with nothing on which preset was meant: the message now names it."""
    client = _client(api)
    with pytest.raises(NotFoundError) as chat:
        client.chat.completions.create(model=name, messages=PROMPT)
    assert (chat.value.code, chat.value.param) == ("model_not_found", "model")
    assert "(did you mean `orchestratex/fast`? names are matched exactly)" in chat.value.message
    with pytest.raises(NotFoundError) as retrieved:
        client.models.retrieve(name)
    assert "did you mean `orchestratex/fast`" in retrieved.value.message
