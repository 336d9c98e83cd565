"""A model the Anthropic SDK lists as deprecated (`claude-opus-4-5`, end of life January 2027) in one's catalog.

The SDK warns with a `DeprecationWarning` at every call, which pointed at OrchestrateX's code, was hidden in a plain
script, and failed the run before anything was sent wherever warnings are errors (pytest's `filterwarnings = ["error"]`,
as here, or `python -W error`). It is now logged once per model, and the call is made.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import warnings

import pytest

from orchestratex.catalog import ModelCatalog
from orchestratex.providers import GenerationRequest, Message
from orchestratex.providers._sdk_warnings import SDKWarnings
from orchestratex.testing.provider_contract import MockServer, Reply

from .test_anthropic_provider import message_body, provider_on
from .test_anthropic_streaming import sse

DEPRECATED = "claude-opus-4-5"  # (anthropic._data.DEPRECATED_MODELS)
CATALOG = ModelCatalog.from_mapping(
    {
        "models": [
            {"name": f"anthropic:{DEPRECATED}", "input_cost_per_1k": 0.005, "output_cost_per_1k": 0.025},
            {"name": "judge:j", "cost_per_1k_tokens": 0},
        ]
    }
)
ANSWER = message_body({"input_tokens": 12, "output_tokens": 3}, [{"type": "text", "text": "Hi!"}])
STREAM = sse(
    {"type": "message_start", "message": {**ANSWER, "content": [], "stop_reason": None}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi!"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 3},
    },
    {"type": "message_stop"},
)


def _sdk_lists_it_deprecated() -> bool:
    """Whether the installed SDK warns of `DEPRECATED` (its list, `anthropic._data`, came in a later version than the
    oldest this adapter accepts, which warns of nothing)."""
    try:
        from anthropic._data import DEPRECATED_MODELS  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return False
    return DEPRECATED in DEPRECATED_MODELS


warned = pytest.mark.skipif(not _sdk_lists_it_deprecated(), reason="this anthropic SDK warns of no deprecated model")


def request() -> GenerationRequest:
    model = CATALOG.get(f"anthropic:{DEPRECATED}")
    return GenerationRequest(model=model, messages=[Message(role="user", content="Hello")], max_output_tokens=64)


@warned
async def test_a_deprecated_model_is_called_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    server = MockServer(Reply(200, json=ANSWER), Reply(200, json=ANSWER))
    provider = provider_on(server)
    with caplog.at_level(logging.WARNING, logger="orchestratex.providers.anthropic"):
        first = await provider.generate(request())  # (warnings are errors in these tests)
        second = await provider.generate(request())
    assert (first.text, second.text) == ("Hi!", "Hi!")
    assert server.requests[0].json["model"] == DEPRECATED
    said = [r.getMessage() for r in caplog.records if r.name == "orchestratex.providers.anthropic"]
    assert len(said) == 1, said
    assert said[0].startswith(f"anthropic: The model '{DEPRECATED}' is deprecated and will reach end-of-life on")


@warned
async def test_a_deprecated_model_streams(caplog: pytest.LogCaptureFixture) -> None:
    server = MockServer(Reply(200, content=STREAM, headers={"content-type": "text/event-stream"}))
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    with caplog.at_level(logging.WARNING, logger="orchestratex.providers.anthropic"):
        generation = await provider_on(server).generate_stream(request(), on_text)
    assert pieces == ["Hi!"] and generation.text == "Hi!"
    assert any(DEPRECATED in r.getMessage() for r in caplog.records)


def test_other_warnings_of_the_call_still_reach_the_caller() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with SDKWarnings(logging.getLogger("test"), "anthropic", DeprecationWarning, "The model '").logged():
            warnings.warn("something else", UserWarning, stacklevel=1)
            warnings.warn(f"The model '{DEPRECATED}' is deprecated and will reach end-of-life", DeprecationWarning, 1)
    assert [(w.category, str(w.message)) for w in seen] == [(UserWarning, "something else")]


def test_a_run_with_a_deprecated_model_completes_where_warnings_are_errors() -> None:
    """`python -W error` (a CI's setting): the run failed "unexpectedly" with the SDK's DeprecationWarning."""
    script = textwrap.dedent(
        f"""
        import httpx2
        from orchestratex import ModelCatalog, Orchestrator
        from orchestratex.evaluation import LLMJudgeEvaluator
        from orchestratex.providers import FunctionProvider
        from orchestratex_anthropic import AnthropicProvider

        answer = {ANSWER!r}
        catalog = ModelCatalog.from_mapping({{"models": [
            {{"name": "anthropic:{DEPRECATED}", "input_cost_per_1k": 0.005, "output_cost_per_1k": 0.025}},
            {{"name": "judge:j", "cost_per_1k_tokens": 0}},
        ]}})
        transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=answer))
        anthropic = AnthropicProvider(api_key="sk-ant-test", http_client=httpx2.AsyncClient(transport=transport))
        judge = FunctionProvider(lambda request: '{{"score": 9, "feedback": "ok"}}', name="judge")
        providers = {{"anthropic": anthropic, "judge": judge}}
        evaluator = LLMJudgeEvaluator(judges=["judge:j"])
        with Orchestrator(catalog=catalog, providers=providers, evaluator=evaluator) as orchestrator:
            result = orchestrator.run_sync("Hello there", max_iterations=1, preferred_models=["anthropic:{DEPRECATED}"])
        print(result.status, result.final_response)
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.strip() == "completed Hi!", done.stdout + done.stderr
