"""Access tokens at the gateway: key ids and rotation without logging anyone out, the audience, and
revoked sessions (issue 12, item 9)."""

from datetime import timedelta

import jwt
import pytest

from gateway.revocations import RevocationList, entries_of
from services.common.caller import Caller, CallerKind
from services.common.errors import Unauthenticated
from services.common.tokens import (
    AUDIENCE,
    TokenKeys,
    generate_key_pair,
    issue_token,
    key_id,
    load_public_key,
    verify_access_token,
)

CITIZEN = Caller(CallerKind.CITIZEN, subject="046090012345")
OLD_PRIVATE, OLD_PUBLIC = generate_key_pair()
NEW_PRIVATE, NEW_PUBLIC = generate_key_pair()


def refused(keys: TokenKeys, token: str) -> str:
    with pytest.raises(Unauthenticated) as failed:
        verify_access_token(keys, token)
    return str(failed.value)


def test_a_token_names_its_key_and_its_audience() -> None:
    token, _ = issue_token(OLD_PRIVATE, CITIZEN, timedelta(minutes=5), epoch=3)
    assert jwt.get_unverified_header(token)["kid"] == key_id(load_public_key(OLD_PUBLIC))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["aud"], claims["sep"], claims["amr"]) == (AUDIENCE, 3, ["pwd"])
    verified = verify_access_token(TokenKeys.from_pem(OLD_PUBLIC), token)
    assert (verified.caller, verified.epoch) == (CITIZEN, 3)


def test_a_rotation_logs_nobody_out() -> None:
    """Step 1: gateways trust the old and the new key (one file, two PEM blocks). Step 2: identity signs
    with the new one; tokens signed before still verify. Step 3, a token lifetime later: the old key goes."""
    before, _ = issue_token(OLD_PRIVATE, CITIZEN, timedelta(minutes=5))
    during = TokenKeys.from_pem(OLD_PUBLIC + NEW_PUBLIC)
    after_switch, _ = issue_token(NEW_PRIVATE, CITIZEN, timedelta(minutes=5))
    assert verify_access_token(during, before).caller == CITIZEN
    assert verify_access_token(during, after_switch).caller == CITIZEN
    retired = TokenKeys.from_pem(NEW_PUBLIC)
    assert verify_access_token(retired, after_switch).caller == CITIZEN
    assert "signed with a key this gateway does not hold" in refused(retired, before)


def test_a_token_for_another_audience_or_with_a_forged_signature_is_refused() -> None:
    keys = TokenKeys.from_pem(OLD_PUBLIC)
    other = jwt.encode({"iss": "egov-identity", "aud": "another-system", "sub": "046090012345",
                        "kind": CallerKind.CITIZEN.value, "iat": 1, "exp": 4102444800},
                       load_private(OLD_PRIVATE), algorithm="EdDSA",
                       headers={"kid": key_id(load_public_key(OLD_PUBLIC))})
    assert "Audience doesn't match" in refused(keys, other)
    # Signed by an attacker's key under the real key's id.
    forged, _ = issue_token(NEW_PRIVATE, CITIZEN, timedelta(minutes=5))
    _, payload, signature = forged.split(".")
    real_kid = jwt.utils.base64url_encode(
        ('{"alg":"EdDSA","kid":"' + key_id(load_public_key(OLD_PUBLIC)) + '","typ":"JWT"}').encode()).decode()
    assert "Signature verification failed" in refused(keys, f"{real_kid}.{payload}.{signature}")
    no_kid = jwt.encode({"iss": "egov-identity", "aud": AUDIENCE, "sub": "x", "kind": CallerKind.CITIZEN.value,
                         "iat": 1, "exp": 4102444800}, load_private(OLD_PRIVATE), algorithm="EdDSA")
    assert "signed with a key this gateway does not hold" in refused(keys, no_kid)


def test_a_revoked_sessions_tokens_are_refused_and_later_ones_are_not() -> None:
    revocations = RevocationList()
    revocations.check(CITIZEN, 0)
    revocations.replace(entries_of({"revocations": [{"account": CITIZEN.actor, "min_epoch": 1,
                                                      "until": "2026-12-07T04:00:00Z"}]}))
    with pytest.raises(Unauthenticated) as failed:
        revocations.check(CITIZEN, 0)
    assert str(failed.value) == "authorization: this session was revoked: sign in again"
    revocations.check(CITIZEN, 1)
    revocations.check(Caller(CallerKind.CIVIL_SERVANT, subject="046090012345"), 0)   # another account


def load_private(pem: bytes):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, password=None)
