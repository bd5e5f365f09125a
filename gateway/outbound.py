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
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import grpc
from opentelemetry import propagate, trace

from gateway.auth import certificate_fingerprint, metadata_of
from gateway.config import ClientCertificate
from gateway.deadlines import DeadlinePolicy
from gateway.errors import GatewayError, Status
from gateway.exchange_recorder import ExchangeFacts, ExchangeRecorder
from gateway.limits import MemberLimiter
from gateway.members import CertificateRefused, ExternalSystem, Limits, Registry, SubsystemId, identify
from gateway.message_log import OUTBOUND
from gateway.tracing import (
    client_duration,
    end_span,
    parent_of,
    rpc_attributes,
    span_name,
    status_attributes,
    trace_id_in,
    trace_id_of,
)
from services.common import telemetry
from services.common.caller import CallerKind
from services.common.errors import DomainError

log = logging.getLogger("gateway.outbound")
tracer = telemetry.tracer("egov.gateway")
CLIENT_HEADER = "x-egov-client"
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


class OutboundExchange(GenericRpcHandler):
    def __init__(self, registry: Callable[[], Registry], channels: ExternalChannels, limiter: MemberLimiter,
                 recorder: ExchangeRecorder, deadlines: DeadlinePolicy, *, tls: bool, max_message_bytes: int) -> None:
        self._registry = registry
        self._channels = channels
        self._limiter = limiter
        self._recorder = recorder
        self._deadlines = deadlines
        self._tls = tls
        self._max_bytes = max_message_bytes

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        method: str = handler_call_details.method

        def forward(request: bytes, context: grpc.ServicerContext) -> bytes:
            return self.forward(method, request, context)

        # No (de)serializers: the request's bytes go on as they came, the answer's come back so.
        return grpc.unary_unary_rpc_method_handler(forward)

    def forward(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        state = ExchangeFacts(method=method, direction=OUTBOUND, request_bytes=len(request),
                              request_digest=self._recorder.digest(request))
        metadata = metadata_of(context)
        incoming = list(metadata.get("traceparent", ()))
        span = tracer.start_span(span_name(method), context=parent_of(incoming), kind=trace.SpanKind.CLIENT,
                                 attributes={**rpc_attributes(method), "egov.exchange.direction": OUTBOUND})
        state.trace_id = trace_id_in(span) or trace_id_of(incoming) or uuid.uuid4().hex
        context.set_trailing_metadata((("x-request-id", state.request_id), ("x-trace-id", state.trace_id)))
        response = b""
        try:
            with trace.use_span(span, end_on_exit=False):
                response = self._exchange(method, request, context, metadata, state)
        except GatewayError as exc:
            state.failure = exc.status
            state.note = "" if state.forwarded else state.failure.message
        except DomainError as exc:          # a malformed x-egov-client in plaintext mode
            state.failure = Status(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            state.note = state.failure.message
        except Exception:
            log.exception("outbound request %s failed", state.request_id)
            state.failure = Status(grpc.StatusCode.INTERNAL, f"internal error (request id {state.request_id})")
        if state.failure is None:
            state.response_bytes, state.response_digest = len(response), self._recorder.digest(response)
        state.failure = self._recorder.record(state) or state.failure
        end_span(span, state.failure, _NOT_SERVER_ERRORS)
        client_duration.record(state.elapsed(), status_attributes(method, state.failure))
        log.info("outbound call", extra={"fields": {
            "method": method, "status": state.status.name, "client": state.client, "request_id": state.request_id,
            "trace_id": state.trace_id, "duration_ms": round(state.elapsed() * 1000, 2)}})
        if state.failure is not None:
            context.abort(state.failure.code, state.failure.message)
        return response

    def _exchange(self, method: str, request: bytes, context: grpc.ServicerContext,
                  metadata: dict[str, list[str]], state: ExchangeFacts) -> bytes:
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
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise GatewayError(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before the call was made")
        timeout = self._deadlines.seconds(remaining)
        state.deadline = state.started + timeout
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
                  state: ExchangeFacts) -> SubsystemId:
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

