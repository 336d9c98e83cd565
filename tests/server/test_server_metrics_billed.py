"""A failed call the provider billed (a refusal by its content filter after the model read the prompt) in the server's
metrics, its `model_call` log line and its span, as in the run's `total_cost`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx2
import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
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
from orchestratex.exceptions import ContentFiltered
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.stores import MemoryStore
from orchestratex.usage import Usage

from ..telemetry_fixtures import spans
from .conftest import bearer, in_app_loop

__all__ = ["spans"]  # (a fixture of tests/telemetry_fixtures.py)


def _model(name: str, quality: float) -> ModelProfile:
    return ModelProfile(
        name=f"function:{name}",
        input_cost_per_1k=0.001,
        output_cost_per_1k=0.002,
        context_window=100_000,
        max_output_tokens=1000,
        quality=quality,
    )


def panel_reply(answer: Callable[[GenerationRequest], str], odd: str) -> tuple[httpx2.Response, str]:
    """One `/v1` call to a server whose `answer`ing models are `function:writer` and the panel `function:<odd>` and
    `function:judge`, and the server's `/metrics` after it."""
    store = MemoryStore()
    orchestrator = Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=ModelCatalog([_model("writer", 9.0), _model(odd, 8.0), _model("judge", 7.9)]),
        router=BayesianRouter(explore=False),
        evaluator=LLMJudgeEvaluator(panel_size=2, min_quality=None),
        judges=[f"function:{odd}", "function:judge"],
        store=store,
    )
    app = create_app(orchestrator=orchestrator, settings=ServerSettings(metrics="open"))
    with TestClient(app) as client:
        key = in_app_loop(client).call(issue_api_key, store, "alice")
        body = {"model": "orchestratex/auto", "messages": [{"role": "user", "content": "Name a prime"}]}
        reply = client.post("/v1/chat/completions", json=body, headers=bearer(key))
        return reply, client.get("/metrics").text


def _answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return '{"score": 9, "feedback": "fine"}'
    if request.model.name == "function:prude":  # billed as any answer, then refused (Azure's content filter)
        raise ContentFiltered(
            "the answer was filtered", status_code=400, usage=Usage(input_tokens=300, output_tokens=20)
        )
    return "7"


def test_a_billed_refusal_counts_in_the_metrics_log_line_and_span(
    caplog: pytest.LogCaptureFixture, spans: InMemorySpanExporter
) -> None:
    """The run counted the refused call's cost in its `total_cost`, but `orchestratex_cost_usd_total` and
    `orchestratex_tokens_total` left it out (as did its `model_call` line and `chat` span): a dashboard of what the
    server spent read less than the runs' own totals, the difference being every filtered answer."""
    caplog.set_level(logging.INFO, logger="orchestratex.providers")
    store = MemoryStore()
    orchestrator = Orchestrator(
        providers=[FunctionProvider(_answer)],
        catalog=ModelCatalog([_model("prude", 9.5), _model("writer", 8.0), _model("judge", 7.9)]),
        router=BayesianRouter(explore=False),  # (the best model first: the one that refuses)
        judges=["function:judge"],
        store=store,
    )
    app = create_app(orchestrator=orchestrator, settings=ServerSettings(metrics="open"))
    with TestClient(app) as client:
        alice = bearer(in_app_loop(client).call(issue_api_key, store, "alice"))
        sid = client.post("/api/sessions/", json={"user_id": "alice"}, headers=alice).json()["_id"]
        tid = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Name a prime"}, headers=alice)
        body = {"thread_id": tid.json()["_id"], "settings": {"max_iterations": 1}}
        oid = client.post("/api/orchestration/start", json=body, headers=alice).json()["_id"]
        deadline = time.monotonic() + 30
        while (doc := client.get(f"/api/orchestration/status/{oid}", headers=alice).json())["status"] == "running":
            assert time.monotonic() < deadline, doc
            time.sleep(0.02)
        metrics = client.get("/metrics").text
    assert doc["status"] == "completed" and doc["final_model"] == "function:writer", doc
    refused = 0.3 * 0.001 + 0.02 * 0.002
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
    }
    cost = sum(v for (name, _), v in samples.items() if name == "orchestratex_cost_usd_total")
    assert cost == pytest.approx(doc["total_cost"], abs=1e-12)
    assert samples[("orchestratex_cost_usd_total", (("model", "function:prude"), ("role", "generate")))] == (
        pytest.approx(refused, abs=1e-12)
    )
    assert samples[("orchestratex_tokens_total", (("model", "function:prude"), ("type", "input")))] == 300
    assert samples[("orchestratex_tokens_total", (("model", "function:prude"), ("type", "output")))] == 20
    outcome = (("model", "function:prude"), ("outcome", "error"), ("provider", "function"), ("role", "generate"))
    assert samples[("orchestratex_model_calls_total", outcome)] == 1
    (line,) = [r for r in caplog.records if getattr(r, "model", None) == "function:prude"]
    assert line.levelno == logging.WARNING and getattr(line, "error_type", None) == "ContentFiltered"
    assert getattr(line, "cost_usd", None) == pytest.approx(refused, abs=1e-12)
    assert (getattr(line, "input_tokens", None), getattr(line, "output_tokens", None)) == (300, 20)
    assert "cost_usd=0.00034 " in line.getMessage()
    (span,) = [
        s for s in spans.get_finished_spans() if (s.attributes or {}).get("orchestratex.model") == "function:prude"
    ]
    attributes = dict(span.attributes or {})
    assert span.status.status_code is trace.StatusCode.ERROR
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (300, 20)
    assert attributes["orchestratex.cost_usd"] == pytest.approx(refused, abs=1e-12)


def test_a_judges_billed_refusal_counts_in_the_metrics() -> None:
    """The same for a judge of the panel that refused after reading the answer: its cost is in the verdict's and the
    run's, and now in `orchestratex_cost_usd_total{role="judge"}` too."""

    def judged(request: GenerationRequest) -> str:
        if request.purpose == "judge" and request.model.name == "function:shy":
            raise ContentFiltered("the judge refused", status_code=200, usage=Usage(input_tokens=300, output_tokens=20))
        return '{"score": 9, "feedback": "fine"}' if request.purpose == "judge" else "7"

    answer, metrics = panel_reply(judged, "shy")
    assert answer.status_code == 200, answer.text
    total = answer.json()["orchestratex"]["cost"]
    costs = {
        (s.labels["model"], s.labels["role"]): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "orchestratex_cost_usd_total"
    }
    assert costs[("function:shy", "judge")] == pytest.approx(0.3 * 0.001 + 0.02 * 0.002, abs=1e-12)
    assert sum(costs.values()) == pytest.approx(total, abs=1e-12)
