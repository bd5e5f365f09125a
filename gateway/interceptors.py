"""The chain every platform call passes through, outermost first:

1. `RequestContextInterceptor`: request id, trace id, deadline, the message size bound; turns whatever
   the inner layers raise into one status (gateway.errors), logs one line per call and writes the
   exchange to the message log (gateway.message_log_writer).
2. `MaintenanceInterceptor`: in maintenance (draining) mode new calls are refused UNAVAILABLE.
3. `AuthenticationInterceptor`: resolves the caller (gateway.auth).
4. `AuthorizationInterceptor`: deny unless the method admits the caller's kind and, for an agency
   system, a grant is in force.
5. `LimitsInterceptor`: per-member rate and concurrency (gateway.limits).

Server-streaming methods (EventService/Subscribe) take the same chain: the checks run before the
first message, an open stream counts as one of its member's concurrent calls, and the stream as a
whole gets one log line and one message log record.

Only methods of the method table go through the chain; the standard services (health, reflection)
are served as they are.
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

import abc
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import propagate, trace

from gateway.auth import Authenticator, authorize, metadata_of
from gateway.call import Call, current_call
from gateway.errors import GatewayError, Status, status_of
from gateway.limits import MemberLimiter
from gateway.members import Limits, Registry, SubsystemId
from gateway.message_log import INBOUND, Exchange, LogKey, now_rfc3339
from gateway.message_log_writer import LogUnavailable, MessageLog
from gateway.methods import Method
from services.common import telemetry
from services.common.caller import CallerKind
from services.common.errors import DomainError, InvalidArgument

log = logging.getLogger("gateway.calls")
tracer = telemetry.tracer("egov.gateway")
meter = telemetry.meter("egov.gateway")
calls_counter = meter.create_counter("egov.gateway.calls", unit="{call}", description="calls by method and status")
call_duration = meter.create_histogram("egov.gateway.call.duration", unit="ms", description="call latency")

Behavior = Callable[[Any, grpc.ServicerContext], Any]
Serializer = Callable[[Any], bytes]
if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Continuation = Callable[[grpc.HandlerCallDetails], Handler | None]
    ServerInterceptor = grpc.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.ServerInterceptor

_TRACEPARENT = re.compile(r"[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
# grpcio reports a call without a deadline as one due in the far future.
_NO_DEADLINE_BEYOND_SECONDS = 10 * 365 * 24 * 3600
# Statuses that say the caller asked wrongly: not errors of the gateway's span.
_CLIENT_ERRORS = frozenset({grpc.StatusCode.CANCELLED, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                            grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION,
                            grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED})
# A forwarded call waits at least this long for its log record, even past a nearly spent deadline.
_LOG_WAIT_SECONDS = 1.0


class _PlatformInterceptor(ServerInterceptor):
    """Wraps the unary behaviour of the methods in the table; passes everything else through."""

    def __init__(self, table: Mapping[str, Method]) -> None:
        self._table = table

    def intercept_service(self, continuation: Continuation,
                          handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        handler = continuation(handler_call_details)
        method = self._table.get(handler_call_details.method)
        if handler is None or method is None:
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self.wrap(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:   # the wrapper returns the stream's iterator
            return grpc.unary_stream_rpc_method_handler(
                self.wrap(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    @abc.abstractmethod
    def wrap(self, method: Method, behavior: Behavior) -> Behavior:
        """The behaviour of `method` with this interceptor's concern around it."""


@dataclass(frozen=True)
class Received:
    """The request as it came off the wire: its size, its digest for the log, the decoded message
    (None when it was over the size bound and so never decoded)."""

    size: int
    digest: str
    message: Any


