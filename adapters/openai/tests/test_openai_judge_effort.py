"""A reasoning model asked to judge reasons at `low` effort: at the default (`medium`) its reasoning, which counts
toward the judge's output cap (512 tokens), could spend the whole cap before the verdict, and the call came back empty.

Through a running `Orchestrator`, against OpenAI's documented bodies over a mock transport."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from orchestratex import BayesianRouter, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion, responses_object

WRITER = ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9)
EFFORT_REFUSAL = {  # OpenAI's answer to an effort a model does not reason at (`gpt-5-pro` reasons at `high` only)
    "error": {
        "message": "Unsupported value: 'reasoning_effort' does not support 'low' with this model. Supported values"
        " are: 'high'.",
        "type": "invalid_request_error",
        "param": "reasoning_effort",
        "code": "unsupported_value",
    }
}


def judge(name: str) -> ModelProfile:
    return ModelProfile(name=f"openai:{name}", input_cost_per_1k=0.001, output_cost_per_1k=0.004, quality=6)


def run_twice(provider: OpenAIProvider, judge_model: ModelProfile) -> None:
    with Orchestrator(
        catalog=ModelCatalog([WRITER, judge_model]), providers=[provider], router=BayesianRouter(explore=False)
    ) as orchestrator:
        for _ in range(2):  # (a second run on the same orchestrator, too)
            result = orchestrator.run_sync("2+2?", preferred_models=["openai:gpt-4.1"], max_iterations=1)
            assert result.status == "completed" and result.final_score == 9, result.error


def test_a_reasoning_judge_is_asked_for_low_effort_and_a_writer_is_not() -> None:
    bodies: list[dict[str, Any]] = []

    def openai_api(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        text = '{"score": 9, "feedback": "clear"}' if "response_format" in body else "Four."
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=12, output_tokens=6), text=text))

    provider = OpenAIProvider(
        api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(openai_api))
    )
    run_twice(provider, judge("o4-mini"))
    efforts = [(b["model"], b.get("reasoning_effort")) for b in bodies]
    assert efforts == [("gpt-4.1", None), ("o4-mini", "low")] * 2


def test_a_model_refusing_the_effort_judges_without_it_from_then_on() -> None:
    """A model that reasons at one effort only (or a gateway that does not know the field) refuses it with a 400: the
    judge is asked again without it, and sent none from then on (here on Chat Completions; the Responses API's
    `reasoning` likewise)."""
    bodies: list[dict[str, Any]] = []

    def openai_api(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if body["model"] == "o4-mini" and "reasoning_effort" in body:
            return httpx2.Response(400, json=EFFORT_REFUSAL)
        text = '{"score": 9, "feedback": "clear"}' if "response_format" in body else "Four."
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=12, output_tokens=6), text=text))

    provider = OpenAIProvider(
        api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(openai_api))
    )
    run_twice(provider, judge("o4-mini"))
    judged = [b for b in bodies if b["model"] == "o4-mini"]
    assert ["reasoning_effort" in b for b in judged] == [True, False, False], judged  # refused once, then never sent


def test_a_reasoning_judge_on_the_responses_api_is_asked_for_low_effort() -> None:
    bodies: list[dict[str, Any]] = []

    def openai_api(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        assert request.url.path.endswith("/responses"), request.url
        text = '{"score": 9, "feedback": "clear"}' if "text" in body else "Four."
        return httpx2.Response(200, json=responses_object(Usage(input_tokens=12, output_tokens=6), text=text))

    provider = OpenAIProvider(
        api_key="sk-test", api="responses", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(openai_api))
    )
    run_twice(provider, judge("o3"))
    efforts = [(b["model"], b.get("reasoning")) for b in bodies]
    assert efforts == [("gpt-4.1", None), ("o3", {"effort": "low"})] * 2
