"""OpenTelemetry for every process: traces, metrics and JSON logs carrying the trace id.

Off by default. EGOV_OTEL_EXPORTER=console prints spans; =otlp exports over HTTP to
OTEL_EXPORTER_OTLP_ENDPOINT (HTTP, not gRPC: in eventlet processes the gRPC exporter froze the loop
when the collector was slow). Span attributes carry dossier codes and event types, never personal data.
"""

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

_lock = threading.Lock()
_configured: set[str] = set()


def exporter_kind() -> str:
    kind = os.environ.get("EGOV_OTEL_EXPORTER", "none").strip().lower()
    if kind not in ("none", "console", "otlp"):
        raise ValueError(f"EGOV_OTEL_EXPORTER must be none, console or otlp, got {kind!r}")
    return kind


def setup(service_name: str) -> None:
    """Install the tracer and meter providers for this process (once)."""
    with _lock:
        if _configured:
            return
        _configured.add(service_name)
        kind = exporter_kind()
        if kind == "none":
            return
        resource = Resource.create({"service.name": service_name, "service.namespace": "egov"})
        provider = TracerProvider(resource=resource)
        if kind == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            reader = PeriodicExportingMetricReader(OTLPMetricExporter())
            metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
        trace.set_tracer_provider(provider)


def shutdown() -> None:
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()
    meter_provider = metrics.get_meter_provider()
    if hasattr(meter_provider, "shutdown"):
        meter_provider.shutdown()


def current_traceparent() -> str:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


@contextmanager
def continued(traceparent: str) -> Iterator[None]:
    """Make `traceparent` the parent of spans started inside (e.g. a third party's callback that
    carries no trace context joins the journey's trace through what we stored for it)."""
    if not traceparent:
        yield
        return
    token = context.attach(propagate.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        context.detach(token)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def meter(name: str) -> metrics.Meter:
    return metrics.get_meter(name)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the trace and span ids of the current span."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = f"{span.trace_id:032x}"
            entry["span_id"] = f"{span.span_id:016x}"
        extra = getattr(record, "fields", None)
        if isinstance(extra, Mapping):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
