"""The outbound exchange: the platform's own services call other agencies' systems through the
gateway, as X-Road members call each other through their security servers.

A platform service (a registered subsystem, e.g. `VN/GOV/HUE/identity`) calls a method of an
external system, e.g. `/egov.population.v1.PopulationRegistry/VerifyCitizen`, on the gateway's
outbound listener, presenting its own client certificate. The gateway identifies it by that
certificate (gateway.members.identify, as for agency systems), finds the registered external system
serving the method's gRPC service, checks the service's grant of the method (deny by default, the
same grants as inbound), and forwards the request's bytes unchanged over mutual TLS: it verifies the
external system's server certificate and presents its own client certificate. Each exchange is one
message log record with direction "outbound"; the caller's `traceparent` continues in a CLIENT span
whose context goes on to the external system.

Forwarding is generic: no message is decoded, so a new external system needs a registry entry and
grants, not a gateway release.

Without TLS (local development only) the listener is plaintext and a service names itself in the
`x-egov-client` header; its grants are still checked, and the log says it is unauthenticated.
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import grpc
from opentelemetry import propagate, trace

from gateway.auth import certificate_fingerprint, metadata_of
from gateway.config import ClientCertificate
from gateway.errors import GatewayError, Status
from gateway.interceptors import trace_id_of
from gateway.limits import MemberLimiter
from gateway.members import CertificateRefused, ExternalSystem, Limits, Registry, SubsystemId, identify
from gateway.message_log import OUTBOUND, Exchange, LogKey, now_rfc3339
from gateway.message_log_writer import LogUnavailable, MessageLog
from services.common import telemetry
from services.common.caller import CallerKind
from services.common.errors import DomainError

log = logging.getLogger("gateway.outbound")
tracer = telemetry.tracer("egov.gateway")
CLIENT_HEADER = "x-egov-client"
_NO_DEADLINE_BEYOND_SECONDS = 10 * 365 * 24 * 3600
_LOG_WAIT_SECONDS = 1.0
_NOT_SERVER_ERRORS = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                                grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED,
                                grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.FAILED_PRECONDITION})

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    GenericRpcHandler = grpc.GenericRpcHandler[Any, Any]
else:
    GenericRpcHandler = grpc.GenericRpcHandler


class ExternalChannels:
    """One channel per external system, rebuilt when its registration changes (new address, CA...)."""

    def __init__(self, client_certificate: ClientCertificate | None) -> None:
        self._client = client_certificate
        self._channels: dict[SubsystemId, tuple[ExternalSystem, grpc.Channel]] = {}
        self._lock = threading.Lock()

    def channel(self, system: ExternalSystem) -> grpc.Channel:
        with self._lock:
            known = self._channels.get(system.id)
            if known is not None and known[0] == system:
                return known[1]
            if known is not None:
                known[1].close()
            credentials = grpc.ssl_channel_credentials(
                root_certificates=system.ca,
                private_key=self._client.key if self._client else None,
                certificate_chain=self._client.certificate if self._client else None)
            channel = grpc.secure_channel(system.address, credentials, options=[
                ("grpc.ssl_target_name_override", system.server_name),
                ("grpc.default_authority", system.server_name)])
            self._channels[system.id] = (system, channel)
            return channel

    def close(self) -> None:
        with self._lock:
            for _, channel in self._channels.values():
                channel.close()
            self._channels.clear()


@dataclass
class _Exchanged:
    """What one outbound call established, for its log record."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    client: str = "anonymous"
    client_kind: str = CallerKind.ANONYMOUS.value
    forwarded: bool = False
    deadline: float = 0.0


