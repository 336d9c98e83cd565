"""The provider contract suite catches what an adapter written from docs/providers/index.md gets wrong in its error
answers that are not the vendor's JSON (a gateway's HTML 502, a text 429) and in its stream (`generate_stream`):
an adapter with each mistake used to pass the whole suite. So did one whose timeouts and connection errors name no
model or provider (as the docs' minimal adapter raised them), and one that showed the API key a gateway's 401 quoted."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Literal

import httpx2
import pytest

from orchestratex.exceptions import (
    MalformedResponse,
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
    ProviderTimeout,
    RateLimited,
    UnknownPriceError,
)
from orchestratex.providers import Generation, GenerationRequest, Provider, TextSink, http_error
from orchestratex.testing.provider_contract import ErrorKind, MockServer, ProviderContract, RecordedRequest, Reply
from orchestratex.usage import Usage

URL = "https://acme.example/v1/generate"
KEY = "acme-0123456789abcdef"


class AcmeProvider(Provider):
    """`{"text", "usage": {"in", "out"}}`, errors `{"error": {"message"}}`, a stream of `data: {"delta"}` events ending
    with `data: {"usage"}`; `broken` names the mistakes it makes."""

    name = "acme"

    def __init__(self, http_client: httpx2.AsyncClient, broken: frozenset[str] = frozenset()) -> None:
        self._http = http_client
        self.broken = broken

    def _error(self, response: httpx2.Response, request: GenerationRequest, *, streamed: bool) -> ProviderError:
        if "error_body_read_as_json" in self.broken:
            detail = str(json.loads(response.text)["error"]["message"])
        else:
            try:
                detail = str(json.loads(response.text)["error"]["message"])
            except (ValueError, KeyError, TypeError):
                detail = response.text
        headers = {} if streamed and "stream_retry_after_ignored" in self.broken else response.headers
        return http_error(
            response.status_code,
            detail,
            provider=self.name,
            model=request.model.name,
            api_key_env="ACME_API_KEY",
            headers=headers,
            sent_key=None if "key_shown" in self.broken else KEY,
        )

    def _body(self, request: GenerationRequest, *, stream: bool = False) -> dict[str, Any]:
        return {"model": request.model.version, "max_tokens": request.max_output_tokens, "stream": stream}

    async def generate(self, request: GenerationRequest) -> Generation:
        if not request.model.priced:
            raise UnknownPriceError(f"model {request.model.name!r} has no price")
        start = time.perf_counter()
        try:
            response = await self._http.post(URL, json=self._body(request), headers={"authorization": f"Bearer {KEY}"})
        except httpx2.TimeoutException as exc:
            if "transport_errors_unnamed" in self.broken:
                raise ProviderTimeout(repr(exc)) from exc
            raise ProviderTimeout(repr(exc), model=request.model.name, provider=self.name) from exc
        except httpx2.TransportError as exc:
            raise ProviderConnectionError(repr(exc), model=request.model.name, provider=self.name) from exc
        if response.is_error:
            raise self._error(response, request, streamed=False)
        try:
            data = json.loads(response.content)
            usage = Usage(input_tokens=data["usage"]["in"], output_tokens=data["usage"]["out"])
            text = data["text"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedResponse(repr(exc), model=request.model.name, provider=self.name) from exc
        return self._generation(request, text, usage, start)

    def _generation(self, request: GenerationRequest, text: str, usage: Usage, start: float) -> Generation:
        return Generation(
            text=text,
            usage=usage,
            latency_ms=(time.perf_counter() - start) * 1000,
            finish_reason="stop",
            model_name=request.model.name,
            cost=request.model.cost(usage),
        )

    async def generate_stream(self, request: GenerationRequest, on_text: TextSink) -> Generation:
        start = time.perf_counter()
        pieces: list[str] = []
        usage = Usage()
        try:
            async with self._http.stream("POST", URL, json=self._body(request, stream=True)) as response:
                if response.is_error:
                    if "stream_error_unmapped" in self.broken:
                        response.raise_for_status()
                    await response.aread()
                    raise self._error(response, request, streamed=True)
                async for line in response.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    event = json.loads(line[6:])
                    if "delta" in event:
                        pieces.append(event["delta"])
                    elif "usage_dropped" not in self.broken:
                        usage = Usage(input_tokens=event["usage"]["in"], output_tokens=event["usage"]["out"])
        except httpx2.TimeoutException as exc:
            raise ProviderTimeout(repr(exc), model=request.model.name, provider=self.name) from exc
        handed = list(reversed(pieces)) if "out_of_order" in self.broken else pieces
        for piece in [*handed[:-1]] if "last_piece_dropped" in self.broken else handed:
            await on_text(piece)
        return self._generation(request, "".join(pieces), usage, start)


class AcmeContract(ProviderContract):
    provider_class = AcmeProvider
    api_key_env = "ACME_API_KEY"
    reports_token_details = False
    broken: frozenset[str] = frozenset()

    def make_provider(self, server: MockServer) -> Provider:
        return AcmeProvider(httpx2.AsyncClient(transport=server.httpx2_transport()), self.broken)

    def success_reply(self, usage: Usage, *, text: str, finish: Literal["stop", "length"] = "stop") -> Reply:
        return Reply(200, json={"text": text, "usage": {"in": usage.input_tokens, "out": usage.output_tokens}})

    def stream_reply(
        self, usage: Usage, *, pieces: list[str], finish: Literal["stop", "length"] = "stop"
    ) -> Reply | None:
        events = [{"delta": p} for p in pieces] + [{"usage": {"in": usage.input_tokens, "out": usage.output_tokens}}]
        body = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode()
        return Reply(200, content=body, headers={"content-type": "text/event-stream"})

    def error_reply(self, kind: ErrorKind, *, headers: Mapping[str, str] | None = None) -> Reply:
        status = {"rate_limit": 429, "server": 503, "auth": 401, "forbidden": 403, "context_length": 400}[kind]
        return Reply(status, json={"error": {"message": f"acme: {kind}"}}, headers=dict(headers or {}))

    def blocked_reply(self) -> Reply:
        raise NotImplementedError

    def check_request(self, sent: RecordedRequest, request: GenerationRequest) -> None:
        assert sent.json["model"] == request.model.version
        assert sent.json["max_tokens"] == request.max_output_tokens

    def check_json_request(self, sent: RecordedRequest) -> None:
        raise NotImplementedError


def contract(*broken: str) -> AcmeContract:
    made = AcmeContract()
    made.broken = frozenset(broken)
    return made


_NOT_JSON = [
    (Reply(502, content=b"<html><body>502 Bad Gateway</body></html>"), ProviderServerError),
    (Reply(429, content=b"Too Many Requests", headers={"retry-after": "3"}), RateLimited),
]


@pytest.mark.parametrize(("reply", "expected"), _NOT_JSON)
async def test_an_error_body_that_is_not_json_must_not_crash_the_adapter(
    reply: Reply, expected: type[ProviderError]
) -> None:
    sound, server = contract(), MockServer()
    await sound.test_error_body_that_is_not_json(sound.make_provider(server), server, reply, expected)
    broken, server = contract("error_body_read_as_json"), MockServer()
    with pytest.raises(json.JSONDecodeError):  # what the adapter let out, ending the run, used to pass the suite
        await broken.test_error_body_that_is_not_json(broken.make_provider(server), server, reply, expected)


async def test_a_sound_stream_passes() -> None:
    sound, server = contract(), MockServer()
    await sound.test_stream_hands_over_the_pieces_in_order_with_exact_usage(sound.make_provider(server), server)


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("out_of_order", "not .* in that order"),
        ("last_piece_dropped", "not .* in that order"),
        ("usage_dropped", "is not the stream's final"),
    ],
)
async def test_a_stream_with_a_mistake_fails(mistake: str, message: str) -> None:
    broken, server = contract(mistake), MockServer()
    with pytest.raises(AssertionError, match=message):
        await broken.test_stream_hands_over_the_pieces_in_order_with_exact_usage(broken.make_provider(server), server)


@pytest.mark.parametrize(("kind", "expected"), [("rate_limit", RateLimited), ("server", ProviderServerError)])
async def test_a_stream_error_unmapped_or_without_its_retry_after_fails(
    kind: str, expected: type[ProviderError]
) -> None:
    sound, server = contract(), MockServer()
    await sound.test_stream_errors_are_mapped_as_unstreamed_ones(sound.make_provider(server), server, kind, expected)
    unmapped, server = contract("stream_error_unmapped"), MockServer()
    with pytest.raises(httpx2.HTTPStatusError):
        await unmapped.test_stream_errors_are_mapped_as_unstreamed_ones(
            unmapped.make_provider(server), server, kind, expected
        )
    no_wait, server = contract("stream_retry_after_ignored"), MockServer()
    with pytest.raises(AssertionError):
        await no_wait.test_stream_errors_are_mapped_as_unstreamed_ones(
            no_wait.make_provider(server), server, kind, expected
        )


async def test_an_adapter_that_does_not_stream_skips_the_stream_scenarios() -> None:
    class Unstreamed(AcmeContract):
        def stream_reply(
            self, usage: Usage, *, pieces: list[str], finish: Literal["stop", "length"] = "stop"
        ) -> Reply | None:
            return None

    unstreamed, server = Unstreamed(), MockServer()
    with pytest.raises(pytest.skip.Exception):
        await unstreamed.test_stream_hands_over_the_pieces_in_order_with_exact_usage(
            unstreamed.make_provider(server), server
        )


async def test_a_timeout_that_names_no_model_or_provider_fails() -> None:
    sound, server = contract(), MockServer()
    await sound.test_errors_name_model_and_provider(sound.make_provider(server), server)
    broken, server = contract("transport_errors_unnamed"), MockServer()
    with pytest.raises(AssertionError, match="names the model None"):
        await broken.test_errors_name_model_and_provider(broken.make_provider(server), server)


async def test_an_error_that_shows_the_api_key_a_gateway_quoted_fails() -> None:
    sound, server = contract(), MockServer()
    await sound.test_a_key_quoted_in_an_error_is_hidden(sound.make_provider(server), server)
    broken, server = contract("key_shown"), MockServer()
    with pytest.raises(AssertionError, match="sent_key="):
        await broken.test_a_key_quoted_in_an_error_is_hidden(broken.make_provider(server), server)
