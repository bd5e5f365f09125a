"""Tokens the gateway verified once are believed until they expire, and only the very string verified."""

from datetime import timedelta

import jwt
import pytest

from gateway.verified_tokens import VerifiedTokens
from services.common.caller import Caller, CallerKind
from services.common.errors import Unauthenticated
from services.common.tokens import TokenKeys, VerifiedToken, generate_key_pair, issue_token, verify_access_token

PRIVATE, PUBLIC = generate_key_pair()
KEYS = TokenKeys.from_pem(PUBLIC)
CITIZEN = Caller(CallerKind.CITIZEN, subject="046090012345")


class CountedCheck:
    """The real verification, counting how often the cache asks for it."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def __call__(self, token: str) -> VerifiedToken:
        self.checked.append(token)
        return verify_access_token(KEYS, token)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def token_for(caller: Caller, minutes: int = 15) -> tuple[str, float]:
    token, _ = issue_token(PRIVATE, caller, timedelta(minutes=minutes))
    return token, float(jwt.decode(token, options={"verify_signature": False})["exp"])


def test_a_token_is_checked_once_then_believed_until_it_expires() -> None:
    token, expires = token_for(CITIZEN)
    check, clock = CountedCheck(), Clock(expires - 60)
    tokens = VerifiedTokens(check, clock)
    assert tokens.verify(token).caller == CITIZEN
    assert tokens.verify(token).caller == CITIZEN
    assert len(check.checked) == 1
    clock.now = expires          # expired: checked again in full (which refuses it once it has expired)
    tokens.verify(token)
    assert len(check.checked) == 2


def test_a_refused_token_is_never_held() -> None:
    token, expires = token_for(CITIZEN)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    check = CountedCheck()
    tokens = VerifiedTokens(check, Clock(expires - 60))
    tokens.verify(token)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            tokens.verify(forged)
    assert check.checked == [token, forged, forged]


def test_beyond_its_capacity_the_oldest_tokens_are_checked_again() -> None:
    issued = [token_for(Caller(CallerKind.CITIZEN, subject=f"04609001234{i}")) for i in range(3)]
    check = CountedCheck()
    tokens = VerifiedTokens(check, Clock(min(e for _, e in issued) - 60), capacity=2)
    for token, _ in issued:
        tokens.verify(token)
    assert [tokens.verify(t).caller.subject for t, _ in issued] == [f"04609001234{i}" for i in range(3)]
    assert len(check.checked) > 3           # the first was dropped to make room, and checked again
