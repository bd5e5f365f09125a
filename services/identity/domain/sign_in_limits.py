"""Progressive delay on failed sign-ins, and why it cannot lock a person out for long.

Failed sign-ins are counted under three keys, and each key earns its own wait before the next
password is even checked (so a waiting caller costs no scrypt):

| key                          | free failures | then a wait of       | at most    |
|------------------------------|---------------|----------------------|------------|
| account and client address   | 3             | 1 s, doubling        | 15 minutes |
| client address (any account) | 20            | 1 s, doubling        | 15 minutes |
| account (any address)        | 10            | 1 s, doubling        | 30 seconds |

The guesser's own address is slowed hard (15 minutes between tries after a dozen failures). Across
addresses an account's wait never exceeds 30 s: an attacker with many addresses can slow the owner to
one try per 30 s while they keep at it, never lock them out; and the guessing they can do is bounded
to 2 tries a minute per account. Failures are counted for the ID typed whether or not an account has
it, so a wait says nothing about who is registered. A success clears the account's counts; so does a
recovery (which also revokes every session). Counts are forgotten an hour after the last failure.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.errors import ResourceExhausted


@dataclass(frozen=True)
class Backoff:
    scope: str
    free: int                 # failures with no wait
    cap: timedelta
    base: timedelta = timedelta(seconds=1)

    def wait(self, failures: int, last_failure: datetime | None, now: datetime) -> timedelta:
        """How long from `now` before the next try; zero when it may go ahead."""
        if failures < self.free or last_failure is None:
            return timedelta(0)
        doubling = min(failures - self.free, 30)     # 2**30 s is far past any cap
        delay = min(self.base * (2 ** doubling), self.cap)
        return max(timedelta(0), last_failure + delay - now)


ACCOUNT_AND_ADDRESS = Backoff("account-address", free=3, cap=timedelta(minutes=15))
ADDRESS = Backoff("address", free=20, cap=timedelta(minutes=15))
ACCOUNT = Backoff("account", free=10, cap=timedelta(seconds=30))
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Counted:
    backoff: Backoff
    key: str                 # hashed: no ID or address in clear in the database


def counted_keys(account: str, address: str) -> list[Counted]:
    """The keys a sign-in to `account` from `address` counts under ("" address: the call did not come
    through the gateway's public port, so only the account is counted)."""
    keys = [Counted(ACCOUNT, _hashed("account", account))]
    if address:
        keys += [Counted(ACCOUNT_AND_ADDRESS, _hashed("account-address", f"{account}|{address}")),
                 Counted(ADDRESS, _hashed("address", address))]
    return keys


def cleared_keys(account: str, address: str = "") -> list[str]:
    """What a success (from `address`) or a recovery clears: the account's counts, not the address's
    own count over every account."""
    keys = [_hashed("account", account)]
    if address:
        keys.append(_hashed("account-address", f"{account}|{address}"))
    return keys


def refusal(wait: timedelta) -> ResourceExhausted:
    seconds = max(1, int(wait.total_seconds() + 0.999))
    return ResourceExhausted("password", f"too many failed sign-ins: try again in {seconds} s")


def _hashed(scope: str, value: str) -> str:
    return f"{scope}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"
