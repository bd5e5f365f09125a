# Over 300 lines: five short interceptors of one chain that share the `Call` the outermost one makes.
"""The interceptors that make a call a call, one concern each (composed in gateway.server):

- `CallInterceptor` (outermost): the call's `Call`, current in its thread while it runs; at its end
  the request and trace ids in the trailers and the final status sent.
- `DeadlineInterceptor`: the call's deadline (gateway.deadlines).
- `DigestInterceptor`: the request's and responses' sizes and keyed digests, of exactly the bytes
  received and sent (it serializes the responses itself).
- `StatusInterceptor`: whatever the inner layers raise becomes the call's one status (gateway.errors).
- `SizeLimitInterceptor`: a request over the size bound is never decoded and is refused
  RESOURCE_EXHAUSTED with the bound (as grpcio itself and the agency front refuse larger ones).

gateway.observing_interceptors adds the span, the access log line, the metrics and the message log
record. Each interceptor wraps unary and server-streaming methods alike: an open stream is one call;
its layers finish, innermost first, when it ends or the client abandons it.

A failed call unwinds the layers as `CallFailed`, its status already on the `Call`, so that every
layer's end sees the status the caller will get (the message log may still replace it).
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from gateway.call import Call, current_call
from gateway.deadlines import DeadlinePolicy
from gateway.errors import GatewayError, Status, internal, status_of
from gateway.exchange_recorder import ExchangeRecorder
from gateway.methods import Method
from services.common.errors import DomainError

log = logging.getLogger("gateway.calls")

Behavior = Callable[[Any, grpc.ServicerContext], Any]
Serializer = Callable[[Any], bytes]
Pause = Callable[[], AbstractContextManager[Any]]
if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Continuation = Callable[[grpc.HandlerCallDetails], Handler | None]
    ServerInterceptor = grpc.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.ServerInterceptor


class CallFailed(Exception):
    """A call's failure on its way out through the layers; its status is on the `Call`."""


def relay(items: Iterator[Any], pause: Pause = nullcontext) -> Iterator[Any]:
    """The inner stream's messages, with this layer's context set aside while each is sent (`pause`);
    closing this stream closes the inner one first, so inner layers finish first."""
    try:
        for item in items:
            with pause():
                yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


