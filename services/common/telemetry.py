"""OpenTelemetry for every process: traces, metrics and JSON logs carrying the trace id.

Configured by the standard OTEL_* variables, read once at start-up:
- OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER: `otlp`, `console` or `none`. Unset means `none` here
  (the SDK's own default is otlp): a process on a laptop or in a test exports nothing unless asked.
  OTEL_SDK_DISABLED=true turns both off.
- OTEL_EXPORTER_OTLP_ENDPOINT (and the SDK's per-signal, header, timeout variables): where to.
  OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf, its default: in eventlet processes the gRPC
  exporter froze the loop when the collector was slow, so grpc is refused at start-up.
- OTEL_SERVICE_NAME: the process's `service.name` (default: the component, e.g. `identity`).
- OTEL_RESOURCE_ATTRIBUTES: more resource attributes, e.g. `deployment.environment.name=production`.
  `service.namespace` is `egov` and `service.version` the installed release (the package's version,
  the image's org.opencontainers.image.version) unless given there.
- OTEL_BSP_*, OTEL_METRIC_EXPORT_INTERVAL...: read by the SDK itself.
Span attributes carry dossier codes and event types, never personal data.
"""

import importlib.metadata
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
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from services.common.config import ConfigError

_lock = threading.Lock()
_configured: set[str] = set()


EXPORTERS = ("otlp", "console", "none")


def _exporter(variable: str) -> str:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "none"
    kind = os.environ.get(variable, "none").strip().lower() or "none"
    if kind not in EXPORTERS:
        raise ConfigError(f"environment variable {variable} must be one of {', '.join(EXPORTERS)}, got {kind!r}")
    if kind == "otlp":
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf").strip().lower()
        if protocol != "http/protobuf":
            raise ConfigError(f"environment variable OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf, got "
                              f"{protocol!r}: the gRPC exporter stalls eventlet processes")
    return kind


def traces_exporter() -> str:
    return _exporter("OTEL_TRACES_EXPORTER")


def metrics_exporter() -> str:
    return _exporter("OTEL_METRICS_EXPORTER")


def exporter_kind() -> str:
    """`none` when neither signal is exported (callers skip instrumenting), else what traces use."""
    traces, metrics_kind = traces_exporter(), metrics_exporter()
    return traces if traces != "none" else ("none" if metrics_kind == "none" else metrics_kind)


def release() -> str:
    try:
        return importlib.metadata.version("egov-platform")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def resource_for(component: str) -> Resource:
    """service.name/namespace/version first, then what OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
    say, which win (the SDK's environment detector reads both)."""
    defaults = Resource({"service.name": component, "service.namespace": "egov", "service.version": release()})
    return defaults.merge(OTELResourceDetector().detect())


def setup(service_name: str) -> None:
    """Install the tracer and meter providers for this process (once)."""
    with _lock:
        if _configured:
            return
        _configured.add(service_name)
        traces, metrics_kind = traces_exporter(), metrics_exporter()
        if traces == metrics_kind == "none":
            return
        resource = resource_for(service_name)
        if traces != "none":
            provider = TracerProvider(resource=resource)
            if traces == "console":
                provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
            else:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(provider)
        if metrics_kind != "none":
            if metrics_kind == "console":
                metric_exporter: MetricExporter = ConsoleMetricExporter()
            else:
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

                metric_exporter = OTLPMetricExporter()
            reader = PeriodicExportingMetricReader(metric_exporter)
            metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))


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
