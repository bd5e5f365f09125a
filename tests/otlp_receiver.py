"""A real OTLP/HTTP receiver for tests: processes export their spans and metrics to it like to a collector."""

import gzip
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    attributes: tuple[tuple[str, str], ...]


Labels = tuple[tuple[str, str], ...]


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        # The latest value of every cumulative counter point: (service, metric, labels) -> value;
        # histograms by their count.
        self.points: dict[tuple[str, str, Labels], float] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/traces":
                    receiver._collect(body)
                    reply = ExportTraceServiceResponse().SerializeToString()
                elif self.path == "/v1/metrics":
                    receiver._collect_metrics(body)
                    reply = ExportMetricsServiceResponse().SerializeToString()
                else:
                    reply = b""
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _collect(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "")
            for scope in resource_spans.scope_spans:
                with self._lock:
                    self.spans.extend(ReceivedSpan(
                        service, span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(), span.name,
                        tuple((a.key, str(_plain(a.value))) for a in span.attributes),
                    ) for span in scope.spans)

    def _collect_metrics(self, body: bytes) -> None:
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        for resource_metrics in request.resource_metrics:
            service = next((a.value.string_value for a in resource_metrics.resource.attributes
                            if a.key == "service.name"), "")
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    for point in getattr(metric, kind).data_points if kind in ("sum", "histogram") else ():
                        labels = tuple(sorted(((a.key, _plain(a.value)) for a in point.attributes), key=str))
                        value = float(point.count if kind == "histogram" else point.as_int or point.as_double)
                        with self._lock:
                            self.points[(service, metric.name, labels)] = value

    def metric(self, service: str, name: str, **labels: object) -> float:
        """The sum over the points of `service`'s metric `name` whose labels include `labels`."""
        with self._lock:
            return sum(value for (svc, metric, point_labels), value in self.points.items()
                       if svc == service and metric == name and set(labels.items()) <= set(point_labels))

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _plain(value: Any) -> Any:
    """An OTLP AnyValue's string, integer, double or boolean as Python has it."""
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("string_value", "int_value", "double_value", "bool_value") else ""
