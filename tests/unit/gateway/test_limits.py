"""Per-member token buckets and concurrency: over the limit is refused at once, never queued."""

import grpc
import pytest

from gateway.errors import GatewayError
from gateway.limits import EffectiveLimits, MemberLimiter
from gateway.members import Limits

DEFAULTS = EffectiveLimits(rate_per_second=1e-9, burst=3, concurrency=2)
DEFAULT = Limits()


def refused(limiter: MemberLimiter, member: str, override: Limits = DEFAULT) -> str:
    with pytest.raises(GatewayError) as failure, limiter.admit(member, override):
        pass
    assert failure.value.status.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    return failure.value.status.message


def test_a_member_gets_its_burst_then_is_refused_and_others_are_not_affected() -> None:
    limiter = MemberLimiter(DEFAULTS)
    for _ in range(3):
        with limiter.admit("VN/GOV/1", Limits()):
            pass
    assert "rate" in refused(limiter, "VN/GOV/1")
    with limiter.admit("VN/GOV/2", Limits()):
        pass


def test_concurrent_calls_over_the_limit_are_refused_and_slots_come_back() -> None:
    limiter = MemberLimiter(EffectiveLimits(rate_per_second=1e6, burst=100, concurrency=2))
    with limiter.admit("m", Limits()), limiter.admit("m", Limits()):
        assert "2 concurrent calls" in refused(limiter, "m")
    with limiter.admit("m", Limits()):
        pass


def test_a_member_override_replaces_the_default() -> None:
    limiter = MemberLimiter(DEFAULTS)
    assert "rate of 1e-09" in refused(limiter, "m", Limits(burst=0))
    with limiter.admit("n", Limits(concurrency=5)), limiter.admit("n", Limits(concurrency=5)), \
            limiter.admit("n", Limits(concurrency=5)):
        pass                                     # three at once where the default allows two
