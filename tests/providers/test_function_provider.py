"""FunctionProvider: a user function answers each request."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

import orchestratex.providers
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ProviderTimeout, RateLimited, UserError
from orchestratex.orchestrator import Orchestrator
from orchestratex.providers import (
    FunctionProvider,
    Generation,
    GenerationRequest,
    Message,
    Provider,
    estimate_input_tokens,
)
from orchestratex.usage import Usage

MODEL = ModelProfile(name="function:echo", input_cost_per_1k=0.001, output_cost_per_1k=0.002)


def make_request(content: str = "Name a prime number.", **overrides: Any) -> GenerationRequest:
    return GenerationRequest(
        model=overrides.pop("model", MODEL),
        messages=[Message(role="system", content="Be terse."), Message(role="user", content=content)],
        **overrides,
    )


async def test_sync_function_returning_text() -> None:
    seen: list[GenerationRequest] = []

    def answer(request: GenerationRequest) -> str:
        seen.append(request)
        return "Seven is prime."

    provider = FunctionProvider(answer)
    request = make_request()
    generation = await provider.generate(request)
    assert seen == [request]
    assert generation.text == "Seven is prime."
    assert generation.finish_reason == "stop"
    assert generation.model_name == "function:echo"
    # "Be terse." (9) + "Name a prime number." (20) = 29 chars -> 8 tokens; 15 chars out -> 4 tokens
    assert generation.usage == Usage(input_tokens=8, output_tokens=4)
    assert generation.cost == MODEL.cost(generation.usage) > 0
    assert generation.latency_ms >= 0


async def test_async_function_returning_text() -> None:
    async def answer(request: GenerationRequest) -> str:
        await asyncio.sleep(0)
        return request.messages[-1].content.upper()

    generation = await FunctionProvider(answer).generate(make_request("abc"))
    assert generation.text == "ABC"
    assert generation.usage.output_tokens == 1


async def test_function_returning_an_awaitable() -> None:
    async def later() -> str:
        return "from a coroutine"

    generation = await FunctionProvider(lambda request: later()).generate(make_request())
    assert generation.text == "from a coroutine"


@pytest.mark.parametrize("is_async", [False, True])
async def test_generation_is_passed_through_unchanged(is_async: bool) -> None:
    prepared = Generation(
        text="exact", usage=Usage(input_tokens=100, output_tokens=7, reasoning_tokens=3), latency_ms=1234.5
    )

    def sync_fn(request: GenerationRequest) -> Generation:
        return prepared

    async def async_fn(request: GenerationRequest) -> Generation:
        return prepared

    provider = FunctionProvider(async_fn if is_async else sync_fn)
    assert await provider.generate(make_request()) is prepared


@pytest.mark.parametrize("error", [RateLimited("slow down", retry_after=2.0), ProviderTimeout("late"), KeyError("x")])
@pytest.mark.parametrize("is_async", [False, True])
async def test_exceptions_propagate_unchanged(error: Exception, is_async: bool) -> None:
    def sync_fn(request: GenerationRequest) -> str:
        raise error

    async def async_fn(request: GenerationRequest) -> str:
        raise error

    provider = FunctionProvider(async_fn if is_async else sync_fn)
    with pytest.raises(type(error)) as info:
        await provider.generate(make_request())
    assert info.value is error


@pytest.mark.parametrize("content", ["", "a", "abcd", "abcde", "héllo wörld — ünïcode ✓ " * 7, "🙂" * 33])
async def test_input_tokens_never_exceed_the_estimate(content: str) -> None:
    request = make_request(content)
    generation = await FunctionProvider(lambda r: content).generate(request)
    chars = len("Be terse.") + len(content)
    assert generation.usage.input_tokens == -(-chars // 4)
    assert generation.usage.input_tokens <= estimate_input_tokens(request)
    assert generation.usage.output_tokens == -(-len(content) // 4)


async def test_unpriced_model_costs_nothing_but_still_answers() -> None:
    unpriced = ModelProfile(name="function:free")
    generation = await FunctionProvider(lambda r: "ok").generate(make_request(model=unpriced))
    assert generation.cost == 0.0
    assert generation.model_name == "function:free"


async def test_wrong_return_type_is_a_clear_error() -> None:
    provider = FunctionProvider(lambda r: 42)  # type: ignore[arg-type,return-value]
    with pytest.raises(
        UserError,
        match=re.escape("returned int; return a str, an orchestratex.providers.Generation, or a generator of str"),
    ):
        await provider.generate(make_request())


def test_constructor_validates_its_arguments() -> None:
    with pytest.raises(UserError, match="needs a callable"):
        FunctionProvider("not callable")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="name must be a non-empty string"):
        FunctionProvider(lambda r: "", name="")
    with pytest.raises(UserError, match="without ':'"):
        FunctionProvider(lambda r: "", name="a:b")


def test_name_defaults_to_the_class_name_and_can_be_set_per_instance() -> None:
    assert FunctionProvider.name == "function"
    assert FunctionProvider(lambda r: "").name == "function"
    custom = FunctionProvider(lambda r: "", name="fake")
    assert custom.name == "fake"
    assert FunctionProvider.name == "function"
    assert isinstance(custom, Provider)
    assert not FunctionProvider.simulated
    assert "fake" in repr(custom)


async def test_works_with_model_requests_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", False)
    generation = await FunctionProvider(lambda r: "offline").generate(make_request())
    assert generation.text == "offline"


async def test_serves_catalog_models_as_an_async_context_manager() -> None:
    model = ModelCatalog.default().get("gpt4")
    async with FunctionProvider(lambda r: f"answer from {r.model.name}") as provider:
        generation = await provider.generate(make_request(model=model))
    assert generation.text == "answer from openai:gpt-4.1"
    assert generation.cost == model.cost(generation.usage)


async def test_an_answer_longer_than_its_output_cap_is_cut_there() -> None:
    # A model stops at the request's cap; the judging reserved with the answer holds no more of it.
    generation = await FunctionProvider(lambda request: "word " * 100).generate(make_request(max_output_tokens=10))
    assert generation.text == ("word " * 100)[:40]
    assert generation.usage.output_tokens == 10
    assert generation.finish_reason == "length"
    assert generation.cost == MODEL.cost(generation.usage)


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_generated_answer_stops_being_read_at_its_output_cap(is_async: bool) -> None:
    read: list[int] = []

    def pieces(request: GenerationRequest) -> Any:
        def sync() -> Any:
            for i in range(100):
                read.append(i)
                yield "abcdef"

        async def asynchronous() -> Any:
            for i in range(100):
                read.append(i)
                yield "abcdef"

        return asynchronous() if is_async else sync()

    streamed: list[str] = []

    async def sink(text: str) -> None:
        streamed.append(text)

    generation = await FunctionProvider(pieces).generate_stream(make_request(max_output_tokens=5), sink)
    assert generation.text == "abcdef" * 3 + "ab" == "".join(streamed)
    assert (generation.usage.output_tokens, generation.finish_reason) == (5, "length")
    assert len(read) == 4


async def test_a_verdict_longer_than_its_cap_is_kept_whole_and_counted_at_the_cap() -> None:
    verdict = '{"score": 9, "feedback": "' + "fine " * 50 + '"}'
    request = make_request(max_output_tokens=8, purpose="judge", json_output=True)
    generation = await FunctionProvider(lambda request: verdict).generate(request)
    assert generation.text == verdict
    assert (generation.usage.output_tokens, generation.finish_reason) == (8, "length")


async def test_an_answer_that_fits_its_cap_is_whole_and_stops() -> None:
    generation = await FunctionProvider(lambda request: "x" * 40).generate(make_request(max_output_tokens=10))
    assert (generation.text, generation.usage.output_tokens, generation.finish_reason) == ("x" * 40, 10, "stop")


def test_a_run_over_long_scripted_answers_keeps_its_cost_limit() -> None:
    # Scripted answers of 20,000 characters: each was billed in full (about 5,000 output tokens) whatever cap the
    # call was sent, so a $0.02 run spent $0.05 and stopped `failed` after paying for an answer no judge could read.
    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 5, "feedback": "more detail " * 100})
        return "word " * 4000

    catalog = ModelCatalog(
        ModelProfile(name=f"function:{n}", input_cost_per_1k=0.001, output_cost_per_1k=0.01) for n in "abc"
    )
    orchestrator = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog)
    for limit in (0.02, 0.05):
        result = orchestrator.run_sync("Write at length", max_iterations=3, cost_limit=limit)
        assert result.total_cost <= limit
        assert result.overage_cost == 0
        assert result.status == "completed", result.error
        assert all(not it.errors for it in result.orchestration.iterations)
    orchestrator.close()


async def test_a_generation_without_usage_longer_than_its_cap_is_cut_there_as_a_str_is() -> None:
    # (it was counted at the cap but kept whole: the judges read, and were priced for, all of it)
    answer = Generation(text="word " * 100, latency_ms=12.0)
    generation = await FunctionProvider(lambda request: answer).generate(make_request(max_output_tokens=10))
    assert generation.text == ("word " * 100)[:40]
    assert (generation.usage.output_tokens, generation.finish_reason) == (10, "length")
    assert generation.latency_ms == 12.0 and generation.cost == MODEL.cost(generation.usage)
    verdict = '{"score": 9, "feedback": "' + "fine " * 50 + '"}'
    judged = await FunctionProvider(lambda request: Generation(text=verdict)).generate(
        make_request(max_output_tokens=8, purpose="judge", json_output=True)
    )
    assert judged.text == verdict and judged.usage.output_tokens == 8  # (a verdict is kept whole, as a str's is)
    reported = Generation(text="word " * 100, usage=Usage(input_tokens=5, output_tokens=500))
    assert (await FunctionProvider(lambda request: reported).generate(make_request(max_output_tokens=10))) is reported


def test_a_run_over_long_scripted_generations_without_usage_is_judged_within_its_cost_limit() -> None:
    # A function returning `Generation(text=...)` (to set its latency or finish reason) had its answer counted at
    # the cap but kept whole: with $0.05 the 25,000-character answer was paid for, then no judge fitted what was
    # left to read it ("no judge's worst case fits the $0.044690 left"), and the run failed where a str completed.
    def answer(request: GenerationRequest) -> str | Generation:
        if request.purpose == "judge":
            return json.dumps({"score": 9, "feedback": "ok"})
        return Generation(text="word " * 5000, latency_ms=5.0)

    catalog = ModelCatalog(
        ModelProfile(name=f"function:{n}", input_cost_per_1k=0.01, output_cost_per_1k=0.02) for n in "ab"
    )
    orchestrator = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog)
    result = orchestrator.run_sync("Write at length", max_iterations=1, cost_limit=0.05)
    assert result.status == "completed", result.error
    assert result.total_cost <= 0.05 and result.overage_cost == 0
    [iteration] = result.orchestration.iterations
    assert iteration.response is not None and len(iteration.response) == 4 * iteration.usage.output_tokens
    orchestrator.close()
