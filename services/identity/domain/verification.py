"""Proof of possession: a one-time code that the national population database sends to the phone or
e-mail address it holds for a person, which they type back to register or to recover their account.

A verification is stored whatever the database answered. When it did not send the code (unknown ID,
other name or birth date, deceased, no contact on file) the stored digest is of a code nobody ever
saw, so the verification fails later exactly as a wrong code does: every failed check gets the same
answer, and nothing here tells who is in the population database. The code itself is never stored
(only a salted HMAC), logged or put in an event.
"""

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from services.common.errors import InvalidArgument

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)     # NIST SP 800-63B: an out-of-band secret lives 10 minutes at most
MAX_CODE_ATTEMPTS = 5                     # wrong codes before the verification is spent

CODE_SENT_NOTICE = ("If these details match a person in the national population database, a one-time code "
                    "has been sent to the phone, or failing that the e-mail address, that the database holds "
                    f"for them. It is valid for {CODE_LIFETIME.seconds // 60} minutes.")
REFUSED = ("is wrong or has expired, or the details differ from those the code was asked for; "
           "ask for a new code")


class Purpose(StrEnum):
    REGISTRATION = "REGISTRATION"
    ACCOUNT_RECOVERY = "ACCOUNT_RECOVERY"


def purpose_named(name: str) -> Purpose:
    if name not in Purpose.__members__:
        raise InvalidArgument("purpose", "must be REGISTRATION or ACCOUNT_RECOVERY")
    return Purpose[name]


@dataclass(frozen=True)
class Verification:
    verification_id: str
    purpose: Purpose
    citizen_id: str
    full_name: str
    birth_date: str          # YYYY-MM-DD
    code_digest: str         # HMAC-SHA-256 of the code under `salt`
    salt: str
    expires_at: datetime
    attempts: int = 0
    used: bool = False


def digest(code: str, salt: str) -> str:
    return hmac.new(bytes.fromhex(salt), code.encode(), hashlib.sha256).hexdigest()


def issue(verification_id: str, purpose: Purpose, citizen_id: str, full_name: str, birth_date: str,
          code: str, salt: str, now: datetime) -> Verification:
    return Verification(verification_id=verification_id, purpose=purpose, citizen_id=citizen_id,
                        full_name=full_name, birth_date=birth_date, code_digest=digest(code, salt), salt=salt,
                        expires_at=now + CODE_LIFETIME)


def code_accepted(verification: Verification, purpose: Purpose, citizen_id: str, full_name: str,
                  birth_date: str, code: str, now: datetime) -> bool:
    """True only for an unspent, unexpired verification of this purpose and person, and its code."""
    live = (not verification.used and verification.attempts < MAX_CODE_ATTEMPTS and now < verification.expires_at)
    same = (verification.purpose is purpose and verification.citizen_id == citizen_id
            and verification.full_name.casefold() == full_name.casefold() and verification.birth_date == birth_date)
    # Compared even when already refused above, so a refusal takes the same time whatever its reason.
    matches = hmac.compare_digest(verification.code_digest, digest(code, verification.salt))
    return live and same and matches


def refused() -> InvalidArgument:
    """The one answer for a code that does not prove possession, whatever the reason."""
    return InvalidArgument("verification_code", REFUSED)


def spent(verification: Verification) -> Verification:
    return replace(verification, used=True)
