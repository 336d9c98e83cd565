"""Spans of a real orchestration, checked against the documented names (docs/operate.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from orchestratex import (
    FunctionProvider,
    Generation,
    GenerationRequest,
    MemoryStore,
    Message,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)
from orchestratex.exceptions import ProviderError
from orchestratex.orchestrator import RetryPolicy
from orchestratex.telemetry import configure_telemetry
from orchestratex.usage import Usage

from .helpers import catalog, scripted
from .telemetry_fixtures import _restore_settings, spans

__all__ = ["_restore_settings", "spans"]

PROMPT = "Write a Python function that reverses a string"


def _orchestrator(fail: bool = False, score: float = 6.0) -> Orchestrator:
    """With `fail`, the first generation fails (whichever model the router picks), so a fallback follows."""
    failed: list[str] = []

    def answer(request: GenerationRequest) -> str:
        if fail and not failed:
            failed.append(request.model.name)
            raise ProviderError("the model is down", model=request.model.name, provider="function")
        return f"answer by {request.model.name}"

    return Orchestrator(
        providers=[scripted(answer, lambda r: score)],
        catalog=catalog("a", "b", "c", quality={"a": 9, "b": 8, "c": 7}),
        store=MemoryStore(),
        retry=RetryPolicy(max_attempts=1),
    )


def _by_name(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def _attrs(item: ReadableSpan | Event) -> dict[str, Any]:
    return dict(item.attributes or {})


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_run_emits_spans_per_orchestration_iteration_call_and_judgment(spans: InMemorySpanExporter) -> None:
    async with _orchestrator() as o:
        result = await o.run(PROMPT, max_iterations=2, evaluation_threshold=9)
    finished = spans.get_finished_spans()
    (root,) = _by_name(finished, "invoke_agent")
    iterations = _by_name(finished, "orchestratex.iteration")
    calls = _by_name(finished, "chat ")
    judgments = _by_name(finished, "orchestratex.judgment")
    assert len(iterations) == 2 == len(judgments) == result.iterations
    assert len(calls) == 4  # a generation and a judge per iteration

    attrs = _attrs(root)
    assert root.name == "invoke_agent orchestratex"
    assert root.kind == SpanKind.INTERNAL and root.parent is None
    assert attrs["gen_ai.operation.name"] == "invoke_agent"
    assert attrs["gen_ai.agent.name"] == "orchestratex"
    assert attrs["gen_ai.conversation.id"] == result.orchestration.thread_id
    assert attrs["orchestratex.orchestration.id"] == result.id
    assert attrs["orchestratex.stop_reason"] == "max_iterations" == result.stop_reason
    assert attrs["orchestratex.status"] == "completed"
    assert attrs["orchestratex.cost_usd"] == pytest.approx(result.total_cost)
    assert attrs["orchestratex.score"] == result.final_score
    assert attrs["orchestratex.iterations"] == 2
    assert "gen_ai.input.messages" not in attrs  # no prompt text unless asked for

    for index, it in enumerate(sorted(iterations, key=lambda s: s.start_time or 0), start=1):
        a = _attrs(it)
        assert _parent(it) == root.context.span_id
        assert a["orchestratex.iteration"] == index
        doc_it = result.orchestration.iterations[index - 1]
        assert a["orchestratex.routing.model"] == doc_it.model_name
        assert a["orchestratex.routing.reason"] == doc_it.reasoning
        assert a["orchestratex.score"] == doc_it.score
    iteration_ids = {s.context.span_id for s in iterations}
    judgment_ids = {s.context.span_id for s in judgments}

    generations = [c for c in calls if _attrs(c)["orchestratex.role"] == "generate"]
    judges = [c for c in calls if _attrs(c)["orchestratex.role"] == "judge"]
    assert len(generations) == 2 == len(judges)
    assert {_parent(c) for c in generations} == iteration_ids
    assert {_parent(c) for c in judges} == judgment_ids
    assert {_parent(j) for j in judgments} == iteration_ids
    total = 0.0
    for call in calls:
        a = _attrs(call)
        assert call.kind == SpanKind.CLIENT
        assert call.name == f"chat {a['gen_ai.request.model']}"
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.provider.name"] == "function"
        assert a["gen_ai.request.model"] == a["orchestratex.model"].partition(":")[2]
        assert a["gen_ai.response.model"] == a["gen_ai.request.model"]
        assert a["gen_ai.request.max_tokens"] > 0
        assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
        assert a["gen_ai.response.finish_reasons"] == ("stop",)
        assert a["orchestratex.cost_usd"] > 0
        total += a["orchestratex.cost_usd"]
        assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a
    assert total == pytest.approx(result.total_cost)
    for judgment in judgments:
        (event,) = judgment.events
        assert event.name == "gen_ai.evaluation.result"
        ea = _attrs(event)
        assert ea["gen_ai.evaluation.name"] == "orchestratex.judge"
        assert ea["gen_ai.evaluation.score.value"] == 6.0
        assert "gen_ai.evaluation.explanation" not in ea
        assert _attrs(judgment)["orchestratex.score"] == 6.0
    assert all(s.status.status_code != StatusCode.ERROR for s in finished)


async def test_errors_are_recorded_on_the_call_and_the_fallback_on_the_iteration(spans: InMemorySpanExporter) -> None:
    async with _orchestrator(fail=True, score=9.5) as o:
        result = await o.run(PROMPT, max_iterations=1)
    (first,) = [e.split(": ")[0] for e in result.orchestration.iterations[0].errors]
    assert result.status == "completed"
    finished = spans.get_finished_spans()
    failed = [c for c in _by_name(finished, "chat ") if c.status.status_code == StatusCode.ERROR]
    (call,) = failed
    assert _attrs(call)["error.type"] == "ProviderError"
    assert _attrs(call)["orchestratex.model"] == first
    assert call.events and call.events[0].name == "exception"
    (iteration,) = _by_name(finished, "orchestratex.iteration")
    assert [e.name for e in iteration.events] == ["orchestratex.fallback"]
    assert _attrs(iteration)["orchestratex.routing.model"] == result.final_model != first


async def test_a_failed_orchestration_marks_its_span_as_an_error(spans: InMemorySpanExporter) -> None:
    def down(request: GenerationRequest) -> str:
        raise ProviderError("every model is down", model=request.model.name, provider="function")

    async with Orchestrator(
        providers=[scripted(down, lambda r: 5)], catalog=catalog("a", "b"), retry=RetryPolicy(max_attempts=1)
    ) as o:
        result = await o.run(PROMPT)
    assert result.status == "failed"
    (root,) = _by_name(spans.get_finished_spans(), "invoke_agent")
    assert root.status.status_code == StatusCode.ERROR
    assert _attrs(root)["error.type"] == "orchestration_error"
    assert _attrs(root)["orchestratex.stop_reason"] == "error"


async def test_an_orchestration_failed_for_its_budget_marks_its_span_as_an_error(spans: InMemorySpanExporter) -> None:
    """A run that ended `failed` with no answer because no model fit its budget left its span without an error (an
    UNSET status), though it failed: a trace search for failed orchestrations missed it."""
    async with _orchestrator() as o:
        result = await o.run(PROMPT, cost_limit=0.000_000_1)
    assert result.status == "failed" and result.stop_reason == "budget"
    (root,) = _by_name(spans.get_finished_spans(), "invoke_agent")
    assert root.status.status_code == StatusCode.ERROR
    assert root.status.description == result.orchestration.error
    assert _attrs(root)["error.type"] == "orchestration_budget"
    assert _attrs(root)["orchestratex.status"] == "failed"


async def test_the_response_model_is_the_model_the_provider_says_answered(spans: InMemorySpanExporter) -> None:
    """`gen_ai.response.model` repeated `gen_ai.request.model` (the catalog's model id) whatever the provider said had
    answered: a dated snapshot (`gpt-4o-2024-08-06` for `gpt-4o`), or the model a router such as `openrouter/auto`
    picked, could not be seen in a trace."""

    def answer(request: GenerationRequest) -> Generation | str:
        if request.purpose == "judge":
            return json.dumps({"score": 9.5, "feedback": "fine"})
        return Generation(text="an answer", usage=Usage(input_tokens=5, output_tokens=3), response_model="a-2026-01-01")

    async with Orchestrator(
        providers=[FunctionProvider(answer)], catalog=catalog("a", "b", quality={"a": 9, "b": 8}), store=MemoryStore()
    ) as o:
        await o.run(PROMPT, max_iterations=1, preferred_models=["function:a"])
    calls = {_attrs(c)["orchestratex.role"]: _attrs(c) for c in _by_name(spans.get_finished_spans(), "chat ")}
    assert calls["generate"]["gen_ai.response.model"] == "a-2026-01-01"
    assert calls["generate"]["gen_ai.request.model"] != "a-2026-01-01"
    judge = calls["judge"]  # (a provider that names no model: the one asked for)
    assert judge["gen_ai.response.model"] == judge["gen_ai.request.model"]


@pytest.mark.parametrize(
    ("provider", "reported"),
    [
        ("mistral", "mistral_ai"),
        ("xai", "x_ai"),
        ("azure", "azure.ai.openai"),
        ("deepseek", "deepseek"),
        ("DeepSeek", "deepseek"),
        ("Mistral", "mistral_ai"),
    ],
)
async def test_providers_are_reported_under_the_conventions_names(
    spans: InMemorySpanExporter, provider: str, reported: str
) -> None:
    """An endpoint named `mistral` or `xai` (as docs/catalog.md's endpoints are named) was reported as
    `gen_ai.provider.name=mistral`, not the conventions' `mistral_ai`: a backend's GenAI views did not know it."""

    def answer(request: GenerationRequest) -> str:
        return json.dumps({"score": 9.5, "feedback": "fine"}) if request.purpose == "judge" else "an answer"

    models = ModelCatalog(
        ModelProfile(name=f"{provider}:{m}", input_cost_per_1k=0.001, output_cost_per_1k=0.001, context_window=100_000)
        for m in ("m", "judge")
    )
    async with Orchestrator(
        providers=[FunctionProvider(answer, name=provider)], catalog=models, store=MemoryStore()
    ) as o:
        await o.run(PROMPT, max_iterations=1, preferred_models=[f"{provider}:m"])
    calls = _by_name(spans.get_finished_spans(), "chat ")
    assert {_attrs(c)["gen_ai.provider.name"] for c in calls} == {reported}


async def test_content_is_recorded_only_when_asked_for(spans: InMemorySpanExporter) -> None:
    configure_telemetry(include_content=True)
    async with _orchestrator(score=9.5) as o:
        await o.run(PROMPT, max_iterations=1)
    finished = spans.get_finished_spans()
    (root,) = _by_name(finished, "invoke_agent")
    assert PROMPT in str(_attrs(root)["gen_ai.input.messages"])
    generation = next(c for c in _by_name(finished, "chat ") if _attrs(c)["orchestratex.role"] == "generate")
    assert "answer by function:" in str(_attrs(generation)["gen_ai.output.messages"])
    (judgment,) = _by_name(finished, "orchestratex.judgment")
    assert "feedback from" in str(_attrs(judgment.events[0])["gen_ai.evaluation.explanation"])


async def test_output_messages_carry_the_finish_reason_the_conventions_require(spans: InMemorySpanExporter) -> None:
    """`gen_ai.output.messages` had no `finish_reason`, a required field of an output message in the GenAI semantic
    conventions' schema: backends that validate the attribute against it refused or dropped the answer."""
    configure_telemetry(include_content=True)
    async with _orchestrator(score=9.5) as o:
        result = await o.run(PROMPT, max_iterations=1)
    finished = spans.get_finished_spans()
    (root,) = _by_name(finished, "invoke_agent")
    generation = next(c for c in _by_name(finished, "chat ") if _attrs(c)["orchestratex.role"] == "generate")
    finish = result.orchestration.iterations[0].finish_reason or "stop"
    for span, text in ((root, result.final_response), (generation, result.final_response)):
        (message,) = json.loads(str(_attrs(span)["gen_ai.output.messages"]))
        assert message == {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": finish}
    for judge in (c for c in _by_name(finished, "chat ") if _attrs(c)["orchestratex.role"] == "judge"):
        (message,) = json.loads(str(_attrs(judge)["gen_ai.output.messages"]))
        assert message["finish_reason"] == (_attrs(judge).get("gen_ai.response.finish_reasons") or ("stop",))[0]


async def test_the_orchestration_span_records_the_whole_conversation_it_was_given(spans: InMemorySpanExporter) -> None:
    configure_telemetry(include_content=True)
    conversation = [
        Message(role="system", content="Answer in French."),
        Message(role="user", content="What is the capital of Italy?"),
        Message(role="assistant", content="Rome."),
        Message(role="user", content=PROMPT),
    ]
    async with _orchestrator(score=9.5) as o:
        await o.run(conversation, max_iterations=1)
    (root,) = _by_name(spans.get_finished_spans(), "invoke_agent")
    sent = json.loads(str(_attrs(root)["gen_ai.input.messages"]))
    assert [(m["role"], m["parts"][0]["content"]) for m in sent] == [(m.role, m.content) for m in conversation]


async def test_the_orchestration_span_is_a_child_of_the_callers_span(spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("caller") as caller:
        async with _orchestrator(score=9.5) as o:
            await o.run(PROMPT, max_iterations=1)
    (root,) = _by_name(spans.get_finished_spans(), "invoke_agent")
    assert root.context.trace_id == caller.get_span_context().trace_id
    assert _parent(root) == caller.get_span_context().span_id


async def test_tracing_can_be_switched_off(spans: InMemorySpanExporter) -> None:
    configure_telemetry(tracing=False)
    async with _orchestrator(score=9.5) as o:
        await o.run(PROMPT, max_iterations=1)
    assert spans.get_finished_spans() == ()


def test_import_orchestratex_does_not_import_opentelemetry() -> None:
    code = "import sys, orchestratex, orchestratex.telemetry; print('opentelemetry' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_run_without_a_tracer_provider_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, orchestratex\n"
        "orchestratex.Orchestrator(simulate=True).run_sync('Explain DNS', max_iterations=1)\n"
        "print('opentelemetry' in sys.modules)"
    )
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "False"


async def test_a_cancelled_orchestration_is_not_an_error(spans: InMemorySpanExporter) -> None:
    import asyncio

    started = asyncio.Event()

    async def slow(request: GenerationRequest) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    from orchestratex import FunctionProvider

    async with Orchestrator(providers=[FunctionProvider(slow)], catalog=catalog("a", "b")) as o:
        doc = await o.prepare(PROMPT)
        task = o.start(doc)
        await started.wait()
        assert await o.cancel(doc.id)
    assert task.cancelled()
    finished = spans.get_finished_spans()
    (root,) = _by_name(finished, "invoke_agent")
    assert _attrs(root)["orchestratex.status"] == "cancelled"
    assert root.status.status_code != StatusCode.ERROR
    (call,) = _by_name(finished, "chat ")
    assert _attrs(call)["orchestratex.outcome"] == "cancelled" and call.status.status_code != StatusCode.ERROR


async def test_a_judgment_cut_short_by_a_cancellation_says_so(spans: InMemorySpanExporter) -> None:
    """The judgment span of a run cancelled (or handed back on shutdown) while its judges answered ended with no
    score, no error and nothing else, like a judgment that gave nothing; its judges' call spans said `cancelled`."""
    import asyncio
    import json

    from orchestratex import FunctionProvider

    judging = asyncio.Event()

    async def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            judging.set()
            await asyncio.sleep(30)
            return json.dumps({"score": 9})
        return "an answer"

    async with Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b")) as o:
        doc = await o.prepare(PROMPT)
        task = o.start(doc)
        await judging.wait()
        assert await o.cancel(doc.id)
    assert task.cancelled()
    finished = spans.get_finished_spans()
    (judgment,) = _by_name(finished, "orchestratex.judgment")
    assert _attrs(judgment)["orchestratex.outcome"] == "cancelled"
    assert judgment.status.status_code != StatusCode.ERROR and "orchestratex.score" not in _attrs(judgment)


class _SpanRecordingStore(MemoryStore):
    """Notes the span current at each lease renewal and cancel check, as a traced store (a database's OpenTelemetry
    instrumentation) would make its spans children of it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[trace.SpanContext] = []

    async def renew_leases(self, orchestration_ids: Any, owner: str, ttl_s: float) -> set[str]:
        self.seen.append(trace.get_current_span().get_span_context())
        return await super().renew_leases(orchestration_ids, owner, ttl_s)

    async def cancel_requests(self, orchestration_ids: Any) -> set[str]:
        self.seen.append(trace.get_current_span().get_span_context())
        return await super().cancel_requests(orchestration_ids)


async def test_the_background_tasks_of_the_runs_are_in_no_callers_trace(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease keeper and the cancel watcher serve every run of an orchestrator, but ran in the context of the run
    that started them: every later run's lease renewals and cancel checks were made under the first caller's span (a
    server's first `POST /api/orchestration/start`), so a traced store put them all in that one trace, for as long as
    runs kept the tasks alive."""
    import asyncio

    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0.3")
    store = _SpanRecordingStore()
    tracer = trace.get_tracer("test")
    async with Orchestrator(store=store, lease_ttl_s=0.3) as o:
        o.cancel_check_s = 0.05
        with tracer.start_as_current_span("first request"):
            first = asyncio.create_task(o.run(PROMPT, max_iterations=1))
        with tracer.start_as_current_span("second request"):
            second = asyncio.create_task(o.run("Explain photosynthesis to a child", max_iterations=3))
        await asyncio.gather(first, second)
    assert store.seen, "no lease was renewed nor cancel checked: the runs were too quick to show anything"
    callers = {s.context.span_id for s in spans.get_finished_spans() if s.name.endswith("request")}
    assert len(callers) == 2
    assert not [sc for sc in store.seen if sc.span_id in callers]


async def test_json_log_lines_of_a_traced_run_carry_its_trace_and_span_ids(spans: InMemorySpanExporter) -> None:
    """The JSON log lines (`orchestratex serve --log-format json`, `JsonFormatter`) of a traced run carried no trace
    id, so a log pipeline could not link a model call's line to its span, nor find the lines of a slow trace. A line
    written inside a span now has its `trace_id` and `span_id`: a call's line its `chat` span's, the run's last line
    its orchestration span's."""
    import io
    import logging

    from orchestratex.telemetry import JsonFormatter

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("orchestratex")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        async with _orchestrator(score=9.0) as orch:
            await orch.run(PROMPT, max_iterations=2)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    finished = spans.get_finished_spans()

    def ids(span: ReadableSpan) -> tuple[str, str]:
        context = span.get_span_context()
        assert context is not None
        return format(context.trace_id, "032x"), format(context.span_id, "016x")

    calls = [line for line in lines if line.get("event") == "model_call"]
    assert calls and {(line["trace_id"], line["span_id"]) for line in calls} == {
        ids(s) for s in _by_name(finished, "chat ")
    }
    (stop,) = [line for line in lines if line.get("event") == "stop"]
    (root,) = _by_name(finished, "invoke_agent")
    assert (stop["trace_id"], stop["span_id"]) == ids(root)
    assert all(line["trace_id"] == ids(root)[0] for line in lines if line["logger"].startswith("orchestratex."))


async def test_a_provider_error_is_recorded_without_the_vendor_exception_it_came_from(
    spans: InMemorySpanExporter,
) -> None:
    key = "sk-gw-Zq8mR2vT5xY7wK3pL9nB4cD6"

    def answer(request: GenerationRequest) -> str:
        try:  # (as an adapter translates its SDK's exception, whose message quotes what the vendor said)
            raise RuntimeError(f"Error code: 401 - Incorrect API key provided: {key}")
        except RuntimeError as exc:
            raise ProviderError("rejected the API key (401): Incorrect API key provided: ***") from exc

    orchestrator = Orchestrator(
        providers=[scripted(answer, lambda r: 9.0)],
        catalog=catalog("a", "b"),
        store=MemoryStore(),
        retry=RetryPolicy(max_attempts=1),
    )
    async with orchestrator as o:
        result = await o.run(PROMPT, max_iterations=1)
    assert result.status == "failed"
    finished = spans.get_finished_spans()
    recorded = [e for s in finished for e in s.events if e.name == "exception"]
    assert recorded and all("Incorrect API key provided: ***" in _attrs(e)["exception.stacktrace"] for e in recorded)
    assert not any(key in s.to_json() for s in finished)
