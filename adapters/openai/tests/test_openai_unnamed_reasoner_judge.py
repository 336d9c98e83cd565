"""A reasoning model the adapter cannot tell by its id (an Azure deployment named `prod-sol` for a gpt-6.2-sol, a
gateway's alias) judging. Its judge calls were asked again without the `temperature` it refused, but at its default
reasoning effort (`medium`): its reasoning counts toward the judge's 512-token cap, which it could spend whole before
the verdict, which came back empty (`finish_reason: length`), a failed judge paid for, run after run. Only models known
by their ids were asked for `reasoning_effort: "low"`. A model that refused `temperature` reasons (OpenAI's reasoning
models answer "Unsupported value: 'temperature' does not support 0.0 with this model"): it is now asked for a low effort
as the known ones are, from the call that learnt it, on Chat Completions and on the Responses API."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from orchestratex import BayesianRouter, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion, responses_object

TEMPERATURE_REFUSAL = {
    "error": {
        "message": "Unsupported value: 'temperature' does not support 0.0 with this model. Only the default (1) value"
        " is supported.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "unsupported_value",
    }
}
VERDICT = '{"score": 9, "feedback": "clear"}'
WRITER = ModelProfile(name="openai:prod-writer", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9)
REASONER = ModelProfile(name="openai:prod-sol", input_cost_per_1k=0.002, output_cost_per_1k=0.01, quality=6)


class AzureV1:
    """Azure OpenAI's v1 API with two deployments: `prod-writer` (a gpt-4.1) and `prod-sol` (a gpt-6.2-sol, which
    refuses a temperature and, at its default effort, reasons the judge's whole cap away)."""

    def __init__(self) -> None:
        self.judged: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        responses = request.url.path.endswith("/responses")
        if body["model"] != "prod-sol":
            text = VERDICT if "response_format" in body or "text" in body else "Four."
            usage = Usage(input_tokens=12, output_tokens=6)
            return httpx2.Response(200, json=(responses_object if responses else chat_completion)(usage, text=text))
        self.judged.append(body)
        if "temperature" in body:
            return httpx2.Response(400, json=TEMPERATURE_REFUSAL)
        effort = body.get("reasoning_effort") or (body.get("reasoning") or {}).get("effort")
        cap = body.get("max_completion_tokens") or body.get("max_output_tokens")
        if effort == "low":
            usage = Usage(input_tokens=300, output_tokens=40, reasoning_tokens=26)
            return httpx2.Response(200, json=(responses_object if responses else chat_completion)(usage, text=VERDICT))
        usage = Usage(input_tokens=300, output_tokens=cap, reasoning_tokens=cap)
        if responses:
            return httpx2.Response(200, json=responses_object(usage, text="", incomplete="max_output_tokens"))
        return httpx2.Response(200, json=chat_completion(usage, text="", finish="length"))


def _judge_twice(api: str) -> list[dict[str, Any]]:
    server = AzureV1()
    provider = OpenAIProvider(
        api_key="azure-key",
        base_url="https://my-resource.openai.azure.com/openai/v1",
        api=api,  # type: ignore[arg-type]
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)),
    )
    with Orchestrator(
        catalog=ModelCatalog([WRITER, REASONER]),
        providers=[provider],
        router=BayesianRouter(explore=False),
        judges=[REASONER.name],
    ) as orchestrator:
        for _ in range(2):
            result = orchestrator.run_sync("2+2?", preferred_models=[WRITER.name], max_iterations=1)
            assert result.status == "completed" and result.final_score == 9, result.orchestration.iterations
    return server.judged


def test_a_deployment_that_refused_a_temperature_judges_at_low_effort() -> None:
    judged = _judge_twice("chat")
    assert [("temperature" in b, b.get("reasoning_effort")) for b in judged] == [
        (True, None),
        (False, "low"),
        (False, "low"),
    ]


def test_a_deployment_that_refused_a_temperature_judges_at_low_effort_on_the_responses_api() -> None:
    judged = _judge_twice("responses")
    assert [("temperature" in b, b.get("reasoning")) for b in judged] == [
        (True, None),
        (False, {"effort": "low"}),
        (False, {"effort": "low"}),
    ]
