"""The chain every platform call passes through, outermost first:

1. `RequestContextInterceptor`: request id, trace id, deadline; turns whatever the inner layers
   raise into one status (gateway.errors) and logs one line per call.
2. `AuthenticationInterceptor`: resolves the caller (gateway.auth).
3. `AuthorizationInterceptor`: deny unless the method grants the caller's kind.

Only methods of the method table go through the chain; the standard services (health, reflection)
are served as they are.
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

import abc
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc

from gateway.auth import Authenticator, authorize, metadata_of
from gateway.call import Call, current_call
from gateway.errors import status_of
from gateway.methods import Method

log = logging.getLogger("gateway.calls")

Behavior = Callable[[Any, grpc.ServicerContext], Any]
if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Continuation = Callable[[grpc.HandlerCallDetails], Handler | None]
    ServerInterceptor = grpc.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.ServerInterceptor

_TRACEPARENT = re.compile(r"[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
# grpcio reports a call without a deadline as one due in the far future.
_NO_DEADLINE_BEYOND_SECONDS = 10 * 365 * 24 * 3600


class _PlatformInterceptor(ServerInterceptor):
    """Wraps the unary behaviour of the methods in the table; passes everything else through."""

    def __init__(self, table: Mapping[str, Method]) -> None:
        self._table = table

    def intercept_service(self, continuation: Continuation,
                          handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        handler = continuation(handler_call_details)
        method = self._table.get(handler_call_details.method)
        if handler is None or method is None or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            self.wrap(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    @abc.abstractmethod
    def wrap(self, method: Method, behavior: Behavior) -> Behavior:
        """The behaviour of `method` with this interceptor's concern around it."""


class RequestContextInterceptor(_PlatformInterceptor):
    def __init__(self, table: Mapping[str, Method], default_deadline: float, max_deadline: float) -> None:
        super().__init__(table)
        self._default_deadline = default_deadline
        self._max_deadline = max_deadline

    def deadline_seconds(self, client_remaining: float | None) -> float:
        """The client's deadline, or the default when it set none, capped at the maximum."""
        if client_remaining is None or client_remaining > _NO_DEADLINE_BEYOND_SECONDS:
            return self._default_deadline
        return min(client_remaining, self._max_deadline)

    def wrap(self, method: Method, behavior: Behavior) -> Behavior:
        def with_request_context(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.monotonic()
            call = Call(method=method.full_name,
                        deadline=started + self.deadline_seconds(context.time_remaining()))
            trace_id = trace_id_of(metadata_of(context).get("traceparent", ()))
            if trace_id:
                call.trace_id = trace_id
            token = current_call.set(call)
            code = grpc.StatusCode.OK
            context.set_trailing_metadata((("x-request-id", call.request_id), ("x-trace-id", call.trace_id)))
            try:
                return behavior(request, context)
            except Exception as exc:
                status = status_of(exc, call.request_id)
                code = status.code
                context.abort(status.code, status.message)
            finally:
                current_call.reset(token)
                log.info("call", extra={"fields": {
                    "method": method.full_name, "status": code.name,
                    "duration_ms": round((time.monotonic() - started) * 1000, 2),
                    "request_id": call.request_id, "trace_id": call.trace_id,
                    "caller": call.caller.kind.value,
                }})

        return with_request_context


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
    def wrap(self, method: Method, behavior: Behavior) -> Behavior:
        def authorized(request: Any, context: grpc.ServicerContext) -> Any:
            authorize(method, current_call.get().caller)
            return behavior(request, context)

        return authorized


def trace_id_of(traceparents: Sequence[str]) -> str | None:
    """The trace id of a valid W3C `traceparent`, else None (the call starts a new trace)."""
    if len(traceparents) != 1:
        return None
    match = _TRACEPARENT.fullmatch(traceparents[0].strip())
    if match is None or match["trace"] == "0" * 32 or traceparents[0].startswith("ff"):
        return None
    return match["trace"]
