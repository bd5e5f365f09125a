"""The platform's checks, one interceptor each, innermost in the chain (gateway.server composes it):

- `MaintenanceInterceptor`: in maintenance (draining) mode new calls are refused UNAVAILABLE.
- `AuthenticationInterceptor`: resolves the caller (gateway.auth).
- `AuthorizationInterceptor`: deny unless the method admits the caller's kind and, for an agency
  system, a grant is in force.
- `LimitsInterceptor`: per-member rate and concurrency (gateway.limits).
- `CallerLimitsInterceptor`: the same per account for citizens and civil servants, and per address
  for anonymous callers: the public port's callers cannot take every worker either.

Server-streaming methods (EventService/Subscribe) take the same checks before the first message;
an open stream counts as one of its member's concurrent calls.

Only methods of the method table go through the chain; the standard services (health, reflection)
are served as they are.
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

import abc
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import grpc

from gateway.auth import Authenticator, authorize
from gateway.call import current_call
from gateway.call_interceptors import Behavior, Concern
from gateway.errors import GatewayError
from gateway.limits import Limiter, MemberLimiter, address_key
from gateway.members import Limits, Registry, SubsystemId
from gateway.methods import Method
from services.common.caller import CallerKind


class _PlatformInterceptor(Concern):
    """A check before the call's behaviour, the same for unary and streaming methods (a stream's
    behaviour returns its iterator: the check runs before the first message)."""

    def unary(self, method: Method, behavior: Behavior) -> Behavior:
        return self.wrap(method, behavior)

    def stream(self, method: Method, behavior: Behavior) -> Behavior:
        return self.wrap(method, behavior)

    @abc.abstractmethod
    def wrap(self, method: Method, behavior: Behavior) -> Behavior:
        """The behaviour of `method` with this interceptor's concern around it."""


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


class CallerLimitsInterceptor(_PlatformInterceptor):
    def __init__(self, table: Mapping[str, Method], accounts: Limiter, addresses: Limiter) -> None:
        super().__init__(table)
        self._accounts = accounts
        self._addresses = addresses

    def wrap(self, method: Method, behavior: Behavior) -> Behavior:
        def within_limits(request: Any, context: grpc.ServicerContext) -> Any:
            with self._admit(context):
                return behavior(request, context)

        def streaming_within_limits(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with self._admit(context):
                yield from behavior(request, context)

        return streaming_within_limits if method.server_streaming else within_limits

    def _admit(self, context: grpc.ServicerContext) -> AbstractContextManager[None]:
        caller = current_call.get().caller
        if caller.kind is CallerKind.AGENCY:
            return nullcontext()           # its member's limits apply
        if caller.kind is CallerKind.ANONYMOUS:
            return self._addresses.admit(address_key(context.peer()))
        return self._accounts.admit(f"{caller.kind.value}:{caller.subject}")
