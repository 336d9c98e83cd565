"""A judge's call whose verdict cannot be read (no score, a blank answer) in the server's metrics and its `model_call`
log line: a failed call, as an empty answer's, not an answered one."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from orchestratex import (
    BayesianRouter,
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.stores import MemoryStore

from .conftest import bearer, in_app_loop


def _model(name: str, quality: float) -> ModelProfile:
    return ModelProfile(
        name=f"function:{name}",
        input_cost_per_1k=0.001,
        output_cost_per_1k=0.002,
        context_window=100_000,
        max_output_tokens=1000,
        quality=quality,
    )


@pytest.mark.parametrize("said", ["I liked it a lot, well done.", "  \n"], ids=["no-score", "blank"])
def test_a_judge_whose_verdict_cannot_be_read_counts_as_a_failed_call(
    said: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: its call counted `outcome="ok"` (and its log line said so, at INFO), though it gave no verdict and the
    # run set the judge aside; an alert on a judge's failed calls never saw it
    def answer(request: GenerationRequest) -> str:
        if request.purpose != "judge":
            return "7"
        return said if request.model.name == "function:mumbler" else '{"score": 9, "feedback": "fine"}'

    caplog.set_level(logging.INFO, logger="orchestratex.providers")
    store = MemoryStore()
    orchestrator = Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=ModelCatalog([_model("writer", 9.0), _model("mumbler", 8.0), _model("judge", 7.9)]),
        router=BayesianRouter(explore=False),
        evaluator=LLMJudgeEvaluator(panel_size=2, min_quality=None),
        judges=["function:mumbler", "function:judge"],
        store=store,
    )
    app = create_app(orchestrator=orchestrator, settings=ServerSettings(metrics="open"))
    with TestClient(app) as client:
        key = in_app_loop(client).call(issue_api_key, store, "alice")
        body = {"model": "orchestratex/auto", "messages": [{"role": "user", "content": "Name a prime"}]}
        reply = client.post("/v1/chat/completions", json=body, headers=bearer(key))
        metrics = client.get("/metrics").text
    assert reply.status_code == 200, reply.text
    calls = {
        (s.labels["model"], s.labels["role"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "orchestratex_model_calls_total"
    }
    assert calls[("function:mumbler", "judge", "error")] == 1
    assert calls.get(("function:mumbler", "judge", "ok"), 0) == 0
    assert calls[("function:judge", "judge", "ok")] == 1 and calls[("function:writer", "generate", "ok")] == 1
    (line,) = [r for r in caplog.records if getattr(r, "model", None) == "function:mumbler"]
    assert line.levelno == logging.WARNING and getattr(line, "outcome", None) == "error"
    assert getattr(line, "error_type", None) == "EvaluationError"
    assert "no score found in the judge's answer" in str(getattr(line, "error", ""))
