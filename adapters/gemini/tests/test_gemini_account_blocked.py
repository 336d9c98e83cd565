"""`finishReason: PUP_LIMITED_DISABLED` (the Gemini API's "token generation stopped because the user account is limited
or disabled due to Prohibited Use Policy violations", a value google-genai 3 knows): every call with that key ends so.
It was passed on as the finish reason `pup_limited_disabled`: a cut answer was judged as if it were whole (and could be
the run's answer), an empty one charged to the model's circuit as a passing failure, each Gemini model tried again run
after run. It is now an `AuthenticationError` (403, never retried): the run goes on with another provider's model, and
the model's circuit opens at once, as for a refused key."""

from __future__ import annotations

import json

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import AuthenticationError
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex_gemini import GeminiProvider

from .test_gemini_provider import MODEL, body, provider_on, request
from .test_gemini_streaming import chunk, sse

# (google-genai before 3, the oldest allowed among them, does not know that finish reason: it warns, and keeps its name)
pytestmark = pytest.mark.filterwarnings("ignore:.* is not a valid FinishReason:UserWarning")


async def test_an_answer_stopped_for_a_blocked_account_is_an_authentication_error() -> None:
    server = MockServer(Reply(200, json=body("PUP_LIMITED_DISABLED", parts=[{"text": "The first half of"}])))
    with pytest.raises(AuthenticationError, match="Prohibited Use Policy") as raised:
        await provider_on(server).generate(request())
    assert raised.value.status_code == 403 and not raised.value.retryable
    assert raised.value.model == MODEL.name


async def test_a_stream_stopped_for_a_blocked_account_is_an_authentication_error() -> None:
    stream = sse(chunk("The first"), chunk(" half", "PUP_LIMITED_DISABLED", {"promptTokenCount": 9}))
    server = MockServer(Reply(200, content=stream, headers={"content-type": "text/event-stream"}))

    async def on_text(text: str) -> None:
        pass

    with pytest.raises(AuthenticationError, match="PUP_LIMITED_DISABLED"):
        await provider_on(server).generate_stream(request(), on_text)


async def test_a_run_leaves_a_blocked_account_for_another_model() -> None:
    def gemini(http: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=body("PUP_LIMITED_DISABLED", parts=[{"text": "The first half of"}]))

    provider = GeminiProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(gemini)))
    other = ModelProfile(name="function:other", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)

    def answer(r: object) -> str:
        return json.dumps({"score": 9, "feedback": "ok"}) if r.purpose == "judge" else "A whole answer."  # type: ignore[attr-defined]

    orchestrator = Orchestrator(
        providers=[provider, FunctionProvider(answer)],
        catalog=ModelCatalog([MODEL.model_copy(update={"quality": 9.9}), other, judge]),
        router=BayesianRouter(explore=False),
        judges=[judge.name],
    )
    result = await orchestrator.run("Explain it.", preferred_models=[MODEL.name, other.name], max_iterations=1)
    assert result.status == "completed" and result.final_response == "A whole answer.", result.orchestration
    assert any("AuthenticationError" in e for e in result.orchestration.iterations[0].errors)
    assert orchestrator.circuit.state(MODEL.name) == "open"


async def test_a_blocked_account_is_asked_once_not_once_per_gemini_model() -> None:
    """Every call with the key ends so, but the refusal is a 403, which the run took for a refusal of that call alone:
    each Gemini model was asked in turn, each stopped the same way (a call and an error more per model). The adapter
    marks it `key_rejected`: the run asks none of the provider's other models."""
    asked: list[str] = []

    def gemini(http: httpx2.Request) -> httpx2.Response:
        asked.append(http.url.path)
        return httpx2.Response(200, json=body("PUP_LIMITED_DISABLED", parts=[{"text": "The first half of"}]))

    provider = GeminiProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(gemini)))
    second = MODEL.model_copy(update={"name": "gemini:gemini-4-helium", "quality": 9.8})
    other = ModelProfile(name="function:other", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)

    def answer(r: object) -> str:
        return json.dumps({"score": 9, "feedback": "ok"}) if r.purpose == "judge" else "A whole answer."  # type: ignore[attr-defined]

    orchestrator = Orchestrator(
        providers=[provider, FunctionProvider(answer)],
        catalog=ModelCatalog([MODEL.model_copy(update={"quality": 9.9}), second, other, judge]),
        router=BayesianRouter(explore=False),
        judges=[judge.name],
    )
    preferred = [MODEL.name, second.name, other.name]
    result = await orchestrator.run(
        "Explain it.", preferred_models=preferred, max_iterations=2, evaluation_threshold=9.5
    )
    assert result.status == "completed" and result.final_response == "A whole answer.", result.orchestration
    assert len(asked) == 1, asked
