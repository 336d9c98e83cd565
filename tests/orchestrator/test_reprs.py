"""What a notebook shows for an orchestrator and a stream (`repr`): what they are and where the run is, not
`<orchestratex.orchestrator._stream.RunStream object at 0x…>`."""

from __future__ import annotations

import re
from pathlib import Path

from orchestratex import Orchestrator, SQLiteStore


async def test_an_orchestrator_shows_its_providers_models_and_store(tmp_path: Path) -> None:
    async with Orchestrator(simulate=True) as orch:
        assert (
            repr(orch)
            == f"Orchestrator(providers=['sim'], models={len(orch.catalog)}, store=MemoryStore(), simulated=True)"
        )
    store = SQLiteStore(tmp_path / "runs.db")
    async with Orchestrator(simulate=True, store=store) as orch:
        assert f"store=SQLiteStore({str(tmp_path / 'runs.db')!r})" in repr(orch)


async def test_a_stream_shows_where_its_run_is() -> None:
    async with Orchestrator(simulate=True) as orch:
        orch.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
        stream = orch.run_stream("Hello", max_iterations=1)
        assert repr(stream) == "RunStream(not started)"
        async with stream:
            assert repr(stream) == "RunStream(running)"
            async for _ in stream:
                pass
        assert re.fullmatch(r"RunStream\(orchestration_id='[0-9a-f]{24}', status='completed'\)", repr(stream))
        orch.providers["sim"].latency_scale = 100  # type: ignore[attr-defined]
        async with orch.run_stream("Hello", max_iterations=3) as left:
            async for _ in left:
                assert re.fullmatch(r"RunStream\(orchestration_id='[0-9a-f]{24}', running\)", repr(left))
                break
        assert repr(left).endswith("status='cancelled')")


def test_an_orchestrators_real_providers_show_their_server_never_a_key_nor_a_password() -> None:
    # `orchestrator.providers` in a notebook showed `{'openai': <orchestratex_openai._provider.OpenAIProvider object
    # at 0x7f…>, …}`.
    env = {"OPENAI_API_KEY": "sk-secret-1", "ANTHROPIC_API_KEY": "sk-ant-secret-2", "GEMINI_API_KEY": "g-secret-3"}
    shown = repr(Orchestrator(env=env).providers)
    assert shown == (
        "{'openai': OpenAIProvider(name='openai', base_url='https://api.openai.com/v1/'), "
        "'anthropic': AnthropicProvider(name='anthropic', base_url='https://api.anthropic.com'), "
        "'gemini': GeminiProvider(name='gemini', base_url='https://generativelanguage.googleapis.com/')}"
    )
    local = Orchestrator(env={"OPENAI_BASE_URL": "http://bob:s3cret@localhost:11434/v1"}).providers["openai"]
    assert repr(local) == "OpenAIProvider(name='openai', base_url='http://bob:***@localhost:11434/v1/')"


def test_a_router_shows_its_name_and_settings() -> None:
    # `orchestrator.router` in a notebook showed `<orchestratex.routing.bandit.BayesianRouter object at 0x7f…>`, which
    # said nothing of how it routes (explore? cost_sensitivity?).
    from collections.abc import Sequence

    from orchestratex import BayesianRouter, ModelProfile, Router, RoutingDecision, Task

    router = Orchestrator(simulate=True, router=BayesianRouter(explore=False, cost_sensitivity=2)).router
    assert repr(router) == (
        "BayesianRouter(name='bayesian', cost_sensitivity=2, prior_strength=2.0, score_sd=1.5, horizon=3,"
        " specialty_bonus=0.5, explore=False, cascade=True)"
    )

    class Cheapest(Router):
        async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
            return RoutingDecision(model_name=candidates[0].name, reasoning="cheapest")

    assert repr(Cheapest()) == "Cheapest(name='router')"