class Concern(ServerInterceptor):
    """One concern around the methods of the table; everything else passes through. A concern
    implements `around` (a context manager over the call, which may yield a `Pause`) or overrides
    `unary`/`stream`.

    grpcio asks every interceptor for the handler on every call. What a concern wraps depends only on
    the method and the inner handler, so it is built once and kept while the inner handler is the same
    object: then each layer hands the next the same handler too, and a call no longer rebuilds the
    chain's closures (5-7 % of the gateway's CPU on a read, docs/BENCHMARKS.md). A concern decides
    anything about a call inside the behaviour it returns, never here."""

    def __init__(self, table: Mapping[str, Method]) -> None:
        self._table = table
        self._built: dict[str, tuple[Handler, Handler]] = {}    # method -> (inner handler, wrapped)

    def intercept_service(self, continuation: Continuation,
                          handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        handler = continuation(handler_call_details)
        name = handler_call_details.method
        method = self._table.get(name)
        if handler is None or method is None:
            return handler
        built = self._built.get(name)
        if built is None or built[0] is not handler:
            built = self._built[name] = (handler, self.handler(method, handler))
        return built[1]

    def handler(self, method: Method, handler: Handler) -> Handler:
        return self.rebuilt(handler, self.unary(method, handler.unary_unary) if handler.unary_unary else None,
                            self.stream(method, handler.unary_stream) if handler.unary_stream else None)

    @staticmethod
    def rebuilt(handler: Handler, unary: Behavior | None, stream: Behavior | None,
                deserialize: Callable[[bytes], Any] | None = None, serialize: Serializer | None = None,
                keep_serializer: bool = True) -> Handler:
        """`handler` with new behaviours and, if given, (de)serializers."""
        request_deserializer = deserialize or handler.request_deserializer
        response_serializer = serialize or (handler.response_serializer if keep_serializer else None)
        if unary is not None:
            return grpc.unary_unary_rpc_method_handler(unary, request_deserializer=request_deserializer,
                                                       response_serializer=response_serializer)
        if stream is not None:
            return grpc.unary_stream_rpc_method_handler(stream, request_deserializer=request_deserializer,
                                                        response_serializer=response_serializer)
        return handler

    def around(self, method: Method, context: grpc.ServicerContext) -> AbstractContextManager[Pause | None]:
        return nullcontext()

    def unary(self, method: Method, behavior: Behavior) -> Behavior:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            with self.around(method, context):
                return behavior(request, context)

        return wrapped

    def stream(self, method: Method, behavior: Behavior) -> Behavior:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with self.around(method, context) as pause:
                yield from relay(behavior(request, context), pause or nullcontext)

        return wrapped


class _Current:
    """Makes a call current in this thread, and sets it aside while a stream sends a message."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self._token: Any = None

    def enter(self) -> None:
        if self._token is None:
            self._token = current_call.set(self.call)

    def leave(self) -> None:
        if self._token is not None:
            current_call.reset(self._token)
            self._token = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.leave()
        try:
            yield
        finally:
            self.enter()


class CallInterceptor(Concern):
    def unary(self, method: Method, behavior: Behavior) -> Behavior:
        def within_call(request: Any, context: grpc.ServicerContext) -> Any:
            current = _Current(Call(method=method.full_name))
            current.enter()
            response = None
            try:
                response = behavior(request, context)
            except CallFailed:
                pass
            except Exception:
                current.call.failure = self._bug(current.call)
            finally:
                current.leave()
            self._end(current.call, context)
            return response

        return within_call

    def stream(self, method: Method, behavior: Behavior) -> Behavior:
        def within_call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            current = _Current(Call(method=method.full_name))
            current.enter()
            try:
                yield from relay(behavior(request, context), current.paused)
            except CallFailed:
                pass
            except Exception:
                current.call.failure = self._bug(current.call)
            finally:
                current.leave()      # also when grpcio drops the stream: then nothing is sent
            self._end(current.call, context)

        return within_call

    @staticmethod
    def _bug(call: Call) -> Status:
        log.exception("request %s failed in the gateway's own layers", call.request_id)
        return internal(call.request_id)

    @staticmethod
    def _end(call: Call, context: grpc.ServicerContext) -> None:
        context.set_trailing_metadata((("x-request-id", call.request_id), ("x-trace-id", call.trace_id)))
        if call.failure is not None and context.is_active():
            context.abort(call.failure.code, call.failure.message)


class DeadlineInterceptor(Concern):
    def __init__(self, table: Mapping[str, Method], policy: DeadlinePolicy) -> None:
        super().__init__(table)
        self._policy = policy

    @contextmanager
    def around(self, method: Method, context: grpc.ServicerContext) -> Iterator[None]:
        call = current_call.get()
        call.deadline = call.started + self._policy.seconds(context.time_remaining(), method.server_streaming)
        yield


class StatusInterceptor(Concern):
    @contextmanager
    def around(self, method: Method, context: grpc.ServicerContext) -> Iterator[None]:
        call = current_call.get()
        try:
            yield
        except GeneratorExit:            # grpcio dropped the stream: the client is gone
            call.failure = call.failure or _gone(context)
            raise
        except Exception as exc:
            call.failure = status_of(exc, call.request_id)
            if isinstance(exc, GatewayError | DomainError) and not call.forwarded:
                call.note = call.failure.message      # the gateway's own words: no service data in them
            raise CallFailed from None
        if method.server_streaming and call.failure is None and not context.is_active():
            call.failure = _gone(context)


def _gone(context: grpc.ServicerContext) -> Status:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return Status(grpc.StatusCode.DEADLINE_EXCEEDED, "the client's deadline passed")
    return Status(grpc.StatusCode.CANCELLED, "the client cancelled the stream")


@dataclass(frozen=True)
class Oversized:
    """A request over the size bound, in place of its message: never decoded."""

    size: int


class SizeLimitInterceptor(Concern):
    def __init__(self, table: Mapping[str, Method], max_bytes: int) -> None:
        super().__init__(table)
        self._max = max_bytes

    def handler(self, method: Method, handler: Handler) -> Handler:
        decode = handler.request_deserializer or (lambda data: data)

        def bounded(data: bytes) -> Any:
            return Oversized(len(data)) if len(data) > self._max else decode(data)

        return self.rebuilt(handler, self.unary(method, handler.unary_unary) if handler.unary_unary else None,
                            self.stream(method, handler.unary_stream) if handler.unary_stream else None,
                            deserialize=bounded)

    def unary(self, method: Method, behavior: Behavior) -> Behavior:
        def within_size(request: Any, context: grpc.ServicerContext) -> Any:
            return behavior(self._checked(request), context)

        return within_size

    def stream(self, method: Method, behavior: Behavior) -> Behavior:
        return self.unary(method, behavior)     # the check comes before the stream's first message

    def _checked(self, request: Any) -> Any:
        if isinstance(request, Oversized):
            raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED, oversized_message(request.size, self._max))
        return request


def oversized_message(size: int, limit: int) -> str:
    """What a request over the bound is told, on either port (the agency front says the same)."""
    return f"request: {size} bytes exceeds the limit of {limit} bytes"


@dataclass(frozen=True)
class Received:
    """The request as it came off the wire: its size, its digest, and what the inner layers decoded."""

    size: int
    digest: str
    decoded: Any


class DigestInterceptor(Concern):
    def __init__(self, table: Mapping[str, Method], recorder: ExchangeRecorder) -> None:
        super().__init__(table)
        self._recorder = recorder

    def handler(self, method: Method, handler: Handler) -> Handler:
        decode = handler.request_deserializer or (lambda data: data)
        serialize: Serializer = handler.response_serializer or (lambda response: response)

        def received(data: bytes) -> Received:
            decoded = decode(data)
            return Received(len(data), "" if isinstance(decoded, Oversized) else self._recorder.digest(data), decoded)

        # The responses leave this layer serialized: outer layers pass the bytes on as they are.
        return self.rebuilt(handler, self._unary(handler.unary_unary, serialize) if handler.unary_unary else None,
                            self._stream(handler.unary_stream, serialize) if handler.unary_stream else None,
                            deserialize=received, keep_serializer=False)

    def _unary(self, behavior: Behavior, serialize: Serializer) -> Behavior:
        def digested(request: Received, context: grpc.ServicerContext) -> bytes:
            call = current_call.get()
            call.request_bytes, call.request_digest = request.size, request.digest
            payload = serialize(behavior(request.decoded, context))
            call.response_bytes, call.response_digest = len(payload), self._recorder.digest(payload)
            return payload

        return digested

    def _stream(self, behavior: Behavior, serialize: Serializer) -> Behavior:
        """The response digest of a stream covers every message sent, in order."""
        def digested(request: Received, context: grpc.ServicerContext) -> Iterator[bytes]:
            call = current_call.get()
            call.request_bytes, call.request_digest = request.size, request.digest
            call.messages, digests = 0, []
            try:
                for response in relay(behavior(request.decoded, context)):
                    payload = serialize(response)
                    digests.append(bytes.fromhex(self._recorder.digest(payload)))
                    call.response_bytes += len(payload)
                    call.messages += 1
                    yield payload
            finally:
                call.response_digest = self._recorder.digest(b"".join(digests))

        return digested
