"""The process's metrics and spans, read back in tests: an in-memory reader and exporter installed
once per process (the OpenTelemetry API allows one provider of each), which the gateway's instruments
and tracer bind to."""

from functools import cache
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@cache
def reader() -> InMemoryMetricReader:
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader


def points(name: str) -> list[Any]:
    data = reader().get_metrics_data()
    found: list[Any] = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def gauge_value(name: str, **attributes: str) -> float | None:
    matching = [p.value for p in points(name) if all(p.attributes.get(k) == v for k, v in attributes.items())]
    return matching[-1] if matching else None


@cache
def span_exporter() -> InMemorySpanExporter:
    """The process's finished spans (one tracer provider per process, like the meter provider)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


def histogram(name: str) -> tuple[str, list[Any]]:
    """The unit and the data points of a histogram."""
    data = reader().get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    return metric.unit or "", list(metric.data.data_points)
    return "", []
