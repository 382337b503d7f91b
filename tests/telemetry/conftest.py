"""Fixtures of the telemetry tests: an OpenTelemetry SDK with an in-memory span exporter and
metric reader, handed to kycflow for the test only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.trace import Tracer

import kycflow._telemetry as telemetry


@dataclass
class Otel:
    """The test's SDK: what kycflow emitted, and a tracer the "app" makes its own spans with."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer: Tracer
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> its data points (every scope)."""
        data = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        if data is None:
            return out
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out


MakeOtel = Callable[..., Otel]


@pytest.fixture
def make_otel() -> Iterator[MakeOtel]:
    """``make_otel(sampler=None, kycflow_tracer=None)``: an SDK handed to kycflow (with
    ``sampler``, else the SDK's default; ``kycflow_tracer`` instead of its tracer provider)
    until the test ends."""
    made: list[Otel] = []

    def make(sampler: Sampler | None = None, *, kycflow_tracer: Any = None) -> Otel:
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider(**({} if sampler is None else {"sampler": sampler}))
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[reader])
        assert telemetry.configure_telemetry(
            tracer_provider=kycflow_tracer or tracer_provider, meter_provider=meter_provider
        )
        made.append(
            Otel(
                exporter, reader, tracer_provider.get_tracer("app"), tracer_provider, meter_provider
            )
        )
        return made[-1]

    try:
        yield make
    finally:
        telemetry.configure_telemetry()  # back to the default: the global providers
        for otel in made:
            otel.meter_provider.shutdown()
            otel.tracer_provider.shutdown()


@pytest.fixture
def otel(make_otel: MakeOtel) -> Otel:
    return make_otel()