class RequestContextInterceptor(ServerInterceptor):
    def __init__(self, table: Mapping[str, Method], default_deadline: float, max_deadline: float, *,
                 max_message_bytes: int | None = None, message_log: MessageLog | None = None,
                 log_key: LogKey | None = None, durable: bool = True, stream_max_seconds: float = 300.0) -> None:
        self._table = table
        self._stream_max_seconds = stream_max_seconds
        self._durable = durable
        self._default_deadline = default_deadline
        self._max_deadline = max_deadline
        self._max_bytes = max_message_bytes
        self._message_log = message_log
        self._log_key = log_key

    def deadline_seconds(self, client_remaining: float | None, streaming: bool = False) -> float:
        """The client's deadline, or the default when it set none, capped at the maximum; a stream's
        is its time limit, or the client's deadline if that comes first."""
        cap = self._stream_max_seconds if streaming else self._max_deadline
        if client_remaining is None or client_remaining > _NO_DEADLINE_BEYOND_SECONDS:
            return cap if streaming else self._default_deadline
        return min(client_remaining, cap)

    def intercept_service(self, continuation: Continuation,
                          handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        # Outermost: sees the request's bytes (size bound, digest) and serializes the responses
        # itself, so the log holds the digest of exactly the bytes sent.
        handler = continuation(handler_call_details)
        method = self._table.get(handler_call_details.method)
        if handler is None or method is None:
            return handler
        serialize = handler.response_serializer or (lambda response: response)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self.carried(method, handler.unary_unary, serialize),
                request_deserializer=self._measured(handler.request_deserializer))
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self.streamed(method, handler.unary_stream, serialize),
                request_deserializer=self._measured(handler.request_deserializer))
        return handler

    def _measured(self, deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Received]:
        def measured(data: bytes) -> Received:
            if self._max_bytes is not None and len(data) > self._max_bytes:
                return Received(len(data), "", None)
            digest = self._log_key.digest(data) if self._log_key is not None else ""
            return Received(len(data), digest, deserialize(data) if deserialize is not None else data)
        return measured

    def _message(self, received: Received) -> Any:
        if received.message is None:
            raise InvalidArgument("request", f"{received.size} bytes exceeds the limit of {self._max_bytes}")
        return received.message

    def carried(self, method: Method, behavior: Behavior, serialize: Serializer) -> Behavior:
        def with_request_context(received: Received, context: grpc.ServicerContext) -> bytes:
            scope = _CallScope(self, method, received, context)
            payload = b""
            try:
                payload = serialize(behavior(self._message(received), context))
            except Exception as exc:
                scope.failed(exc)
            finally:
                scope.leave()
            scope.finish(payload, self._log_key.digest(payload) if self._log_key else "")
            return payload

        return with_request_context

    def streamed(self, method: Method, behavior: Behavior, serialize: Serializer) -> Behavior:
        """A server stream: one span, one log line and one message log record for the whole stream;
        the response digest covers every message sent, in order. A stream the client abandons is
        recorded CANCELLED."""
        def with_request_context(received: Received, context: grpc.ServicerContext) -> Iterator[bytes]:
            scope = _CallScope(self, method, received, context)
            digests: list[bytes] = []
            sent = messages = 0

            def finish(abort: bool = True) -> None:
                if scope.failure is None and not context.is_active():
                    scope.failure = gone()
                scope.finish(b"", self._log_key.digest(b"".join(digests)) if self._log_key else "",
                             sent_bytes=sent, messages=messages, abort=abort and context.is_active())

            def gone() -> Status:
                remaining = context.time_remaining()
                if remaining is not None and remaining <= 0:
                    return Status(grpc.StatusCode.DEADLINE_EXCEEDED, "the client's deadline passed")
                return Status(grpc.StatusCode.CANCELLED, "the client cancelled the stream")

            try:
                for response in behavior(self._message(received), context):
                    payload = serialize(response)
                    if self._log_key is not None:
                        digests.append(bytes.fromhex(self._log_key.digest(payload)))
                    sent, messages = sent + len(payload), messages + 1
                    scope.leave()
                    yield payload
                    scope.enter()
            except GeneratorExit:        # grpcio dropped the stream: the client is gone
                scope.leave()
                scope.failure = scope.failure or gone()
                finish(abort=False)
                raise
            except Exception as exc:
                scope.failed(exc)
            finally:
                scope.leave()
            finish()

        return with_request_context

    def record(self, method: Method, call: Call, received: Received, response_digest: str, response_bytes: int,
               failure: Status | None, note: str, started: float, started_at: str) -> Status | None:
        """Write the exchange to the message log. A call that reached a service waits for its record
        to be written (unless the log is not durable) and fails UNAVAILABLE if it cannot be: that
        status is returned in place of the call's own."""
        if self._message_log is None or self._log_key is None:
            return None
        caller = call.caller
        client = self._log_key.client_id(caller)
        if caller.kind is CallerKind.ANONYMOUS and call.certificate:
            client = f"certificate:{call.certificate}"
        exchange = Exchange(
            direction=INBOUND, request_id=call.request_id, trace_id=call.trace_id, client=client,
            client_kind=caller.kind.value, method=method.full_name, started_at=started_at,
            ended_at=now_rfc3339(), duration_us=int((time.monotonic() - started) * 1_000_000),
            status=(failure.code if failure else grpc.StatusCode.OK).name,
            request_digest=received.digest, request_bytes=received.size,
            response_digest=response_digest if failure is None or response_bytes else "",
            response_bytes=response_bytes, note=note,
        )
        try:
            written = self._message_log.submit(exchange)
            if call.forwarded and self._durable:
                written.result(timeout=max(call.remaining(), _LOG_WAIT_SECONDS))
        except (LogUnavailable, FutureTimeout) as exc:
            if call.forwarded:
                log.error("request %s answered UNAVAILABLE: its exchange was not logged: %s", call.request_id, exc)
                return Status(grpc.StatusCode.UNAVAILABLE, f"message log: {exc or 'not written in time'}")
            log.warning("request %s: refusal not logged: %s", call.request_id, exc)
        return None


