"""Tracking reports the postal operator sends us: who may send them, and when they count.

A report is believed only if it carries the operator's signature over its timestamp, nonce and
body; it must be fresh (within FRESHNESS of our clock, either way), and each nonce is spent once,
so a captured report cannot be played back later.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from services.common.callback_signature import verify
from services.common.errors import FailedPrecondition, InvalidArgument, Unauthenticated
from services.postal.domain.shipment import ShipmentStatus
from services.postal.domain.tracking_number import parse_tracking_number

FRESHNESS = timedelta(seconds=300)
HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
NONCE = re.compile(r"[0-9A-Za-z_-]{8,128}")
MAX_BODY_BYTES = 16 * 1024

# The operator's own words for the stages of a delivery.
OPERATOR_STATUSES: Mapping[str, ShipmentStatus] = {
    "PICKED_UP": ShipmentStatus.PICKED_UP,
    "IN_TRANSIT": ShipmentStatus.IN_TRANSIT,
    "DELIVERED": ShipmentStatus.DELIVERED,
    "FAILED": ShipmentStatus.FAILED,
}


@dataclass(frozen=True)
class StatusReport:
    tracking_number: str
    reference: str
    status: ShipmentStatus
    at: str
    location: str
    nonce: str


class NonceLedger(Protocol):
    def spend(self, nonce: str, at: datetime) -> bool:
        """Record the nonce; False if it was recorded before."""


def authenticate(secret: str, body: bytes, *, timestamp: str, nonce: str, signature: str,
                 now: datetime) -> StatusReport:
    """The report in `body` if the operator signed it recently; raises otherwise and changes nothing."""
    if not timestamp or not nonce or not signature:
        raise Unauthenticated("signature", "the timestamp, nonce and signature headers are required")
    if HEX_SIGNATURE.fullmatch(signature) is None or NONCE.fullmatch(nonce) is None:
        raise Unauthenticated("signature", "malformed signature or nonce")
    if not verify(secret, body, timestamp, nonce, signature):
        raise Unauthenticated("signature", "does not match the body")
    # Checked only once signed, so a forger learns nothing about our clock or our parser.
    if not timestamp.isdigit():
        raise InvalidArgument("timestamp", "must be whole seconds since the epoch")
    signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    if abs(now - signed_at) > FRESHNESS:
        raise FailedPrecondition("timestamp", f"more than {FRESHNESS.seconds} s away from our clock")
    return parse_report(body, nonce)


def spend_nonce(ledger: NonceLedger, report: StatusReport, now: datetime) -> None:
    if not ledger.spend(report.nonce, now):
        raise FailedPrecondition("nonce", "already used: a report is accepted once")


def parse_report(body: bytes, nonce: str) -> StatusReport:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidArgument("body", f"larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidArgument("body", "not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidArgument("body", "must be a JSON object")
    status = OPERATOR_STATUSES.get(_text(data, "status"))
    if status is None:
        raise InvalidArgument("status", f"one of {', '.join(OPERATOR_STATUSES)}")
    return StatusReport(
        tracking_number=parse_tracking_number(_text(data, "tracking_number")),
        reference=_text(data, "reference"),
        status=status,
        at=_instant(_text(data, "at")),
        location=str(data.get("location") or "")[:200],
        nonce=nonce,
    )


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(name, "a non-empty string is required")
    return value


def _instant(value: str) -> str:
    """The time as ISO 8601 in UTC; the operator must say which zone it means."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidArgument("at", "not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        raise InvalidArgument("at", "needs a UTC offset")
    return parsed.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
