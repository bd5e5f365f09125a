"""What the inbound chain and the outbound exchange share about traces and RPC metrics: reading a
caller's W3C `traceparent`, and the OpenTelemetry semantic conventions for RPC: spans named
`<package.Service>/<Method>` with `rpc.system`, `rpc.service`, `rpc.method` and the numeric
`rpc.grpc.status_code`, and call durations in seconds (`rpc.server.call.duration`,
`rpc.client.call.duration`) with the same attributes."""

import re
from collections.abc import Collection, Sequence

import grpc
from opentelemetry import propagate, trace
from opentelemetry.context import Context

from gateway.errors import Status
from services.common import telemetry

_TRACEPARENT = re.compile(r"[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def trace_id_of(traceparents: Sequence[str]) -> str | None:
    """The trace id of a valid W3C `traceparent`, else None (the call starts a new trace)."""
    if len(traceparents) != 1:
        return None
    match = _TRACEPARENT.fullmatch(traceparents[0].strip())
    if match is None or match["trace"] == "0" * 32 or traceparents[0].startswith("ff"):
        return None
    return match["trace"]


def parent_of(traceparents: Sequence[str]) -> Context | None:
    """The context a span continues: the caller's trace when its `traceparent` is valid."""
    return propagate.extract({"traceparent": traceparents[0]}) if trace_id_of(traceparents) else None


def trace_id_in(span: trace.Span) -> str | None:
    context = span.get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


# Seconds: from a fast read (a millisecond) to a stream's whole life (minutes).
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                    30.0, 60.0, 300.0)
meter = telemetry.meter("egov.gateway")
server_duration = meter.create_histogram("rpc.server.call.duration", unit="s",
                                         description="duration of calls the gateway served",
                                         explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
client_duration = meter.create_histogram("rpc.client.call.duration", unit="s",
                                         description="duration of calls the gateway made to external systems",
                                         explicit_bucket_boundaries_advisory=DURATION_BUCKETS)


def rpc_names(full_method: str) -> tuple[str, str]:
    """("egov.procedures.v1.ProcedureService", "GetProcedure") of
    "/egov.procedures.v1.ProcedureService/GetProcedure"."""
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


def span_name(full_method: str) -> str:
    """The conventions' span name: the method without the path's leading slash."""
    return full_method.lstrip("/")


def rpc_attributes(full_method: str) -> dict[str, str]:
    service, method = rpc_names(full_method)
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}


def status_attributes(full_method: str, failure: Status | None) -> dict[str, str | int]:
    """The attributes of a finished call's duration: the method's and its numeric status code."""
    code = failure.code if failure else grpc.StatusCode.OK
    return {**rpc_attributes(full_method), "rpc.grpc.status_code": code.value[0]}


def end_span(span: trace.Span, failure: Status | None, not_errors: Collection[grpc.StatusCode]) -> None:
    """Record the call's status on its span and end it; a status in `not_errors` (the caller's own
    mistake, not the gateway's) does not mark the span as an error."""
    code = failure.code if failure else grpc.StatusCode.OK
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if failure is not None and failure.code not in not_errors:
        span.set_status(trace.Status(trace.StatusCode.ERROR, code.name))
    span.end()
