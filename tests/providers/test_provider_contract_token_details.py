"""The provider contract suite on an adapter written from docs/providers/index.md: a vendor that reports input and
output tokens only (no cached or reasoning tokens) can pass it, by saying so."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Literal

import httpx2
import pytest

from orchestratex.exceptions import UnknownPriceError
from orchestratex.providers import Generation, GenerationRequest, Provider
from orchestratex.testing.provider_contract import ErrorKind, MockServer, ProviderContract, RecordedRequest, Reply
from orchestratex.usage import Usage


class PlainProvider(Provider):
    """Acme's shape: `{"text", "usage": {"in", "out"}}`, no token details."""

    name = "plain"

    def __init__(self, http_client: httpx2.AsyncClient) -> None:
        self._http = http_client

    async def generate(self, request: GenerationRequest) -> Generation:
        if not request.model.priced:
            raise UnknownPriceError(f"model {request.model.name!r} has no price")
        start = time.perf_counter()
        response = await self._http.post("https://plain.example/v1/generate", json={"model": request.model.version})
        data = response.json()
        usage = Usage(input_tokens=data["usage"]["in"], output_tokens=data["usage"]["out"])
        return Generation(
            text=data["text"],
            usage=usage,
            latency_ms=(time.perf_counter() - start) * 1000,
            finish_reason="stop",
            model_name=request.model.name,
            cost=request.model.cost(usage),
        )


class PlainContract(ProviderContract):
    provider_class = PlainProvider
    api_key_env = "PLAIN_API_KEY"

    def make_provider(self, server: MockServer) -> Provider:
        return PlainProvider(httpx2.AsyncClient(transport=server.httpx2_transport()))

    def success_reply(self, usage: Usage, *, text: str, finish: Literal["stop", "length"] = "stop") -> Reply:
        return Reply(200, json={"text": text, "usage": {"in": usage.input_tokens, "out": usage.output_tokens}})

    def error_reply(self, kind: ErrorKind, *, headers: Mapping[str, str] | None = None) -> Reply:
        raise NotImplementedError

    def blocked_reply(self) -> Reply:
        raise NotImplementedError

    def check_request(self, sent: RecordedRequest, request: GenerationRequest) -> None:
        assert sent.json["model"] == request.model.version

    def check_json_request(self, sent: RecordedRequest) -> None:
        raise NotImplementedError


class PlainWithoutDetails(PlainContract):
    reports_token_details = False


async def test_a_vendor_without_token_details_passes_the_success_scenario() -> None:
    contract, server = PlainWithoutDetails(), MockServer()
    await contract.test_success_text_usage_and_exact_cost(contract.make_provider(server), server)
    fresh = MockServer()
    await contract.test_unpriced_model_is_refused_before_any_request(contract.make_provider(fresh), fresh)


async def test_a_missing_token_detail_says_how_to_declare_it() -> None:
    contract, server = PlainContract(), MockServer()
    with pytest.raises(AssertionError, match="reports_token_details = False"):
        await contract.test_success_text_usage_and_exact_cost(contract.make_provider(server), server)