def test_an_evaluator_shows_its_settings_and_pinned_judges() -> None:
    # `orchestrator.evaluator` showed `<orchestratex.evaluation.judge.LLMJudgeEvaluator object at 0x7f…>`.
    from orchestratex import Evaluation, EvaluationTask, Evaluator, Generation, LLMJudgeEvaluator

    assert repr(Orchestrator(simulate=True).evaluator) == (
        "LLMJudgeEvaluator(panel_size=1, min_quality=7.5, cost_sensitivity=1.0, max_output_tokens=512)"
    )
    pinned = LLMJudgeEvaluator(judges=["gpt4", "claude"], panel_size=2)
    assert repr(pinned) == (
        "LLMJudgeEvaluator(panel_size=2, min_quality=7.5, cost_sensitivity=1.0, max_output_tokens=512,"
        " judges=['gpt4', 'claude'])"
    )

    class Always9(Evaluator):
        async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
            return Evaluation(score=9.0, feedback="ok", judge_models=["rubric"])

    assert repr(Always9()) == "Always9()"


def test_a_provider_s_repr_hides_a_key_in_its_base_url_s_query() -> None:
    """A gateway that takes its key in the URL (`GOOGLE_GEMINI_BASE_URL=https://gw.example/gemini?api-key=…`, likewise
    `ANTHROPIC_BASE_URL`): `orchestrator.providers` in a notebook or a log showed the key whole, though a provider's
    repr never shows a key (only a password in the URL was hidden)."""
    env = {
        "GEMINI_API_KEY": "g-secret-3",
        "GOOGLE_GEMINI_BASE_URL": "https://bob:pw@gw.example/gemini?api-key=gw-secret-1&region=eu&token=gw-secret-2",
    }
    shown = repr(Orchestrator(env=env).providers["gemini"])
    assert shown == (
        "GeminiProvider(name='gemini', base_url='https://bob:***@gw.example/gemini?api-key=***&region=eu&token=***')"
    )


def test_the_store_circuit_breaker_and_calibrations_a_notebook_shows_say_what_they_are() -> None:
    # `orchestrator.store` showed `<orchestratex.stores.memory.MemoryStore object at 0x7f…>` (the orchestrator's own
    # repr says `store=MemoryStore()`), `orchestrator.circuit` `<…CircuitBreaker object at 0x7f…>` with nothing of
    # which models it keeps out, and a fitted calibration `<…IsotonicCalibration object at 0x7f…>`.
    import json

    from orchestratex import (
        BayesianRouter,
        FunctionProvider,
        GenerationRequest,
        IsotonicCalibration,
        LogisticCalibration,
    )
    from orchestratex.exceptions import ProviderServerError
    from orchestratex.orchestrator import CircuitPolicy

    from ..helpers import NO_WAIT, catalog

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 9, "feedback": "fine"})
        if request.model.name == "function:a":
            raise ProviderServerError("down", status_code=503, model=request.model.name, provider="function")
        return "an answer"

    orch = Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=catalog("a", "b", "c", quality={"a": 9.5}),
        circuit=CircuitPolicy(failure_threshold=1, cooldown_s=600),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),  # (function:a, the favourite, is asked first and fails)
    )
    assert repr(orch.circuit) == "CircuitBreaker(CircuitPolicy(failure_threshold=1, cooldown_s=600), all closed)"
    assert orch.run_sync("Say something", max_iterations=1).status == "completed"
    assert repr(orch.store) == "MemoryStore()"
    assert repr(orch.circuit) == (
        "CircuitBreaker(CircuitPolicy(failure_threshold=1, cooldown_s=600), open=['function:a'])"
    )
    orch.close()
    assert repr(IsotonicCalibration.fit([9, 2], [1, 0])) == "IsotonicCalibration([(2.0, 0.0), (9.0, 1.0)])"
    many = IsotonicCalibration([(x / 2, x / 20) for x in range(21)])
    assert (
        repr(many)
        == "IsotonicCalibration([(0.0, 0.0), (0.5, 0.05), (1.0, 0.1), …, (9.5, 0.95), (10.0, 1.0)], 21 points)"
    )
    assert repr(LogisticCalibration(1.5, -9)) == "LogisticCalibration(slope=1.5, intercept=-9.0)"
