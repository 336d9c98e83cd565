"""FunctionProvider: the mistakes a user's function is likely to make are refused, naming the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestratex import ModelCatalog, ModelProfile, Orchestrator
from orchestratex.exceptions import UserError
from orchestratex.providers import FunctionProvider, GenerationRequest, Message

MODEL = ModelProfile(name="function:echo", input_cost_per_1k=0.001, output_cost_per_1k=0.002)
VERDICT = {"score": 9.0, "feedback": "Fine."}


def request(purpose: Any = "generate") -> GenerationRequest:
    return GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hi")], purpose=purpose)


@pytest.mark.parametrize("value", [VERDICT, {"text": "an answer"}, b"an answer"], ids=["verdict", "dict", "bytes"])
async def test_a_mapping_or_bytes_is_refused_not_iterated_as_pieces(value: object) -> None:
    # a dict used to be joined from its keys: a verdict {"score": 9, ...} became the answer "scorefeedback"
    provider = FunctionProvider(lambda r: value)  # type: ignore[arg-type,return-value]
    with pytest.raises(UserError, match=f"returned {type(value).__name__}; return a str"):
        await provider.generate(request())


async def test_a_judge_verdict_returned_as_a_dict_says_to_dump_it() -> None:
    provider = FunctionProvider(lambda r: VERDICT)
    with pytest.raises(UserError, match=r"return a str \(json\.dumps\(\.\.\.\) a judge's verdict\)"):
        await provider.generate(request("judge"))


async def test_a_list_of_pieces_still_works() -> None:
    generation = await FunctionProvider(lambda r: ["one ", "two"]).generate(request())
    assert generation.text == "one two"


@pytest.mark.parametrize("wrong", ["verdict", "answer"])
async def test_a_run_whose_function_returns_the_wrong_type_raises_naming_the_fix(wrong: str) -> None:
    # a bug of the test double fails the test loudly, as docs/testing.md says: a judge's dict was a failed verdict
    # ("no judge produced a verdict", then the run failed), an answer's None a failed run, neither raised
    def answer(r: GenerationRequest) -> Any:
        if r.purpose == "judge":
            return VERDICT if wrong == "verdict" else json.dumps(VERDICT)
        return None if wrong == "answer" else "An answer."

    catalog = ModelCatalog(ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in ("a", "b"))
    orchestrator = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog)
    fix = r"json\.dumps\(\.\.\.\) a judge's verdict" if wrong == "verdict" else r"returned NoneType; return a str"
    with pytest.raises(UserError, match=fix):
        await orchestrator.run("Hi", max_iterations=1)
    (stored,) = await orchestrator.store.list_orchestrations()
    assert stored.status == "failed"
    assert "scorefeedback" not in (stored.error or "")
    assert ("json.dumps" if wrong == "verdict" else "NoneType") in (stored.error or "")
    await orchestrator.aclose()


@pytest.mark.parametrize("counted", ["12", 3.7, -5, True, None], ids=["str", "float", "negative", "bool", "none"])
def test_count_tokens_must_return_a_non_negative_int(counted: object) -> None:
    provider = FunctionProvider(lambda r: "ok", count_tokens=lambda r: counted)  # type: ignore[arg-type,return-value]
    with pytest.raises(
        UserError, match=r"count_tokens of FunctionProvider 'function' returned .*; return .* an int >= 0"
    ):
        provider.count_input_tokens(request())


def test_count_tokens_takes_any_integer() -> None:
    class Tokens(int):
        pass

    provider = FunctionProvider(lambda r: "ok", count_tokens=lambda r: Tokens(7))
    assert provider.count_input_tokens(request()) == 7


async def test_a_run_with_a_bad_count_tokens_raises_naming_it() -> None:
    catalog = ModelCatalog(ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in ("a", "b"))
    provider = FunctionProvider(
        lambda r: json.dumps(VERDICT) if r.purpose == "judge" else "ok",
        count_tokens=lambda r: -5,
    )
    orchestrator = Orchestrator(providers=[provider], catalog=catalog)
    with pytest.raises(UserError, match="count_tokens of FunctionProvider 'function' returned -5"):
        await orchestrator.run("Hi", max_iterations=1)
    (stored,) = await orchestrator.store.list_orchestrations()
    assert stored.status == "failed" and stored.total_cost == 0.0  # nothing was reserved against -5 tokens
    await orchestrator.aclose()


async def test_a_function_provider_without_a_catalog_of_its_models_says_how_to_give_one() -> None:
    # The commonest first try: the default catalog has no `function:` model, and the error said "(the catalog is
    # empty) … Enable a model, configure its provider, or choose other models", of a catalog the user never gave.
    from orchestratex.exceptions import ConfigurationError

    orchestrator = Orchestrator(providers=[FunctionProvider(lambda request: "42", name="fake")])
    with pytest.raises(ConfigurationError) as caught:
        await orchestrator.run("What is six times seven?")
    message = str(caught.value)
    assert "it has no model of the configured providers (fake)" in message
    assert "catalog=ModelCatalog([ModelProfile(name='fake:my-model'" in message
    assert "the catalog is empty" not in message
    assert await orchestrator.store.list_orchestrations() == []
    await orchestrator.aclose()


def test_an_async_count_tokens_is_refused_when_the_provider_is_made() -> None:
    # `count_tokens=async def …` (a vendor's token-counting endpoint is async) was accepted; each run then failed at
    # its first reservation with "returned <coroutine object …>" and Python warned "coroutine … was never awaited".
    async def count(request: GenerationRequest) -> int:
        return 10

    with pytest.raises(UserError, match=r"count_tokens must be a plain function \(GenerationRequest\) -> int"):
        FunctionProvider(lambda r: "ok", count_tokens=count)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"count_tokens must be a plain function"):
        FunctionProvider(lambda r: "ok", count_tokens=5)  # type: ignore[arg-type]


async def test_a_function_or_count_tokens_swapped_in_on_a_provider_in_use_is_checked_as_when_it_is_made() -> None:
    # `provider.fn = "42"` or `provider.count_tokens = async_count` (a test swapping in another function) was taken;
    # the next run then failed with "TypeError: 'str' object is not callable", or failed at its first reservation
    # with "returned <coroutine object …>", stored `failed` either way
    async def count(request: GenerationRequest) -> int:
        return 10

    provider = FunctionProvider(lambda r: json.dumps(VERDICT) if r.purpose == "judge" else "first")
    catalog = ModelCatalog([MODEL, MODEL.model_copy(update={"name": "function:other", "version": "other"})])
    orchestrator = Orchestrator(providers=[provider], catalog=catalog)
    with pytest.raises(UserError, match=r"^FunctionProvider needs a callable .* got '42'$"):
        provider.fn = "42"  # type: ignore[assignment]
    with pytest.raises(UserError, match=r"count_tokens must be a plain function \(GenerationRequest\) -> int"):
        provider.count_tokens = count  # type: ignore[assignment]
    provider.fn = lambda r: json.dumps(VERDICT) if r.purpose == "judge" else "second"
    provider.count_tokens = lambda r: 50
    result = await orchestrator.run("Hi", max_iterations=1)
    assert (result.status, result.final_response) == ("completed", "second")
    await orchestrator.aclose()
