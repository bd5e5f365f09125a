"""Rate and concurrency limits per caller: a caller over its share is refused at once with
RESOURCE_EXHAUSTED, never queued (a queued call would hold a worker thread that others need).

Each key (an agency's member, a citizen's or civil servant's account, an anonymous caller's address)
has a token bucket (`rate_per_second` tokens a second, at most `burst` saved up) and a count of calls
in flight (at most `concurrency`). The defaults come from the environment; a member's own limits in
the registry override them and take effect with the registry's next version. Keys whose bucket is
full again and that have nothing in flight are forgotten, so a flood from many addresses cannot grow
the table without bound.
"""

import ipaddress
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc

from gateway.errors import GatewayError
from gateway.members import Limits

PRUNE_ABOVE_KEYS = 10_000


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


class _Bucket:
    def __init__(self, limits: EffectiveLimits) -> None:
        self.limits = limits
        self.tokens = float(limits.burst)
        self.refilled = time.monotonic()
        self.in_flight = 0
        self.lock = threading.Lock()

    def refill(self, now: float) -> None:
        self.tokens = min(float(self.limits.burst), self.tokens + (now - self.refilled) * self.limits.rate_per_second)
        self.refilled = now

    def idle(self, now: float) -> bool:
        refilled = self.tokens + (now - self.refilled) * self.limits.rate_per_second
        return self.in_flight == 0 and refilled >= self.limits.burst


class Limiter:
    """Buckets by key; `describe(key)` names the caller in a refusal ("member VN/GOV/X")."""

    def __init__(self, defaults: EffectiveLimits, describe: Callable[[str], str] = lambda key: key) -> None:
        self.defaults = defaults
        self._describe = describe
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @contextmanager
    def admit(self, key: str, override: Limits = Limits()) -> Iterator[None]:  # noqa: B008 - frozen
        """Hold one of the key's concurrent slots for the block, or raise RESOURCE_EXHAUSTED."""
        bucket = self._bucket(key, self.defaults.over(override))
        limits = bucket.limits
        with bucket.lock:
            bucket.refill(time.monotonic())
            if bucket.in_flight >= limits.concurrency:
                raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"{self._describe(key)}: {limits.concurrency} concurrent calls already in progress")
            if bucket.tokens < 1:
                raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"{self._describe(key)}: over its rate of {limits.rate_per_second:g} calls/s")
            bucket.tokens -= 1
            bucket.in_flight += 1
        try:
            yield
        finally:
            with bucket.lock:
                bucket.in_flight -= 1

    def __len__(self) -> int:
        return len(self._buckets)

    def _bucket(self, key: str, limits: EffectiveLimits) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            with self._lock:
                if len(self._buckets) >= PRUNE_ABOVE_KEYS:
                    self._prune()
                bucket = self._buckets.setdefault(key, _Bucket(limits))
        if bucket.limits != limits:            # the registry changed this member's limits
            with bucket.lock:
                bucket.limits = limits
                bucket.tokens = min(bucket.tokens, float(limits.burst))
        return bucket

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [k for k, b in self._buckets.items() if b.idle(now)]:
            del self._buckets[key]


class MemberLimiter(Limiter):
    """Per agency member (X-Road's member): the registry may override its limits."""

    def __init__(self, defaults: EffectiveLimits) -> None:
        super().__init__(defaults, lambda member: f"member {member}")


def address_key(peer: str) -> str:
    """The limit key of a gRPC peer ("ipv4:203.0.113.7:51234", "ipv6:[2001:db8::1]:51234"): the IPv4
    address, or the IPv6 /64 network (one subscriber usually holds a whole /64)."""
    kind, _, rest = peer.partition(":")
    host = rest.rsplit(":", 1)[0].strip("[]") if kind in ("ipv4", "ipv6") else rest
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return peer
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
