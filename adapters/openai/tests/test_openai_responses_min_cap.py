"""The Responses API refuses an output cap below 16 tokens (`integer_below_min_value`): a run asked for fewer sends,
and sets aside the budget for, 16 to a model served there, and a request with less is refused before it is sent."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ProviderHTTPError
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion, responses_object

PRO = ModelProfile(name="openai:gpt-5-pro", input_cost_per_1k=0.015, output_cost_per_1k=0.12, quality=9)
MINI = ModelProfile(name="openai:gpt-4.1-mini", input_cost_per_1k=0.0004, output_cost_per_1k=0.0016, quality=5)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)


class OpenAI:
    """OpenAI's API as documented: the Responses API refuses `max_output_tokens` below 16 with a 400."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.sent.append((request.url.path, body))
        if request.url.path.endswith("/responses"):
            cap = body["max_output_tokens"]
            if cap < 16:
                error = {
                    "message": f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but"
                    f" got {cap} instead.",
                    "type": "invalid_request_error",
                    "param": "max_output_tokens",
                    "code": "integer_below_min_value",
                }
                return httpx2.Response(400, json={"error": error})
            return httpx2.Response(200, json=responses_object(Usage(input_tokens=20, output_tokens=cap), text="Yes."))
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=20, output_tokens=2), text="Yes."))


def _provider(server: OpenAI) -> OpenAIProvider:
    return OpenAIProvider(api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))


async def test_a_run_asked_for_a_short_answer_sends_a_responses_model_the_least_cap_it_takes() -> None:
    """`max_output_tokens=8` for a yes/no question, with `gpt-5-pro` preferred: the call was sent 8, OpenAI answered
    400 and the run failed (or fell back) without an answer of that model."""
    server = OpenAI()
    judge = FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))
    orch = Orchestrator(
        providers=[_provider(server), judge],
        catalog=ModelCatalog([PRO, MINI, JUDGE]),
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
    )
    result = await orch.run(
        "Is 7 prime? Yes or no.", max_iterations=1, max_output_tokens=8, preferred_models=[PRO.name], cost_limit=1.0
    )
    assert result.status == "completed", result.orchestration.iterations
    assert result.final_response == "Yes."
    assert [(path, body["max_output_tokens"]) for path, body in server.sent] == [("/v1/responses", 16)]
    assert result.orchestration.iterations[0].cost == PRO.cost(Usage(input_tokens=20, output_tokens=16))


async def test_a_budget_that_pays_for_fewer_than_16_tokens_does_not_choose_a_responses_model() -> None:
    """What the budget affords is what is sent: a budget that pays for 12 tokens of `gpt-5-pro` leaves it out rather
    than sending it 8 (refused) or 16 (more than the budget)."""
    server = OpenAI()
    cheap_judge = JUDGE.model_copy(update={"input_cost_per_1k": 1e-9, "output_cost_per_1k": 1e-9})
    judge = FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))
    orch = Orchestrator(
        providers=[_provider(server), judge],
        catalog=ModelCatalog([PRO, cheap_judge]),
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
    )
    prompt = "Is 7 prime? Yes or no."
    request = GenerationRequest(model=PRO, messages=[Message(role="user", content=prompt)])
    input_bound = orch.providers["openai"].count_input_tokens(request)
    budget = PRO.cost(Usage(input_tokens=input_bound + 64, output_tokens=12))  # (the system prompt: within 64 tokens)
    result = await orch.run(prompt, max_iterations=1, max_output_tokens=8, cost_limit=budget)
    assert result.status != "completed" and server.sent == []


@pytest.mark.parametrize("stream", [False, True])
async def test_a_request_below_the_least_cap_is_refused_before_it_is_sent(stream: bool) -> None:
    server = OpenAI()
    provider = _provider(server)
    assert provider.min_output_tokens(PRO) == 16 and provider.min_output_tokens(MINI) == 1
    request = GenerationRequest(model=PRO, messages=[Message(role="user", content="Hi")], max_output_tokens=10)

    async def sink(text: str) -> None:
        pass

    with pytest.raises(
        ProviderHTTPError, match=r"at least 16 tokens \(its API refuses less\), not max_output_tokens=10"
    ) as caught:
        await (provider.generate_stream(request, sink) if stream else provider.generate(request))
    assert not caught.value.retryable and server.sent == []
    await provider.aclose()


GPT5 = ModelProfile(name="openrouter:openai/gpt-5", input_cost_per_1k=0.00125, output_cost_per_1k=0.01, quality=9)
WRITER = ModelProfile(name="function:writer", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)


def _openrouter(sent: list[int]) -> httpx2.AsyncClient:
    """OpenRouter passing OpenAI's (or Azure's) refusal of a cap below 16 on in its own error, as it does."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        cap = json.loads(request.content)["max_tokens"]
        sent.append(cap)
        if cap < 16:
            raw = {
                "error": {
                    "message": f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16,"
                    f" but got {cap} instead.",
                    "type": "invalid_request_error",
                    "param": "max_output_tokens",
                    "code": "integer_below_min_value",
                }
            }
            metadata = {"raw": json.dumps(raw, indent=2), "provider_name": "Azure"}
            error = {"message": "Provider returned error", "code": 400, "metadata": metadata}
            return httpx2.Response(400, json={"error": error, "user_id": "user_1"})
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=20, output_tokens=3), text="Yes."))

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


async def test_a_gateway_s_refusal_of_a_small_cap_is_remembered_for_the_next_runs() -> None:
    """OpenRouter (or Azure) passes OpenAI's models on to the Responses API: its refusal of a cap below 16 failed every
    run with a small `max_output_tokens` alike. The first refusal now says what the model takes: the next runs send,
    and reserve, that."""
    from orchestratex_openai import OpenRouterProvider

    sent: list[int] = []
    provider = OpenRouterProvider(api_key="sk-or-test", http_client=_openrouter(sent))
    other = FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}) if r.purpose == "judge" else "Yes!")
    orch = Orchestrator(
        providers=[provider, other],
        catalog=ModelCatalog([GPT5, WRITER, JUDGE]),
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
    )
    options: dict[str, Any] = {
        "max_iterations": 1,
        "max_output_tokens": 8,
        "preferred_models": [GPT5.name, WRITER.name],
    }
    first = await orch.run("Is 7 prime? Yes or no.", **options)
    assert (
        first.final_response == "Yes!" and "integer below minimum value" in first.orchestration.iterations[0].errors[0]
    )
    assert provider.min_output_tokens(GPT5) == 16
    second = await orch.run("Is 11 prime? Yes or no.", **options)
    assert second.status == "completed" and second.final_response == "Yes." and second.final_model == GPT5.name
    assert sent == [8, 16]
