"""Dead letters: what a parked message carries (written by the consumer runtime, read by the
archive's dead-letter operations, services/archive/operations/dead_letters.py).

A service's consumer parks a message it could not handle after its last attempt: it publishes a
copy to `egov.dlx` (so into `egov.<service>.events.dlq`) with the headers below, then acks the
original. So the error and the attempt count travel with the message itself; nothing has to be
looked up elsewhere. A message the broker dead-lettered on its own (the consumer died on every
attempt, so nobody could write the error) is recognised by its `x-death` reason.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.common.events.envelope import decode
from services.common.topology import DELIVERY_LIMIT

ERROR_HEADER = "egov-error"
ATTEMPTS_HEADER = "egov-attempts"
FAILED_AT_HEADER = "egov-failed-at"
SERVICE_HEADER = "egov-service"
REDRIVEN_AT_HEADER = "egov-redriven-at"
ERROR_TEXT_LIMIT = 2000
# Headers describing one failed run through a queue: a re-driven message starts afresh without them.
FAILURE_HEADERS = (ERROR_HEADER, ATTEMPTS_HEADER, FAILED_AT_HEADER, SERVICE_HEADER, "x-death",
                   "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason", "x-delivery-count")


def parked_headers(headers: Mapping[str, Any], *, service: str, error: str, attempts: int) -> dict[str, Any]:
    """The headers of the copy a consumer parks: the original ones plus the failure."""
    parked = {k: v for k, v in headers.items() if k != "x-delivery-count"}
    parked.update({
        ERROR_HEADER: error[:ERROR_TEXT_LIMIT],
        ATTEMPTS_HEADER: attempts,
        FAILED_AT_HEADER: datetime.now(UTC).isoformat(timespec="milliseconds"),
        SERVICE_HEADER: service,
    })
    return parked


def redriven_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """A re-driven message's headers: the original ones, the failure and the count forgotten."""
    fresh = {k: v for k, v in headers.items() if k not in FAILURE_HEADERS}
    fresh[REDRIVEN_AT_HEADER] = datetime.now(UTC).isoformat(timespec="milliseconds")
    return fresh


@dataclass(frozen=True)
class ParkedMessage:
    event_id: str
    type: str
    subject: str
    error: str
    attempts: int
    failed_at: str           # ISO 8601, UTC; "" if unknown

    def failed_time(self) -> datetime | None:
        try:
            parsed = datetime.fromisoformat(self.failed_at)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def describe(headers: Mapping[str, Any] | None, message_id: str | None, body: bytes) -> ParkedMessage:
    headers = headers or {}
    event_id, event_type, subject = message_id or "", str(headers.get("ce_type", "")), ""
    try:
        event = decode(body)
        event_id, event_type, subject = event.id, event.type, event.subject
    except Exception:  # a body that is not an envelope is shown by its headers
        subject = "(not a CloudEvent)"
    if ERROR_HEADER in headers:
        error = _text(headers[ERROR_HEADER])
        attempts = int(headers.get(ATTEMPTS_HEADER, 0))
        failed_at = _text(headers.get(FAILED_AT_HEADER, ""))
    else:
        deaths = headers.get("x-death") or [{}]
        reason = _text(deaths[0].get("reason", "unknown"))
        error = (f"dead-lettered by the broker ({reason}): no consumer finished any attempt "
                 "(crashed or disconnected each time)" if reason == "delivery_limit"
                 else f"dead-lettered by the broker ({reason})")
        attempts = DELIVERY_LIMIT + 1 if reason == "delivery_limit" else 0
        when = deaths[0].get("time")
        failed_at = when.isoformat() if isinstance(when, datetime) else ""
    return ParkedMessage(event_id, event_type, subject, error, attempts, failed_at)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
