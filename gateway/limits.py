"""Per-member rate and concurrency limits: an agency system over its share is refused at once with
RESOURCE_EXHAUSTED, never queued (a queued call would hold a worker thread that other members need).

Each member has a token bucket (`rate_per_second` tokens a second, at most `burst` saved up) and a
count of calls in flight (at most `concurrency`). The defaults come from the environment; a member's
own limits in the registry override them and take effect with the registry's next version.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc

from gateway.errors import GatewayError
from gateway.members import Limits


@dataclass(frozen=True)
class EffectiveLimits:
    rate_per_second: float
    burst: int
    concurrency: int

    def over(self, override: Limits) -> "EffectiveLimits":
        return EffectiveLimits(
            override.rate_per_second if override.rate_per_second is not None else self.rate_per_second,
            override.burst if override.burst is not None else self.burst,
            override.concurrency if override.concurrency is not None else self.concurrency,
        )


class _Member:
    def __init__(self, limits: EffectiveLimits) -> None:
        self.limits = limits
        self.tokens = float(limits.burst)
        self.refilled = time.monotonic()
        self.in_flight = 0
        self.lock = threading.Lock()


class MemberLimiter:
    def __init__(self, defaults: EffectiveLimits) -> None:
        self.defaults = defaults
        self._members: dict[str, _Member] = {}
        self._lock = threading.Lock()

    @contextmanager
    def admit(self, member: str, override: Limits) -> Iterator[None]:
        """Hold one of the member's concurrent slots for the block, or raise RESOURCE_EXHAUSTED."""
        state = self._state(member, self.defaults.over(override))
        limits = state.limits
        with state.lock:
            now = time.monotonic()
            state.tokens = min(float(limits.burst), state.tokens + (now - state.refilled) * limits.rate_per_second)
            state.refilled = now
            if state.in_flight >= limits.concurrency:
                raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"member {member}: {limits.concurrency} concurrent calls already in progress")
            if state.tokens < 1:
                raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"member {member}: over its rate of {limits.rate_per_second:g} calls/s")
            state.tokens -= 1
            state.in_flight += 1
        try:
            yield
        finally:
            with state.lock:
                state.in_flight -= 1

    def _state(self, member: str, limits: EffectiveLimits) -> _Member:
        state = self._members.get(member)
        if state is None:
            with self._lock:
                state = self._members.setdefault(member, _Member(limits))
        if state.limits != limits:            # the registry changed this member's limits
            with state.lock:
                state.limits = limits
                state.tokens = min(state.tokens, float(limits.burst))
        return state