class _CallScope:
    """One call from the request context's point of view: its `Call`, its server span, and at the
    end its status, log line, metrics and message log record. `enter`/`leave` make the call current
    in this thread (a stream leaves it while grpcio sends each message)."""

    def __init__(self, owner: RequestContextInterceptor, method: Method, received: Received,
                 context: grpc.ServicerContext) -> None:
        self.owner, self.method, self.received, self.context = owner, method, received, context
        self.started, self.started_at = time.monotonic(), now_rfc3339()
        self.call = Call(method=method.full_name,
                         deadline=self.started + owner.deadline_seconds(context.time_remaining(),
                                                                        method.server_streaming))
        incoming: list[str] = list(metadata_of(context).get("traceparent", ()))
        trace_id = trace_id_of(incoming)
        if trace_id:
            self.call.trace_id = trace_id
        parent = propagate.extract({"traceparent": incoming[0]}) if trace_id else None
        self.span = tracer.start_span(method.full_name, context=parent, kind=trace.SpanKind.SERVER,
                                      attributes={"rpc.system": "grpc", "rpc.service": method.grpc_service,
                                                  "rpc.method": method.rpc_name})
        if self.span.get_span_context().is_valid:
            self.call.trace_id = f"{self.span.get_span_context().trace_id:032x}"
        context.set_trailing_metadata((("x-request-id", self.call.request_id), ("x-trace-id", self.call.trace_id)))
        self.failure: Status | None = None
        self.note = ""
        self._entered: tuple[Any, Any] | None = None
        self.enter()

    def enter(self) -> None:
        if self._entered is None:
            activation = trace.use_span(self.span, end_on_exit=False)
            activation.__enter__()
            self._entered = (activation, current_call.set(self.call))

    def leave(self) -> None:
        if self._entered is not None:
            activation, token = self._entered
            current_call.reset(token)
            activation.__exit__(None, None, None)
            self._entered = None

    def failed(self, exc: Exception) -> None:
        self.failure = status_of(exc, self.call.request_id)
        if isinstance(exc, GatewayError | DomainError) and not self.call.forwarded:
            self.note = self.failure.message      # the gateway's own words: no service data in them

    def finish(self, payload: bytes, response_digest: str, sent_bytes: int | None = None,
               messages: int | None = None, abort: bool = True) -> None:
        """Log, measure and end the span; abort the call with its status if it failed."""
        call, method = self.call, self.method
        response_bytes = len(payload) if sent_bytes is None else sent_bytes
        note = self.note
        if messages is not None:
            note = "; ".join(filter(None, (f"{messages} message(s) streamed", self.note)))
        failure = self.owner.record(method, call, self.received, response_digest, response_bytes, self.failure, note,
                                    self.started, self.started_at) or self.failure
        status = (failure.code if failure else grpc.StatusCode.OK).name
        duration_ms = round((time.monotonic() - self.started) * 1000, 2)
        fields = {"method": method.full_name, "status": status, "duration_ms": duration_ms,
                  "request_id": call.request_id, "trace_id": call.trace_id, "caller": call.caller.kind.value}
        if messages is not None:
            fields["messages"] = messages
        log.info("call", extra={"fields": fields})
        self.span.set_attribute("rpc.grpc.status_code", status)
        if failure is not None and failure.code not in _CLIENT_ERRORS:
            self.span.set_status(trace.Status(trace.StatusCode.ERROR, status))
        self.span.end()
        labels = {"rpc.method": method.full_name, "rpc.grpc.status_code": status}
        calls_counter.add(1, labels)
        call_duration.record(duration_ms, labels)
        if failure is not None and abort:
            self.context.abort(failure.code, failure.message)


