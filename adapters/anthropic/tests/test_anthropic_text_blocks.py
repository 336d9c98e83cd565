"""A message whose text block carries no text, or text that is not a string (a gateway's translation of another
vendor's answer): reading it failed with a bare TypeError, out of `Orchestrator.run` itself; it is a
`MalformedResponse` and the run goes on with the next model. So is one whose content holds something other than typed
blocks (`[5]`, `["Hello"]`), which was read as an empty answer."""

from __future__ import annotations

from typing import Any

import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import MalformedResponse
from orchestratex.testing.provider_contract import MockServer, Reply

from .test_anthropic_provider import MODEL, message_body, provider_on, request

USAGE = {"input_tokens": 10, "output_tokens": 5}
BLOCKS: dict[str, list[dict[str, Any]]] = {
    "without-text": [{"type": "text"}],
    "text-null": [{"type": "text", "text": None}],
    "text-a-number": [{"type": "text", "text": 5}],
}


NOT_BLOCKS: dict[str, list[Any]] = {
    "a-number": [5],
    "null": [None],
    "a-string": ["Hello"],
    "without-type": [{"text": "Hello"}],
    "after-a-text-block": [{"type": "text", "text": "Hello"}, 5],
}


@pytest.mark.parametrize("content", NOT_BLOCKS.values(), ids=NOT_BLOCKS.keys())
async def test_content_that_is_not_typed_blocks_is_malformed(content: list[Any]) -> None:
    server = MockServer().always(Reply(200, json=message_body(USAGE, content)))
    with pytest.raises(MalformedResponse, match="content block that is not a typed block") as raised:
        await provider_on(server).generate(request())
    assert raised.value.model == MODEL.name


@pytest.mark.parametrize("content", BLOCKS.values(), ids=BLOCKS.keys())
async def test_a_text_block_without_text_is_malformed(content: list[dict[str, Any]]) -> None:
    server = MockServer().always(Reply(200, json=message_body(USAGE, content)))
    with pytest.raises(MalformedResponse, match="text block whose text is not a string") as raised:
        await provider_on(server).generate(request())
    assert raised.value.model == MODEL.name


@pytest.mark.parametrize("content", [BLOCKS["text-null"], NOT_BLOCKS["a-number"]], ids=["text-null", "a-number"])
async def test_the_run_goes_on_with_the_next_model(content: list[Any]) -> None:
    server = MockServer().always(Reply(200, json=message_body(USAGE, content)))
    other = ModelProfile(name="function:other", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=1)
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=1)
    function = FunctionProvider(lambda r: '{"score": 9, "feedback": "ok"}' if r.purpose == "judge" else "Hello.")
    async with Orchestrator(
        providers=[provider_on(server), function],
        catalog=ModelCatalog([MODEL, other, judge]),
        router=BayesianRouter(explore=False),
        judges=[judge.name],
    ) as orchestrator:
        result = await orchestrator.run("Hi", preferred_models=[MODEL.name, other.name])
    assert result.final_model == other.name, result
    assert "MalformedResponse" in result.orchestration.iterations[0].errors[0]
