"""The intermediary's signed payment notice and the rules that decide whether to believe it.

The intermediary signs `<timestamp>.<nonce>.<body>` with HMAC-SHA256 under the secret we share.
A notice is refused when the signature is wrong (forged), when its timestamp is more than
FRESHNESS away from now (stale: an old capture replayed), or when its nonce was already used by a
different notice. The exact same notice seen again is a duplicate: acknowledged, nothing changes.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.callback_signature import verify
from services.common.errors import FailedPrecondition, InvalidArgument, Unauthenticated

FRESHNESS = timedelta(seconds=300)
NONCE_MAX_LEN = 128


@dataclass(frozen=True)
class SignedCallback:
    """The callback as it arrived: the raw body and the three signature headers."""

    body: bytes
    timestamp: str
    nonce: str
    signature: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True)
class PaymentNotice:
    transaction_id: str
    merchant_ref: str
    amount_vnd: int
    paid_at: str


def authenticate(callback: SignedCallback, secret: str, now: datetime) -> PaymentNotice:
    """The notice the callback carries, once its signature and freshness are proven."""
    if not (callback.timestamp and callback.nonce and callback.signature):
        raise Unauthenticated("signature", "the timestamp, nonce and signature headers are required")
    if not verify(secret, callback.body, callback.timestamp, callback.nonce, callback.signature.strip().lower()):
        raise Unauthenticated("signature", "does not match the body under the shared secret")
    if len(callback.nonce) > NONCE_MAX_LEN:
        raise InvalidArgument("nonce", f"must be at most {NONCE_MAX_LEN} characters")
    _check_fresh(callback.timestamp, now)
    return parse_notice(callback.body)


def _check_fresh(timestamp: str, now: datetime) -> None:
    if not timestamp.isdigit():
        raise InvalidArgument("timestamp", "must be unix seconds")
    sent = datetime.fromtimestamp(int(timestamp), tz=now.tzinfo)
    if abs(now - sent) > FRESHNESS:
        raise FailedPrecondition("timestamp", f"stale: sent {sent.isoformat()}, more than "
                                              f"{int(FRESHNESS.total_seconds())} s from now")


def parse_notice(body: bytes) -> PaymentNotice:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidArgument("body", f"is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidArgument("body", "must be a JSON object")
    if data.get("status") != "SUCCESS":
        raise InvalidArgument("status", "only SUCCESS notices settle a bill")
    amount = data.get("amount_vnd")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidArgument("amount_vnd", "must be a whole number of dong")
    paid_at = _text(data, "paid_at")
    try:
        datetime.fromisoformat(paid_at)
    except ValueError as exc:
        raise InvalidArgument("paid_at", "must be an ISO-8601 time") from exc
    return PaymentNotice(_text(data, "transaction_id"), _text(data, "merchant_ref"), amount, paid_at)


def _text(data: dict[str, object], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > 128:
        raise InvalidArgument(name, "a non-empty string of at most 128 characters is required")
    return value


def is_first_use(callback: SignedCallback, digest_seen_with_nonce: str | None) -> bool:
    """True for a nonce never seen; False for this very notice seen again (a duplicate).
    A nonce seen with a different body is a replay attempt and is refused."""
    if digest_seen_with_nonce is None:
        return True
    if hmac.compare_digest(digest_seen_with_nonce, callback.digest):
        return False
    raise Unauthenticated("nonce", "already used by another notice")