class MaintenanceInterceptor(_PlatformInterceptor):
    def __init__(self, table: Mapping[str, Method], registry: Callable[[], Registry]) -> None:
        super().__init__(table)
        self._registry = registry

    def wrap(self, method: Method, behavior: Behavior) -> Behavior:
        def unless_in_maintenance(request: Any, context: grpc.ServicerContext) -> Any:
            if self._registry().maintenance:
                raise GatewayError(grpc.StatusCode.UNAVAILABLE, "gateway is in maintenance")
            return behavior(request, context)

        return unless_in_maintenance


class AuthenticationInterceptor(_PlatformInterceptor):
    def __init__(self, table: Mapping[str, Method], authenticator: Authenticator) -> None:
        super().__init__(table)
        self._authenticator = authenticator

    def wrap(self, method: Method, behavior: Behavior) -> Behavior:
        def authenticated(request: Any, context: grpc.ServicerContext) -> Any:
            current_call.get().caller = self._authenticator.authenticate(context)
            return behavior(request, context)

        return authenticated


class AuthorizationInterceptor(_PlatformInterceptor):
    def __init__(self, table: Mapping[str, Method], registry: Callable[[], Registry] = Registry) -> None:
        super().__init__(table)
        self._registry = registry

    def wrap(self, method: Method, behavior: Behavior) -> Behavior:
        def authorized(request: Any, context: grpc.ServicerContext) -> Any:
            authorize(method, current_call.get().caller, self._registry())
            return behavior(request, context)

        return authorized


class LimitsInterceptor(_PlatformInterceptor):
    def __init__(self, table: Mapping[str, Method], limiter: MemberLimiter,
                 registry: Callable[[], Registry]) -> None:
        super().__init__(table)
        self._limiter = limiter
        self._registry = registry

    def wrap(self, method: Method, behavior: Behavior) -> Behavior:
        def within_limits(request: Any, context: grpc.ServicerContext) -> Any:
            caller = current_call.get().caller
            if caller.kind is not CallerKind.AGENCY:
                return behavior(request, context)
            member_id = SubsystemId.parse(caller.subject).member
            member = self._registry().members.get(member_id)
            with self._limiter.admit(str(member_id), member.limits if member else Limits()):
                return behavior(request, context)

        def streaming_within_limits(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            # An open stream holds one of its member's concurrent calls until it ends.
            caller = current_call.get().caller
            if caller.kind is not CallerKind.AGENCY:
                yield from behavior(request, context)
                return
            member_id = SubsystemId.parse(caller.subject).member
            member = self._registry().members.get(member_id)
            with self._limiter.admit(str(member_id), member.limits if member else Limits()):
                yield from behavior(request, context)

        return streaming_within_limits if method.server_streaming else within_limits


def trace_id_of(traceparents: Sequence[str]) -> str | None:
    """The trace id of a valid W3C `traceparent`, else None (the call starts a new trace)."""
    if len(traceparents) != 1:
        return None
    match = _TRACEPARENT.fullmatch(traceparents[0].strip())
    if match is None or match["trace"] == "0" * 32 or traceparents[0].startswith("ff"):
        return None
    return match["trace"]