class OutboundExchange(GenericRpcHandler):
    def __init__(self, registry: Callable[[], Registry], channels: ExternalChannels, limiter: MemberLimiter,
                 message_log: MessageLog, log_key: LogKey, *, tls: bool, default_deadline: float,
                 max_deadline: float, max_message_bytes: int, durable: bool = True) -> None:
        self._registry = registry
        self._channels = channels
        self._limiter = limiter
        self._message_log = message_log
        self._log_key = log_key
        self._tls = tls
        self._default_deadline = default_deadline
        self._max_deadline = max_deadline
        self._max_bytes = max_message_bytes
        self._durable = durable

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        method: str = handler_call_details.method

        def forward(request: bytes, context: grpc.ServicerContext) -> bytes:
            return self.forward(method, request, context)

        # No (de)serializers: the request's bytes go on as they came, the answer's come back so.
        return grpc.unary_unary_rpc_method_handler(forward)

    def forward(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        started, started_at = time.monotonic(), now_rfc3339()
        state = _Exchanged()
        metadata = metadata_of(context)
        incoming = list(metadata.get("traceparent", ()))
        incoming_trace = trace_id_of(incoming)
        parent = propagate.extract({"traceparent": incoming[0]}) if incoming_trace else None
        service_name, _, method_name = method.lstrip("/").partition("/")
        span = tracer.start_span(method, context=parent, kind=trace.SpanKind.CLIENT, attributes={
            "rpc.system": "grpc", "rpc.service": service_name, "rpc.method": method_name,
            "egov.exchange.direction": OUTBOUND})
        span_context = span.get_span_context()
        trace_id = f"{span_context.trace_id:032x}" if span_context.is_valid else incoming_trace or uuid.uuid4().hex
        context.set_trailing_metadata((("x-request-id", state.request_id), ("x-trace-id", trace_id)))
        response = b""
        failure: Status | None = None
        note = ""
        try:
            with trace.use_span(span, end_on_exit=False):
                response = self._exchange(method, request, context, metadata, state, started)
        except GatewayError as exc:
            failure = exc.status
            note = "" if state.forwarded else failure.message
        except DomainError as exc:          # a malformed x-egov-client in plaintext mode
            failure = Status(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            note = failure.message
        except Exception:
            log.exception("outbound request %s failed", state.request_id)
            failure = Status(grpc.StatusCode.INTERNAL, f"internal error (request id {state.request_id})")
        failure = self._record(method, request, response, state, trace_id, failure, note, started,
                               started_at) or failure
        status = (failure.code if failure else grpc.StatusCode.OK).name
        span.set_attribute("rpc.grpc.status_code", status)
        if failure is not None and failure.code not in _NOT_SERVER_ERRORS:
            span.set_status(trace.Status(trace.StatusCode.ERROR, status))
        span.end()
        log.info("outbound call", extra={"fields": {
            "method": method, "status": status, "client": state.client, "request_id": state.request_id,
            "trace_id": trace_id, "duration_ms": round((time.monotonic() - started) * 1000, 2)}})
        if failure is not None:
            context.abort(failure.code, failure.message)
        return response

    def _exchange(self, method: str, request: bytes, context: grpc.ServicerContext,
                  metadata: dict[str, list[str]], state: _Exchanged, started: float) -> bytes:
        registry = self._registry()
        if registry.maintenance:
            raise GatewayError(grpc.StatusCode.UNAVAILABLE, "gateway is in maintenance")
        subsystem = self._identify(context, metadata, registry, state)
        system = registry.route(method)
        if system is None:
            raise GatewayError(grpc.StatusCode.UNIMPLEMENTED, f"no registered external system serves {method}")
        if not registry.is_granted(subsystem, method):
            raise GatewayError(grpc.StatusCode.PERMISSION_DENIED,
                               f"access right: {subsystem} has no grant of {method}")
        if len(request) > self._max_bytes:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"request: {len(request)} bytes exceeds the limit of {self._max_bytes}")
        timeout = self._deadline_seconds(context.time_remaining())
        state.deadline = started + timeout
        member = registry.members.get(subsystem.member)
        with self._limiter.admit(str(subsystem.member), member.limits if member else Limits()):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            state.forwarded = True
            try:
                answer: bytes = self._channels.channel(system).unary_unary(method, None, None)(
                    request, timeout=timeout, metadata=tuple(carrier.items()))
            except grpc.RpcError as exc:
                raise _external_failure(system, exc) from None
            return answer

    def _identify(self, context: grpc.ServicerContext, metadata: dict[str, list[str]], registry: Registry,
                  state: _Exchanged) -> SubsystemId:
        if not self._tls:
            names = metadata.get(CLIENT_HEADER, [])
            if len(names) != 1:
                raise GatewayError(grpc.StatusCode.UNAUTHENTICATED,
                                   f"{CLIENT_HEADER}: a plaintext gateway needs the calling subsystem's id")
            subsystem = SubsystemId.parse(names[0])
            if subsystem not in registry.subsystems or subsystem.member not in registry.members:
                raise GatewayError(grpc.StatusCode.UNAUTHENTICATED, f"subsystem {subsystem} is not registered")
            state.client, state.client_kind = str(subsystem), CallerKind.AGENCY.value
            return subsystem
        pem = context.auth_context().get("x509_pem_cert")
        if not pem:   # the listener requires one: only a misconfigured server gets here
            raise GatewayError(grpc.StatusCode.UNAUTHENTICATED, "certificate: a client certificate is required")
        fingerprint = certificate_fingerprint(cast(Sequence[bytes], pem)[0])   # a list at run time, not bytes as typed
        state.client = f"certificate:{fingerprint}"
        try:
            found = identify(registry, fingerprint)
        except CertificateRefused as exc:
            raise GatewayError(grpc.StatusCode.UNAUTHENTICATED, f"certificate: {exc}") from None
        state.client, state.client_kind = str(found.id), CallerKind.AGENCY.value
        return found.id

    def _deadline_seconds(self, client_remaining: float | None) -> float:
        if client_remaining is None or client_remaining > _NO_DEADLINE_BEYOND_SECONDS:
            return self._default_deadline
        if client_remaining <= 0:
            raise GatewayError(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before the call was made")
        return min(client_remaining, self._max_deadline)

    def _record(self, method: str, request: bytes, response: bytes, state: _Exchanged, trace_id: str,
                failure: Status | None, note: str, started: float, started_at: str) -> Status | None:
        """Write the exchange to the message log; a forwarded call waits for its record and answers
        UNAVAILABLE if it cannot be written (its answer is withheld, as for inbound calls)."""
        exchange = Exchange(
            direction=OUTBOUND, request_id=state.request_id, trace_id=trace_id, client=state.client,
            client_kind=state.client_kind, method=method, started_at=started_at, ended_at=now_rfc3339(),
            duration_us=int((time.monotonic() - started) * 1_000_000),
            status=(failure.code if failure else grpc.StatusCode.OK).name,
            request_digest=self._log_key.digest(request), request_bytes=len(request),
            response_digest=self._log_key.digest(response) if failure is None else "",
            response_bytes=len(response), note=note)
        try:
            written = self._message_log.submit(exchange)
            if state.forwarded and self._durable:
                written.result(timeout=max(state.deadline - time.monotonic(), _LOG_WAIT_SECONDS))
        except (LogUnavailable, FutureTimeout) as exc:
            if state.forwarded:
                log.error("outbound request %s answered UNAVAILABLE: its exchange was not logged: %s",
                          state.request_id, exc)
                return Status(grpc.StatusCode.UNAVAILABLE, f"message log: {exc or 'not written in time'}")
            log.warning("outbound request %s: refusal not logged: %s", state.request_id, exc)
        return None


def _external_failure(system: ExternalSystem, exc: grpc.RpcError) -> GatewayError:
    """The external system's failure in the gateway's words; its own message only when it answered."""
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNAVAILABLE
    if code is grpc.StatusCode.UNAVAILABLE:
        return GatewayError(code, f"external system {system.id} is unavailable")
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return GatewayError(code, f"external system {system.id} did not answer before the deadline")
    details = exc.details() if isinstance(exc, grpc.Call) else ""
    if code is grpc.StatusCode.UNKNOWN:
        code = grpc.StatusCode.INTERNAL
    return GatewayError(code, f"external system {system.id}: {details or code.name}")


def listen(server: grpc.Server, address: str, tls: tuple[bytes, bytes, bytes] | None) -> int:
    """The outbound listener: mutual TLS with `tls` = (certificate, key, client CA), else plaintext."""
    if tls is None:
        log.warning("PLAINTEXT outbound listener on %s: platform services name themselves in %s; "
                    "for local development only", address, CLIENT_HEADER)
        return server.add_insecure_port(address)
    certificate, key, client_ca = tls
    return server.add_secure_port(address, grpc.ssl_server_credentials(
        [(key, certificate)], root_certificates=client_ca, require_client_auth=True))

