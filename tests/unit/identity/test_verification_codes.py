"""One-time code verifications and the limits on asking for them: pure rules."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.caller import Caller, CallerKind
from services.common.errors import ResourceExhausted
from services.identity.domain.rate_limits import CodePolicy, Limit, over_limit
from services.identity.domain.verification import (
    CODE_LIFETIME,
    MAX_CODE_ATTEMPTS,
    Purpose,
    code_accepted,
    issue,
    spent,
)

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
AN = ("046090012345", "Nguyễn Văn An", "1990-05-14")


def verification(**changes: object):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    made = issue("v1", Purpose.REGISTRATION, *AN, code="482913", salt="00" * 16, now=NOW)
    return replace(made, **changes)


def accepted(v, code: str = "482913", purpose: Purpose = Purpose.REGISTRATION,  # type: ignore[no-untyped-def]
             person: tuple[str, str, str] = AN, now: datetime = NOW) -> bool:
    return code_accepted(v, purpose, *person, code=code, now=now)


def test_the_code_sent_proves_possession_once_within_its_lifetime() -> None:
    v = verification()
    assert accepted(v)
    assert accepted(v, person=(AN[0], "NGUYỄN VĂN AN", AN[2]))
    assert not accepted(spent(v))
    assert not accepted(v, now=NOW + CODE_LIFETIME)
    assert accepted(v, now=NOW + CODE_LIFETIME - timedelta(seconds=1))


@pytest.mark.parametrize("why", ["wrong code", "other purpose", "other person", "other birth date", "spent by tries"])
def test_each_failure_is_a_plain_no(why: str) -> None:
    v = verification()
    outcome = {
        "wrong code": lambda: accepted(v, code="482914"),
        "other purpose": lambda: accepted(v, purpose=Purpose.ACCOUNT_RECOVERY),
        "other person": lambda: accepted(v, person=("046185006789", AN[1], AN[2])),
        "other birth date": lambda: accepted(v, person=(AN[0], AN[1], "1990-05-15")),
        "spent by tries": lambda: accepted(verification(attempts=MAX_CODE_ATTEMPTS)),
    }[why]()
    assert outcome is False


def test_the_code_is_not_kept_in_clear() -> None:
    v = verification()
    assert "482913" not in repr(v)


def test_a_window_counts_per_key_and_ends_on_its_boundary() -> None:
    limit = Limit("code-person-10m", 3, timedelta(minutes=10))
    first, ends = limit.window_of("046090012345", NOW + timedelta(minutes=3))
    assert ends == NOW + timedelta(minutes=10)
    assert limit.window_of("046090012345", NOW + timedelta(minutes=9))[0] == first
    assert limit.window_of("046090012345", NOW + timedelta(minutes=10))[0] != first
    assert limit.window_of("046185006789", NOW)[0] != first
    assert "046090012345" not in first       # counters do not carry the ID in clear
    assert over_limit(limit, 3, ends, "citizen_id", "this citizen ID") is None
    refusal = over_limit(limit, 4, ends, "citizen_id", "this citizen ID")
    assert isinstance(refusal, ResourceExhausted)
    assert str(refusal) == ("citizen_id: too many one-time codes asked for this citizen ID: at most 3 per "
                            "10 minutes; try again after 2026-12-07T03:10:00Z")


def test_anonymous_callers_are_limited_per_address_agents_per_account_operators_not_at_all() -> None:
    policy = CodePolicy()
    assert policy.for_source(Caller(CallerKind.ANONYMOUS), "203.0.113.7") == (policy.per_address,
                                                                               "address:203.0.113.7")
    clerk = Caller(CallerKind.CIVIL_SERVANT, subject="cb-1", agency_code="000.00.15.H57")
    assert policy.for_source(clerk, "203.0.113.7") == (policy.per_agent, "civil_servant:cb-1")
    assert policy.for_source(Caller(CallerKind.OPERATOR, subject="op"), "") == ((), "")
