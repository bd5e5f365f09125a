"""Reading the archive: search, show, export (NDJSON) and tail (following new events)."""

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError

from services.archive.domain.query import EventQuery
from services.archive.ports import Doc, EventArchive
from services.common.errors import InvalidArgument, NotFound
from services.common.events.envelope import decode, unpack

EXPORT_FORMAT = "egov-events-export/1"


def event_row(doc: Doc) -> dict[str, Any]:
    """JSON: id, type, source, subject, correlation_id, causation_id, time, offset."""
    return {"id": doc["_id"], "type": doc["type"], "source": doc["source"], "subject": doc["subject"],
            "correlation_id": doc.get("correlation_id", ""), "causation_id": doc.get("causation_id", ""),
            "time": doc["time"], "offset": doc["offset"]}


def search(archive: EventArchive, query: EventQuery, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The newest `limit` matching events, and how many match in all."""
    return [event_row(d) for d in archive.search(query, limit)], archive.count(query)


def show(archive: EventArchive, event_id: str) -> dict[str, Any]:
    """JSON: the envelope's attributes, archive_offset, and data (the payload as JSON)."""
    doc = archive.get(event_id)
    if doc is None:
        raise NotFound("event_id", f"no archived event with id {event_id}")
    event = decode(bytes(doc["envelope"]))
    try:
        data = MessageToDict(unpack(event), preserving_proto_field_name=True)
    except ValueError as exc:
        raise InvalidArgument("data", f"the payload cannot be decoded: {exc}") from None
    return {"id": event.id, "type": event.type, "source": event.source, "subject": event.subject,
            "time": event.time.ToJsonString(), "correlation_id": event.correlation_id,
            "causation_id": event.causation_id, "traceparent": event.traceparent, "spec_version": event.spec_version,
            "data_content_type": event.data_content_type, "sequence": event.sequence,
            "archive_offset": doc["offset"], "data": data}


def export(archive: EventArchive, query: EventQuery, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every matching event in stream order: the event row and its envelope (base64): one NDJSON
    line each, what `replay --from-file` reads back."""
    after = -1
    while page := archive.in_order(query, after, batch):
        for doc in page:
            yield {**event_row(doc), "envelope": base64.b64encode(bytes(doc["envelope"])).decode("ascii")}
        after = page[-1]["offset"]


def read_export(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Rows of an export file, checked: each needs id, type, offset and an envelope that decodes."""
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            envelope = base64.b64decode(row["envelope"], validate=True)
            event = decode(envelope)
            rows.append({"id": event.id, "type": event.type, "source": event.source, "subject": event.subject,
                         "offset": int(row["offset"]), "envelope": envelope})
        except (ValueError, KeyError, TypeError, DecodeError) as exc:
            raise InvalidArgument("from_file", f"line {number} is not an exported event: {exc}") from None
    return sorted(rows, key=lambda r: r["offset"])


def tail(archive: EventArchive, query: EventQuery, last: int) -> tuple[list[dict[str, Any]], int]:
    """The last `last` matching events in stream order, and the offset to follow from."""
    newest = archive.search(query, last) if last else []
    after = archive.position()
    rows = sorted((event_row(d) for d in newest), key=lambda r: r["offset"])
    return rows, max([after if after is not None else -1, *(r["offset"] for r in rows)])


def follow(archive: EventArchive, query: EventQuery, after: int, *, sleep: Callable[[float], None],
           keep_going: Callable[[], bool], poll: float = 0.5) -> Iterator[dict[str, Any]]:
    """Events archived after offset `after`, as they are indexed, until `keep_going()` is false."""
    while keep_going():
        page = archive.in_order(query, after, 500)
        for doc in page:
            yield event_row(doc)
        if page:
            after = page[-1]["offset"]
        else:
            sleep(poll)


def when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")
