"""Sessions and their revocation, per account.

Every token carries the session epoch its account was in when it was issued (claim `sep`). Revoking
an account's sessions (the owner recovered it, a civil servant was dismissed, a second factor reset)
raises the epoch by one; until every token of an earlier epoch has expired (now + the token
lifetime), the account is on the revocation list the gateways poll, and they refuse those tokens.
The epoch only ever grows, so a later revocation never revives an earlier epoch's tokens.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.common.caller import Caller, CallerKind


@dataclass(frozen=True)
class Revocation:
    account: str            # Caller.actor: "citizen:<ID>", "civil_servant:<ID>"
    min_epoch: int          # tokens of a lower epoch are refused
    until: datetime         # after this, no token of a lower epoch can still be unexpired


@dataclass(frozen=True)
class AccessToken:
    """A signed-in session: the token the gateway verifies without a call, and when it expires."""

    token: str = field(repr=False)
    expires_at: datetime


def account_of(kind: CallerKind, subject: str) -> str:
    return Caller(kind, subject=subject).actor


def revocation_end(now: datetime, token_lifetime: timedelta) -> datetime:
    """When the last token issued up to `now` expires: the entry is of no use after that."""
    return now + token_lifetime
