"""Telemetry test fixtures: an OpenTelemetry SDK tracer provider with an in-memory exporter, per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orchestratex.telemetry import configure_telemetry, telemetry_settings


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """The exporter of a tracer provider set as the global one for this test (restored after)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    yield exporter
    provider.shutdown()


@pytest.fixture(autouse=True)
def _restore_settings() -> Iterator[None]:
    saved = telemetry_settings()
    yield
    configure_telemetry(tracing=saved.tracing, include_content=saved.include_content)
