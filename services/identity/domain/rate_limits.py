"""How often one person may be sent a code, and how often one source may ask: fixed windows counted
per key. Counting happens before the population database is asked, and the same way whether or not
the person exists, so a refusal tells nothing about anyone.

A window is `(limit, key, index)` with index = seconds since the epoch // window length; its count
lives until the window ends. Pure: the adapter keeps the counts.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.common.caller import Caller, CallerKind
from services.common.errors import ResourceExhausted


@dataclass(frozen=True)
class Limit:
    name: str                # what is counted, e.g. "code-person"
    max_count: int
    window: timedelta

    def window_of(self, key: str, now: datetime) -> tuple[str, datetime]:
        """(counter id, when the window ends) for `key` at `now`. The key is hashed: a counter's id
        must not carry a citizen ID or an address in clear."""
        seconds = int(self.window.total_seconds())
        index = int(now.timestamp()) // seconds
        hashed = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{self.name}:{hashed}:{index}", datetime.fromtimestamp((index + 1) * seconds, UTC)


@dataclass(frozen=True)
class CodePolicy:
    """Codes a person may be sent, and codes one source may ask for, per window."""

    per_person: tuple[Limit, ...] = (Limit("code-person-10m", 3, timedelta(minutes=10)),
                                     Limit("code-person-1d", 10, timedelta(days=1)))
    # Per client address: generous, because carrier-grade NAT puts many people behind one address;
    # the per-person limits are what protect a person.
    per_address: tuple[Limit, ...] = (Limit("code-address-1h", 30, timedelta(hours=1)),)
    # Per civil servant or agency system registering people at a counter.
    per_agent: tuple[Limit, ...] = (Limit("code-agent-1h", 300, timedelta(hours=1)),)

    def for_source(self, caller: Caller, address: str) -> tuple[tuple[Limit, ...], str]:
        """The limits on whoever asks, and their key; no limits for an operator."""
        if caller.kind is CallerKind.ANONYMOUS:
            return self.per_address, f"address:{address or 'unknown'}"
        if caller.kind is CallerKind.OPERATOR:
            return (), ""
        return self.per_agent, caller.actor


def over_limit(limit: Limit, count: int, window_ends: datetime, field: str, who: str) -> ResourceExhausted | None:
    """The refusal when `count` (this request included) exceeds the limit, else None."""
    if count <= limit.max_count:
        return None
    return ResourceExhausted(field, f"too many one-time codes asked for {who}: at most {limit.max_count} per "
                                    f"{_span(limit.window)}; try again after {window_ends:%Y-%m-%dT%H:%M:%SZ}")


def _span(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day(s)"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour(s)"
    return f"{seconds // 60} minutes"
