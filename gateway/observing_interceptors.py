"""The interceptors that record a call, one concern each (composed in gateway.server, outside
gateway.call_interceptors' digest and status layers, so that each sees the call's final status):

- `TracingInterceptor`: the call's SERVER span, continuing the caller's trace, current while the call runs.
- `MetricsInterceptor`: calls and their durations (in seconds) by method and status, with the
  attributes of the OpenTelemetry RPC conventions (gateway.tracing).
- `AccessLogInterceptor`: one log line per call.
- `MessageLogInterceptor`: the exchange's message log record (gateway.exchange_recorder), which a
  call that reached a service waits for; if it cannot be written, the call answers UNAVAILABLE.
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

import logging
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import grpc
from opentelemetry import trace

from gateway.auth import metadata_of
from gateway.call import current_call
from gateway.call_interceptors import Concern, Pause
from gateway.exchange_recorder import ExchangeRecorder
from gateway.message_log import LogKey
from gateway.methods import Method
from gateway.tracing import (
    end_span,
    parent_of,
    rpc_attributes,
    server_duration,
    span_name,
    status_attributes,
    trace_id_in,
    trace_id_of,
)
from services.common import telemetry
from services.common.caller import CallerKind

log = logging.getLogger("gateway.calls")
tracer = telemetry.tracer("egov.gateway")
meter = telemetry.meter("egov.gateway")
calls_counter = meter.create_counter("egov.gateway.calls", unit="{call}", description="calls by method and status")

# Statuses that say the caller asked wrongly: not errors of the gateway's span.
CLIENT_ERRORS = frozenset({grpc.StatusCode.CANCELLED, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                           grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION,
                           grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED})


class TracingInterceptor(Concern):
    @contextmanager
    def around(self, method: Method, context: grpc.ServicerContext) -> Iterator[Pause]:
        call = current_call.get()
        incoming: list[str] = list(metadata_of(context).get("traceparent", ()))
        call.trace_id = trace_id_of(incoming) or call.trace_id
        span = tracer.start_span(span_name(method.full_name), context=parent_of(incoming),
                                 kind=trace.SpanKind.SERVER, attributes=rpc_attributes(method.full_name))
        call.trace_id = trace_id_in(span) or call.trace_id
        active = _Active(span)
        active.enter()
        try:
            yield active.paused
        finally:
            active.leave()
            end_span(span, call.failure, CLIENT_ERRORS)


class _Active:
    """The span current in this thread, set aside while a stream sends a message."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._activation: AbstractContextManager[Any] | None = None

    def enter(self) -> None:
        if self._activation is None:
            self._activation = trace.use_span(self._span, end_on_exit=False)
            self._activation.__enter__()

    def leave(self) -> None:
        if self._activation is not None:
            self._activation.__exit__(None, None, None)
            self._activation = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.leave()
        try:
            yield
        finally:
            self.enter()


class MetricsInterceptor(Concern):
    @contextmanager
    def around(self, method: Method, context: grpc.ServicerContext) -> Iterator[None]:
        call = current_call.get()
        try:
            yield
        finally:
            attributes = status_attributes(method.full_name, call.failure)
            calls_counter.add(1, attributes)
            server_duration.record(call.elapsed(), attributes)


class AccessLogInterceptor(Concern):
    @contextmanager
    def around(self, method: Method, context: grpc.ServicerContext) -> Iterator[None]:
        call = current_call.get()
        try:
            yield
        finally:
            fields: dict[str, object] = {
                "method": method.full_name, "status": call.status.name,
                "duration_ms": round(call.elapsed() * 1000, 2), "request_id": call.request_id,
                "trace_id": call.trace_id, "caller": call.caller.kind.value}
            if call.messages is not None:
                fields["messages"] = call.messages
            log.info("call", extra={"fields": fields})


class MessageLogInterceptor(Concern):
    def __init__(self, table: Mapping[str, Method], recorder: ExchangeRecorder, log_key: LogKey) -> None:
        super().__init__(table)
        self._recorder = recorder
        self._key = log_key

    @contextmanager
    def around(self, method: Method, context: grpc.ServicerContext) -> Iterator[None]:
        call = current_call.get()
        try:
            yield
        finally:
            caller = call.caller
            call.client, call.client_kind = self._key.client_id(caller), caller.kind.value
            if caller.kind is CallerKind.ANONYMOUS and call.certificate:
                call.client = f"certificate:{call.certificate}"
            call.failure = self._recorder.record(call) or call.failure
