"""A service's MongoDB database as a unit of work: state changes, the events they cause (outbox)
and the record that an incoming event was processed (inbox) commit in one transaction.

So a crash at any point either loses the whole change or keeps all of it with its events; and an
event delivered twice finds its inbox record and changes nothing.
"""

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.protobuf.message import Message
from pymongo import ASCENDING, MongoClient
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.events.envelope import decode, encode, new_event

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

OUTBOX = "outbox"
INBOX = "inbox"
TRACES = "trace_contexts"


def inbox_key(consumer: str, event_id: str) -> str:
    """The _id of the inbox record that `consumer` processed the event."""
    return f"{consumer}:{event_id}"


def inbox_record(consumer: str, event: CloudEvent, at: datetime) -> dict[str, Any]:
    """The inbox's record that `consumer` processed `event` (its _id is the key looked up)."""
    return {"_id": inbox_key(consumer, event.id), "type": event.type, "at": at}


class AlreadyProcessed(Exception):
    """The incoming event has an inbox record: it was processed before."""


@dataclass
class Cause:
    """What caused a transaction: carried into every event it emits."""

    correlation_id: str = ""
    causation_id: str = ""
    traceparent: str = ""


@dataclass
class Transaction:
    db: Database[Any]
    session: ClientSession
    source: str
    cause: Cause
    emitted: list[CloudEvent] = field(default_factory=list)
    # What a handler leaves for its worker to act on once the transaction has committed (the
    # notifications to send, say), so the worker need not read back what it just wrote.
    recorded: list[Any] = field(default_factory=list)

    def emit(self, payload: Message, *, subject: str, correlation_id: str = "") -> CloudEvent:
        event = new_event(
            payload,
            source=self.source,
            subject=subject,
            correlation_id=correlation_id or self.cause.correlation_id or subject,
            causation_id=self.cause.causation_id,
            traceparent=self.cause.traceparent,
        )
        event.sequence = time.time_ns()
        self.db[OUTBOX].insert_one(
            {"_id": event.id, "type": event.type, "body": encode(event), "published": False,
             "created_at": datetime.now(UTC)},
            session=self.session,
        )
        self.emitted.append(event)
        return event

    def repository(self, kind: Callable[[Database[Any], ClientSession], R]) -> R:
        """The repository `kind` bound to this transaction: how handlers build every repository, so an
        in-memory store (services/common/memory_store.py) can hand them its fakes instead."""
        return kind(self.db, self.session)

    def remember_trace(self, key: str) -> None:
        """Keep this transaction's trace context under `key` (a dossier code), for a later step that
        arrives without one: a third party's callback joins the journey's trace through it."""
        if self.cause.traceparent:
            self.db[TRACES].replace_one({"_id": key}, {"_id": key, "traceparent": self.cause.traceparent},
                                        upsert=True, session=self.session)

    def resume_trace(self, key: str) -> None:
        """Emit this transaction's events in the trace remembered under `key`, if any."""
        doc = self.db[TRACES].find_one({"_id": key}, session=self.session)
        if doc is not None:
            self.cause.traceparent = str(doc["traceparent"])

    def mark_processed(self, event: CloudEvent, consumer: str) -> None:
        try:
            self.db[INBOX].insert_one(inbox_record(consumer, event, datetime.now(UTC)), session=self.session)
        except DuplicateKeyError as exc:
            raise AlreadyProcessed(event.id) from exc


UNROUTABLE_RETRY_FIRST = timedelta(seconds=30)
UNROUTABLE_RETRY_MAX = timedelta(hours=1)


class MongoStore:
    def __init__(self, client: MongoClient[Any], db_name: str, source: str) -> None:
        self.client = client
        self.db: Database[Any] = client[db_name]
        self.source = source

    def ensure_indexes(self) -> None:
        self.db[OUTBOX].create_index([("published", ASCENDING), ("created_at", ASCENDING)])

    def transaction(self, fn: Callable[[Transaction], T], cause: Cause | None = None) -> tuple[T, list[CloudEvent]]:
        """Run fn in a transaction (retried whole on transient conflicts); return its result and
        the events it emitted, committed and ready to publish."""
        with self.client.start_session() as session:
            holder: dict[str, Transaction] = {}

            def attempt(s: ClientSession) -> T:
                tx = Transaction(self.db, s, self.source, cause or Cause())
                holder["tx"] = tx
                return fn(tx)

            result = session.with_transaction(attempt)
            return result, holder["tx"].emitted

    def mark_published(self, event_ids: list[str]) -> None:
        if event_ids:
            self.db[OUTBOX].update_many({"_id": {"$in": event_ids}},
                                        {"$set": {"published": True, "published_at": datetime.now(UTC)}})

    def unpublished(self, older_than: timedelta, limit: int = 500) -> Iterator[CloudEvent]:
        """Events left unpublished past `older_than`, oldest first; one set aside as unroutable
        (`mark_unroutable`) only once its back-off has passed."""
        now = datetime.now(UTC)
        query = {"published": False, "created_at": {"$lt": now - older_than},
                 "$or": [{"relay_not_before": {"$exists": False}}, {"relay_not_before": {"$lte": now}}]}
        for doc in self.db[OUTBOX].find(query).sort("created_at", ASCENDING).limit(limit):
            yield decode(doc["body"])

    def mark_unroutable(self, event_id: str) -> int:
        """The broker returned this event (no queue bound for its type): set it aside so the relay
        goes on with the others, and try it again after a back-off (30 s, doubling, at most an hour):
        a binding added later (a new subscriber, a topology job that ran late) still gets it.
        Returns how many times it was returned."""
        now = datetime.now(UTC)
        doc = self.db[OUTBOX].find_one({"_id": event_id}, {"unroutable_count": 1}) or {}
        count = int(doc.get("unroutable_count", 0)) + 1
        delay = min(UNROUTABLE_RETRY_FIRST * 2 ** min(count - 1, 16), UNROUTABLE_RETRY_MAX)
        self.db[OUTBOX].update_one({"_id": event_id}, {"$set": {
            "unroutable_count": count, "unroutable_at": now, "relay_not_before": now + delay}})
        return count
