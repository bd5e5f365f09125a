"""egov.gateway.v1.EventService/Subscribe: agency systems follow the platform's events.

A catch-up subscription in the manner of EventStoreDB's: it reads the archive (the `archive`
service's index of the event stream, over nameko RPC) from a position, then keeps polling it for
newly archived events. The position is an event id the caller received, so a broken stream resumes
after it with nothing skipped or repeated. Rights are checked before the first event and again
before every page: a revoked grant, a revoked certificate or maintenance ends the stream.

Each open stream holds a gateway worker thread, so they are capped, per member
(EGOV_GATEWAY_MEMBER_SUBSCRIPTIONS: one agency cannot take every stream) and in all
(EGOV_GATEWAY_MAX_SUBSCRIPTIONS), beyond either RESOURCE_EXHAUSTED, and end after
EGOV_GATEWAY_STREAM_MAX_SECONDS (status OK: resume).
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

import base64
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc

from egov.gateway.v1 import events_pb2 as pb
from gateway.call import Call, current_call
from gateway.errors import GatewayError
from gateway.event_types import grant_name, readable_types
from gateway.handlers import LocalStreamFunction
from gateway.members import CertificateRefused, Registry, SubsystemId, identify
from gateway.rpc_client import RpcBackend
from services.common.caller import Caller
from services.common.errors import InvalidArgument
from services.common.events.envelope import decode

SUBSCRIBE = "/egov.gateway.v1.EventService/Subscribe"
# One page's RPC to the archive waits at most this long, whatever is left of the stream.
PAGE_TIMEOUT_SECONDS = 10.0


class EventFeed:
    def __init__(self, backend: RpcBackend, registry: Callable[[], Registry], *, max_open: int,
                 max_per_member: int | None = None, poll_seconds: float = 0.5, page_size: int = 100) -> None:
        self._backend = backend
        self._registry = registry
        self._poll_seconds = poll_seconds
        self._page_size = page_size
        self._max_open = max_open
        self._max_per_member = max_per_member or max_open
        self._open_by_member: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def functions(self) -> Mapping[str, LocalStreamFunction]:
        return {SUBSCRIBE: self.subscribe}

    def close(self) -> None:
        """The gateway is stopping: open streams end UNAVAILABLE at their next poll."""
        self._stopping.set()

    def subscribe(self, request: pb.SubscribeRequest, caller: Caller,
                  context: grpc.ServicerContext) -> Iterator[pb.SubscribeResponse]:
        if request.after_event_id and request.start:
            raise InvalidArgument("start", "give after_event_id or start, not both")
        subsystem = SubsystemId.parse(caller.subject)
        types = readable_types(request.types, self._registry().granted_methods(subsystem))
        member = str(subsystem.member)
        self._take_slot(member)
        try:
            yield from self._follow(request, subsystem, types, context)
        finally:
            with self._lock:
                self._open_by_member[member] -= 1
                if not self._open_by_member[member]:
                    del self._open_by_member[member]

    def _take_slot(self, member: str) -> None:
        with self._lock:
            mine = self._open_by_member.get(member, 0)
            if mine >= self._max_per_member:
                raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"member {member} already has {mine} subscription(s) open on this gateway, its "
                                   f"limit; close one or retry later")
            if sum(self._open_by_member.values()) >= self._max_open:
                raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"the gateway serves at most {self._max_open} subscriptions at once; retry later")
            self._open_by_member[member] = mine + 1

    def _follow(self, request: pb.SubscribeRequest, subsystem: SubsystemId, types: tuple[str, ...],
                context: grpc.ServicerContext) -> Iterator[pb.SubscribeResponse]:
        call = current_call.get()
        call.forwarded = True
        after = self._rpc(call, "feed_start", types=list(types), after_event_id=request.after_event_id,
                          earliest=request.start == pb.START_POSITION_EARLIEST)["after"]
        while context.is_active():
            self._still_allowed(call, subsystem, types)
            page = self._rpc(call, "feed", types=list(types), after=after, correlation_id=request.correlation_id,
                             limit=self._page_size)
            for body in page["events"]:
                yield pb.SubscribeResponse(event=decode(base64.b64decode(body)))
            after = page["after"]
            if len(page["events"]) < self._page_size:
                wait = min(self._poll_seconds, call.remaining())
                if wait <= 0:
                    return          # the stream's time is up: the caller resumes after its last event
                self._stopping.wait(wait)

    def _still_allowed(self, call: Call, subsystem: SubsystemId, types: tuple[str, ...]) -> None:
        if self._stopping.is_set() or self._registry().maintenance:
            raise GatewayError(grpc.StatusCode.UNAVAILABLE,
                               "gateway is draining: subscribe again with after_event_id = the last event received")
        registry = self._registry()
        try:
            identify(registry, call.certificate)
        except CertificateRefused as exc:
            raise GatewayError(grpc.StatusCode.UNAUTHENTICATED, f"certificate: {exc}") from None
        granted = registry.granted_methods(subsystem)
        for needed in (SUBSCRIBE, *(grant_name(t) for t in types)):
            if needed not in granted:
                raise GatewayError(grpc.StatusCode.PERMISSION_DENIED,
                                   f"access right: {subsystem} no longer has a grant of {needed}")

    def _rpc(self, call: Call, method: str, **kwargs: Any) -> Any:
        return self._backend.call("archive", method, kwargs, timeout=min(call.remaining(), PAGE_TIMEOUT_SECONDS),
                                  context_data=call.context_data())
