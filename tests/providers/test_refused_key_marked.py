"""Each adapter reads its vendor's code for a refused API key and says so on the error (`AuthenticationError.
key_rejected`): the run then asks none of the provider's other models. The run decided it by a rule on the error's
text (a 401 whose message does not speak of a model), which a refusal other than a 401 missed (Gemini's account
blocked, a 403: each Gemini model was asked in turn). A refusal the adapter cannot read stays unmarked (None): the
text rule decides, as for a third-party adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import AuthenticationError
from orchestratex.providers import GenerationRequest, Message, Provider
from orchestratex.testing.provider_contract import MockServer, Reply

pytest.importorskip("orchestratex_openai")
pytest.importorskip("orchestratex_anthropic")
pytest.importorskip("orchestratex_gemini")

from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OpenAIProvider


def _client(server: MockServer) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=server.httpx2_transport())


def _gemini_error(status: int, grpc: str, message: str, reason: str | None = None) -> dict[str, Any]:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}] if reason else []
    return {"error": {"code": status, "message": message, "status": grpc, "details": details}}


_OPENAI = (
    ModelProfile(name="openai:gpt-x", input_cost_per_1k=0.001, output_cost_per_1k=0.004),
    lambda server: OpenAIProvider(api_key="sk-test", http_client=_client(server)),
)
_ANTHROPIC = (
    ModelProfile(name="anthropic:claude-x", input_cost_per_1k=0.003, output_cost_per_1k=0.015),
    lambda server: AnthropicProvider(api_key="sk-ant-test", http_client=_client(server)),
)
_GEMINI = (
    ModelProfile(name="gemini:gemini-x", input_cost_per_1k=0.001, output_cost_per_1k=0.004),
    lambda server: GeminiProvider(api_key="AIza-test", http_client=_client(server)),
)
_KEY = "Incorrect API key provided: sk-test."

CASES: dict[str, tuple[tuple[ModelProfile, Callable[[MockServer], Provider]], Reply, bool | None]] = {
    "openai-401-invalid_api_key": (
        _OPENAI,
        Reply(401, json={"error": {"message": _KEY, "type": "invalid_request_error", "code": "invalid_api_key"}}),
        True,
    ),
    "openai-compatible-401-without-the-code": (_OPENAI, Reply(401, json={"error": "Unauthorized"}), None),
    "anthropic-401-authentication_error": (
        _ANTHROPIC,
        Reply(401, json={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
        True,
    ),
    "anthropic-403-permission_error": (
        _ANTHROPIC,
        Reply(403, json={"type": "error", "error": {"type": "permission_error", "message": "not for this model"}}),
        None,
    ),
    "gemini-400-API_KEY_INVALID": (
        _GEMINI,
        Reply(400, json=_gemini_error(400, "INVALID_ARGUMENT", "API key not valid.", "API_KEY_INVALID")),
        True,
    ),
    "gemini-401-UNAUTHENTICATED": (
        _GEMINI,
        Reply(401, json=_gemini_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")),
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_adapter_marks_a_key_its_vendor_refused(case: str) -> None:
    (model, make), reply, marked = CASES[case]
    provider = make(MockServer(reply))
    request = GenerationRequest(model=model, messages=[Message(role="user", content="hi")], max_output_tokens=50)
    with pytest.raises(AuthenticationError) as raised:
        await provider.generate(request)
    assert raised.value.key_rejected is marked, raised.value
    await provider.aclose()
