"""`/v1` `usage` counts every billed call, those that failed too: a refusal the provider billed (`ContentFiltered` with
usage), an empty answer, a judge's refusal. Before, it summed only the iterations' answers and the verdicts, so it
left out calls that `orchestratex.cost` (and the session's analytics) counted: the tokens paid for did not add up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from orchestratex import (
    BayesianRouter,
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)
from orchestratex.exceptions import ContentFiltered
from orchestratex.orchestrator import RetryPolicy
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore
from orchestratex.usage import Usage

from .conftest import in_app_loop

PROMPT: Any = [{"role": "user", "content": "Name a prime"}]


def _profile(name: str, quality: float) -> ModelProfile:
    return ModelProfile(
        name=f"function:{name}",
        input_cost_per_1k=0.001,
        output_cost_per_1k=0.001,
        context_window=100_000,
        max_output_tokens=1000,
        quality=quality,
    )


def _answer(request: GenerationRequest) -> str:
    name = request.model.name
    if request.purpose == "judge":
        if name == "function:shy":  # a judge whose refusal is billed
            raise ContentFiltered("refused", status_code=200, usage=Usage(input_tokens=300, output_tokens=20))
        return '{"score": 9, "feedback": "fine"}'
    if name == "function:best":  # read the prompt, wrote, and withheld it: billed
        raise ContentFiltered("withheld", status_code=200, usage=Usage(input_tokens=700, output_tokens=50))
    if name == "function:mute":
        return " "  # an empty answer, billed
    return "7"


@pytest.fixture
def served() -> Iterator[tuple[OpenAI, TestClient, MemoryStore]]:
    store = MemoryStore()
    orchestrator = Orchestrator(
        catalog=ModelCatalog(
            _profile(name, quality)
            for name, quality in (("best", 9.5), ("mute", 9.0), ("good", 8.0), ("shy", 7.9), ("judge", 7.8))
        ),
        providers={"function": FunctionProvider(_answer)},
        router=BayesianRouter(explore=False),
        evaluator=LLMJudgeEvaluator(panel_size=2, min_quality=None),
        judges=["function:shy", "function:judge"],
        store=store,
        retry=RetryPolicy(max_attempts=1),
    )
    with TestClient(create_app(store, orchestrator)) as http:
        key = in_app_loop(http).call(issue_api_key, store, "alice")
        yield OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0), http, store


def test_usage_counts_the_billed_calls_that_failed(served: tuple[OpenAI, TestClient, MemoryStore]) -> None:
    client, http, store = served
    reply = client.chat.completions.create(
        model="orchestratex/auto", messages=PROMPT, extra_body={"max_iterations": 1, "session_id": None}
    )
    extension: dict[str, Any] = reply.model_extra["orchestratex"]  # type: ignore[index]
    doc = in_app_loop(http).call(store.get_orchestration, extension["orchestration_id"])
    [it] = doc.iterations
    assert it.model_name == "function:good" and reply.choices[0].message.content == "7"
    assert [e.split(":")[1] for e in it.errors] == ["best", "mute"]  # both billed, neither answered
    assert it.evaluation is not None and {v.judge_model for v in it.evaluation.verdicts} == {
        "function:shy",
        "function:judge",
    }
    analytics = in_app_loop(http).call(store.session_analytics, doc.session_id)
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (
        analytics.input_tokens,
        analytics.output_tokens,
    )
    assert reply.usage.prompt_tokens > 700 + 300  # the refusals' tokens are in it
    assert extension["cost"] == pytest.approx(analytics.total_cost, abs=1e-12)

    before = in_app_loop(http).call(store.user_analytics, "alice")
    stream = client.chat.completions.create(
        model="orchestratex/auto", messages=PROMPT, stream=True, stream_options={"include_usage": True}
    )
    usage = [chunk.usage for chunk in stream if chunk.usage is not None]
    after = in_app_loop(http).call(store.user_analytics, "alice")
    assert len(usage) == 1
    assert (usage[0].prompt_tokens, usage[0].completion_tokens) == (
        after.input_tokens - before.input_tokens,
        after.output_tokens - before.output_tokens,
    )


def test_an_orchestration_stored_before_usage_was_counted_sums_its_iterations() -> None:
    from orchestratex.records import Iteration, Orchestration
    from orchestratex.server._openai_results import total_usage

    old = Orchestration.model_validate(
        {
            "thread_id": "t" * 24,
            "session_id": "s" * 24,
            "user_id": "alice",
            "prompt": "p",
            "iterations": [
                Iteration(index=1, model_name="m", prompt="p", usage=Usage(input_tokens=5, output_tokens=2))
            ],
        }
    )
    assert old.usage is None and total_usage(old) == Usage(input_tokens=5, output_tokens=2)
