"""Civil servants' second factor: a time-based one-time password (TOTP, RFC 6238: 6 digits, 30-second
steps, SHA-1, the settings every authenticator app reads from an otpauth:// URI), and whether the
civil servant may still sign in at all (a dismissed one may not).

Enrolled by an operator when the civil servant is registered or their factor reset: the URI is shown
once, to be scanned at the onboarding desk, and never again. A code is accepted for its own step and
the one either side (clock drift), and each step only once: a code seen over a shoulder or replayed
from a log does not sign anyone in again (NIST SP 800-63B, single-factor OTP verifiers).
"""

import hmac
from dataclasses import dataclass, replace
from datetime import datetime

import pyotp

STEP_SECONDS = 30
DRIFT_STEPS = 1
ISSUER = "Dịch vụ công Thừa Thiên Huế"


@dataclass(frozen=True)
class SecondFactor:
    civil_servant_id: str
    secret: str                  # base32; "" when none is enrolled (only a dismissal recorded)
    last_step: int = -1          # the last time step a code was accepted for
    dismissed_at: datetime | None = None

    @property
    def enrolled(self) -> bool:
        return bool(self.secret)

    @property
    def dismissed(self) -> bool:
        return self.dismissed_at is not None


def enroll(civil_servant_id: str, secret: str | None = None) -> SecondFactor:
    return SecondFactor(civil_servant_id, secret or pyotp.random_base32())


def provisioning_uri(factor: SecondFactor) -> str:
    return pyotp.TOTP(factor.secret).provisioning_uri(name=factor.civil_servant_id, issuer_name=ISSUER)


def accepted_step(factor: SecondFactor, code: str, now: datetime) -> int | None:
    """The time step `code` is valid for, if it is and that step was not used before; else None."""
    if not factor.enrolled:
        return None
    totp = pyotp.TOTP(factor.secret)
    current = int(now.timestamp()) // STEP_SECONDS
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code) and step > factor.last_step:
            found = step
    return found


def dismiss(factor: SecondFactor, now: datetime) -> SecondFactor:
    return replace(factor, dismissed_at=factor.dismissed_at or now)
