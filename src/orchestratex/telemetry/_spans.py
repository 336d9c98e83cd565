"""OpenTelemetry spans, following the GenAI semantic conventions. Imported only when a run is traced,
i.e. `opentelemetry-api` is installed and the application has set a tracer provider."""

from __future__ import annotations

import json
import traceback
from collections.abc import Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, Span, SpanKind, Status, StatusCode

from ..exceptions import ProviderError

__all__ = ["active", "tracer"]

_cache: list[Any] = [None, None]

PROVIDER_NAMES = {
    "gemini": "gcp.gemini",
    "google": "gcp.gemini",
    "vertex": "gcp.vertex_ai",
    "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "aws_bedrock": "aws.bedrock",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
    "xai": "x_ai",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "azure-openai": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "azure-ai": "azure.ai.inference",
    "azure_inference": "azure.ai.inference",
    "watsonx": "ibm.watsonx.ai",
    "ibm": "ibm.watsonx.ai",
}
"""Provider names (ours, or as users name an endpoint of their own) that differ from the semantic conventions'
well-known `gen_ai.provider.name` values (v1.37+: `openai`, `anthropic`, `cohere`, `deepseek`, `groq`, `perplexity`
are the same; any other provider is reported under its own name)."""


def active() -> bool:
    """Whether the application configured a tracer provider (a no-op or proxy provider records nothing)."""
    return not isinstance(trace.get_tracer_provider(), ProxyTracerProvider | NoOpTracerProvider)


def tracer() -> trace.Tracer:
    provider = trace.get_tracer_provider()
    if _cache[0] is not provider:
        from .. import __version__

        _cache[1] = provider.get_tracer("orchestratex", __version__)
        _cache[0] = provider
    found: trace.Tracer = _cache[1]
    return found


def start(
    name: str, attributes: dict[str, Any], *, parent: Span | None = None, kind: SpanKind = SpanKind.INTERNAL
) -> Span:
    """Start a span under `parent` (else under the current context)."""
    ctx = trace.set_span_in_context(parent) if parent is not None else None
    return tracer().start_span(name, context=ctx, kind=kind, attributes=_clean(attributes))


def attach(span: Span) -> object:
    return otel_context.attach(trace.set_span_in_context(span))


def detach(token: object) -> None:
    otel_context.detach(token)  # type: ignore[arg-type]


def set_attributes(span: Span, attributes: dict[str, Any]) -> None:
    span.set_attributes(_clean(attributes))


def fail(span: Span, exc: BaseException | None, error_type: str, description: str) -> None:
    """Mark `span` as failed: `error.type`, an ERROR status, and the exception when there is one.

    A provider's error is recorded without the exceptions it was raised from: those are the vendor SDK's, whose
    message quotes what the vendor answered (a gateway's "Incorrect API key provided: sk-…", the key the adapter
    masks in its own message), and the span's `exception.stacktrace` carried them whole to the trace backend."""
    span.set_attribute("error.type", error_type)
    if exc is not None:
        span.record_exception(exc, attributes=_unchained(exc))
    span.set_status(Status(StatusCode.ERROR, description))


def _unchained(exc: BaseException) -> dict[str, str] | None:
    """The stack trace to record of `exc`: for a `ProviderError`, without its cause and context (None: the default)."""
    if not isinstance(exc, ProviderError):
        return None
    return {"exception.stacktrace": "".join(traceback.format_exception(exc, chain=False))}


def add_event(span: Span, name: str, attributes: dict[str, Any]) -> None:
    span.add_event(name, _clean(attributes))


def messages(items: Sequence[tuple[str, str]]) -> str:
    """`gen_ai.input.messages`: role and text parts, as a JSON string."""
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]} for role, text in items])


def output_messages(text: str, finish_reason: str | None) -> str:
    """`gen_ai.output.messages`: the answer as one assistant message with its `finish_reason`, which the semantic
    conventions' schema of an output message requires (`stop` when the provider gave none)."""
    message = {
        "role": "assistant",
        "parts": [{"type": "text", "content": text}],
        "finish_reason": finish_reason or "stop",
    }
    return json.dumps([message])


_SAME_NAMES = frozenset({"openai", "anthropic", "cohere", "deepseek", "groq", "perplexity"})
"""The conventions' well-known names that are ours too."""


def provider_name(provider: str) -> str:
    """`provider`'s `gen_ai.provider.name`: the conventions' name for it (`mistral` is `mistral_ai`), whatever its
    case (`Mistral`, `DeepSeek`, as an endpoint may be named), else its own."""
    lower = provider.lower()
    return PROVIDER_NAMES.get(lower) or (lower if lower in _SAME_NAMES else provider)


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}


CLIENT = SpanKind.CLIENT
