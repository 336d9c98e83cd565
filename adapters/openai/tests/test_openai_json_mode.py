"""JSON mode is given up per model: OpenAI's `o1-mini` refuses `response_format` while every other model of the same
API takes it, so one model's refusal must not turn JSON mode off for the judges beside it."""

from __future__ import annotations

import json

import httpx2

from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.evaluation import LLMJudgeEvaluator
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion

O1_MINI = ModelProfile(name="openai:o1-mini", input_cost_per_1k=0.0011, output_cost_per_1k=0.0044, quality=6)
GPT41 = ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=7)
WRITER = ModelProfile(name="function:writer", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)
REFUSAL = {  # OpenAI's answer to JSON mode for o1-mini
    "error": {
        "message": "Invalid parameter: 'response_format' of type 'json_object' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": None,
    }
}


async def test_one_model_refusing_json_mode_leaves_it_on_for_the_other_models() -> None:
    """Once `o1-mini` (a judge) had refused `response_format`, the provider stopped sending it for every model of
    OpenAI's API: `gpt-4.1`'s verdicts were from then on asked for in words only. Only `o1-mini` goes without it."""
    sent: list[dict[str, object]] = []

    def openai_api(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        sent.append(body)
        if body["model"] == "o1-mini" and "response_format" in body:
            return httpx2.Response(400, json=REFUSAL)
        verdict = json.dumps({"score": 9, "feedback": "Correct."})
        usage = Usage(input_tokens=40, output_tokens=12)
        return httpx2.Response(200, json=chat_completion(usage, text=verdict, model=body["model"]))

    provider = OpenAIProvider(
        api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(openai_api))
    )
    orchestrator = Orchestrator(
        providers=[provider, FunctionProvider(lambda request: "Paris.")],
        catalog=ModelCatalog([O1_MINI, GPT41, WRITER]),
        evaluator=LLMJudgeEvaluator(panel_size=2),  # (both judge every answer)
    )
    for _ in range(2):
        result = await orchestrator.run("The capital of France?", preferred_models=["function:writer"])
        assert result.final_response == "Paris." and result.final_score == 9.0
    by_model = {m: [("response_format" in b) for b in sent if b["model"] == m] for m in ("o1-mini", "gpt-4.1")}
    assert by_model == {"o1-mini": [True, False, False], "gpt-4.1": [True, True]}
