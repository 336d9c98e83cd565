"""A session's preferred model removed from a live catalog: the next run's error says so."""

from __future__ import annotations

import json

import pytest

from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.exceptions import ConfigurationError


def _answer(request: GenerationRequest) -> str:
    return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "an answer"


async def test_a_removed_preferred_model_is_named_in_the_error() -> None:
    catalog = ModelCatalog(
        ModelProfile(name=f"function:m{i}", input_cost_per_1k=0.001, output_cost_per_1k=0.001) for i in range(3)
    )
    orchestrator = Orchestrator(catalog=catalog, providers=[FunctionProvider(_answer)])
    session = await orchestrator.create_session(preferred_models=["function:m2"])
    assert (await orchestrator.run("Hello", session=session)).final_model == "function:m2"
    catalog.remove("function:m2")
    # Before: "none of the preferred models can answer (the catalog is empty)"
    with pytest.raises(ConfigurationError, match=r"no longer in the catalog: function:m2") as caught:
        await orchestrator.run("Hello again", session=session)
    assert "catalog is empty" not in str(caught.value)
    await orchestrator.aclose()
