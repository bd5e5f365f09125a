"""One generic handler carries every platform method to its nameko service; no per-method code.

The handler normalises the request's text to NFC and validates it against the proto rules, calls
`<service>.<method>(request=..., caller=...)` over RPC within the call's deadline, and parses the
reply into the response class.
The gateway's own methods (egov.gateway.v1) get the same decoding and validation, then a local
function instead of the bus (for EventService/Subscribe, a generator of responses).
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from gateway.call import current_call, peer_address
from gateway.methods import Method
from gateway.rpc_client import RpcBackend
from gateway.validation import normalize, validate
from services.common import protowire
from services.common.caller import Caller
from services.common.caller_proof import CallerSigner
from services.common.errors import InvalidArgument


class MalformedRequest:
    """Bytes that do not decode as the request message; refused as INVALID_ARGUMENT by the handler
    (grpcio would answer INTERNAL if the deserializer raised)."""

    def __init__(self, type_name: str, reason: str) -> None:
        self.type_name = type_name
        self.reason = reason


class BadReply(Exception):
    """The service answered something that is not the response message: a bug, never the caller's."""


def decoder(cls: type[Message]) -> Callable[[bytes], Message | MalformedRequest]:
    def decode(data: bytes) -> Message | MalformedRequest:
        try:
            return cls.FromString(data)
        except DecodeError as exc:
            return MalformedRequest(cls.DESCRIPTOR.full_name, str(exc))

    return decode


def carry(method: Method, backend: RpcBackend, signer: CallerSigner) -> grpc.RpcMethodHandler[Any, Any]:
    def handle(request: Message | MalformedRequest, context: grpc.ServicerContext) -> Message:
        if isinstance(request, MalformedRequest):
            raise InvalidArgument("request", f"not a valid {request.type_name} message: {request.reason}")
        validate(normalize(request))      # NFC first: lengths count the text as it will be stored
        call = current_call.get()
        call.forwarded = True
        call.client_address = call.client_address or peer_address(context.peer() or "")
        wire = protowire.dump(request)
        # The caller signed for this service, method and request: services believe nothing else.
        caller = signer.sign(call.caller, method.service, method.method, wire, valid_seconds=call.remaining())
        reply = backend.call(method.service, method.method, {"request": wire, "caller": caller},
                             timeout=call.remaining(), context_data=call.context_data())
        try:
            return protowire.parse(method.response_class, reply)
        except InvalidArgument as exc:
            answered = f"{method.service}.{method.method} answered a bad {method.response_class.__name__}"
            raise BadReply(f"{answered}: {exc}") from exc

    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=decoder(method.request_class),
        response_serializer=method.response_class.SerializeToString,
    )


LocalFunction = Callable[[Any, Caller], Message]
# A server-streaming method served by the gateway; it gets the context to notice a cancelled call.
LocalStreamFunction = Callable[[Any, Caller, grpc.ServicerContext], Iterator[Message]]


def serve_locally(method: Method, function: LocalFunction | LocalStreamFunction) -> grpc.RpcMethodHandler[Any, Any]:
    def checked(request: Message | MalformedRequest) -> Message:
        if isinstance(request, MalformedRequest):
            raise InvalidArgument("request", f"not a valid {request.type_name} message: {request.reason}")
        validate(normalize(request))
        return request

    def handle(request: Message | MalformedRequest, context: grpc.ServicerContext) -> Message:
        return function(checked(request), current_call.get().caller)  # type: ignore[call-arg,return-value]

    def handle_stream(request: Message | MalformedRequest, context: grpc.ServicerContext) -> Iterator[Message]:
        return function(checked(request), current_call.get().caller, context)  # type: ignore[call-arg,return-value]

    if method.server_streaming:
        return grpc.unary_stream_rpc_method_handler(
            handle_stream, request_deserializer=decoder(method.request_class),
            response_serializer=method.response_class.SerializeToString)
    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=decoder(method.request_class),
        response_serializer=method.response_class.SerializeToString,
    )


def generic_handlers(table: Mapping[str, Method], backend: RpcBackend, signer: CallerSigner,
                     local: Mapping[str, LocalFunction | LocalStreamFunction] | None = None,
                     ) -> list[grpc.GenericRpcHandler[Any, Any]]:
    """Handlers for every method of `table`: carried over RPC with the caller signed by `signer`, or
    served by `local[full name]`."""
    local = local or {}
    by_service: dict[str, dict[str, grpc.RpcMethodHandler[Any, Any]]] = {}
    for method in table.values():
        function = local.get(method.full_name)
        if method.local and function is None:
            raise ValueError(f"{method.full_name} is served by the gateway but has no function")
        handler = serve_locally(method, function) if function is not None else carry(method, backend, signer)
        by_service.setdefault(method.grpc_service, {})[method.rpc_name] = handler
    return [grpc.method_handlers_generic_handler(service, handlers)
            for service, handlers in by_service.items()]
