"""Civil servants' second factor (TOTP): a code of now, or a step either side, accepted once."""

from datetime import UTC, datetime, timedelta

import pyotp

from services.identity.domain.second_factor import (
    STEP_SECONDS,
    SecondFactor,
    accepted_step,
    dismiss,
    enroll,
    provisioning_uri,
)

NOW = datetime(2026, 12, 7, 3, 0, 10, tzinfo=UTC)
STEP = int(NOW.timestamp()) // STEP_SECONDS


def code_at(factor: SecondFactor, moment: datetime) -> str:
    return pyotp.TOTP(factor.secret).at(moment)


def test_the_uri_carries_the_secret_for_an_authenticator_app() -> None:
    factor = enroll("cb-hue-001")
    uri = provisioning_uri(factor)
    assert uri.startswith("otpauth://totp/")
    assert pyotp.parse_uri(uri).secret == factor.secret


def test_a_code_of_now_or_one_step_either_side_is_accepted() -> None:
    factor = enroll("cb-hue-001")
    assert accepted_step(factor, code_at(factor, NOW), NOW) == STEP
    assert accepted_step(factor, code_at(factor, NOW - timedelta(seconds=30)), NOW) == STEP - 1
    assert accepted_step(factor, code_at(factor, NOW + timedelta(seconds=30)), NOW) == STEP + 1
    assert accepted_step(factor, code_at(factor, NOW - timedelta(seconds=90)), NOW) is None


def test_a_step_once_used_is_refused_as_is_an_earlier_one() -> None:
    factor = enroll("cb-hue-001")
    used = SecondFactor(factor.civil_servant_id, factor.secret, last_step=STEP)
    assert accepted_step(used, code_at(factor, NOW), NOW) is None
    assert accepted_step(used, code_at(factor, NOW - timedelta(seconds=30)), NOW) is None
    assert accepted_step(used, code_at(factor, NOW + timedelta(seconds=30)), NOW) == STEP + 1


def test_without_a_secret_nothing_is_accepted_and_a_dismissal_keeps_its_first_time() -> None:
    assert accepted_step(SecondFactor("cb-legacy", ""), "123456", NOW) is None
    dismissed = dismiss(enroll("cb-hue-001"), NOW)
    assert dismissed.dismissed and dismiss(dismissed, NOW + timedelta(days=1)).dismissed_at == NOW
