"""An archived event as the index stores it: the envelope's attributes for search, its position
in the archive stream, and the envelope itself."""

from datetime import UTC, datetime
from typing import Any

from services.common.events.envelope import decode

UNDECODABLE = "(not a CloudEvent)"


def index_record(offset: int, body: bytes) -> dict[str, Any]:
    try:
        event = decode(body)
    except Exception as exc:  # kept, so a search shows it rather than the archive silently skipping it
        return {"_id": f"offset-{offset}", "type": UNDECODABLE, "source": "", "subject": "", "correlation_id": "",
                "causation_id": "", "time": datetime.now(UTC), "offset": offset, "envelope": body,
                "error": str(exc)}
    return {
        "_id": event.id,
        "type": event.type,
        "source": event.source,
        "subject": event.subject,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "time": event.time.ToDatetime(tzinfo=UTC) if event.HasField("time") else datetime.now(UTC),
        "offset": offset,
        "envelope": body,
    }
