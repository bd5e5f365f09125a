"""The notifications database: contacts, notification records and events parked until the
citizen's contact is known. Documents in and out; the rules live in the domain."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import PyMongoError

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.events.envelope import decode, encode
from services.common.mongo_store import Cause, Transaction
from services.notifications.domain.contacts import Channel, Contact
from services.notifications.domain.notification import FIRST_SEND_LEASE, Notification, Status

CONTACTS = "contacts"
NOTIFICATIONS = "notifications"
PARKED = "parked_events"
DROPPED_INDEXES = ("event_id_1_channel_1", "recorded_by_1")
LIST_LIMIT = 500      # the most notifications one listing returns


def ensure_indexes(db: Database[Any]) -> None:
    # One notification per (event, channel): the ID (_id) is derived from both. Every index is written
    # on each insert and kept on each update, so only the retry sweep's and the citizen's list have one.
    db[NOTIFICATIONS].create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
    db[NOTIFICATIONS].create_index([("citizen_id", ASCENDING), ("created_at", ASCENDING)])
    existing = db[NOTIFICATIONS].index_information()
    for name in DROPPED_INDEXES:   # (event, channel) repeated the _id; recorded_by served a query now gone
        if name in existing:
            db[NOTIFICATIONS].drop_index(name)
    db[PARKED].create_index([("citizen_id", ASCENDING), ("parked_at", ASCENDING)])


class NotificationRecords:
    """Contacts, parked events and notification records, as the event handlers use them (through
    `tx.repository`, so a handler test gets the in-memory twin, services/notifications/fakes.py)."""

    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    # -- contacts ---------------------------------------------------------------------------------
    def save_contact(self, contact: Contact) -> None:
        self._db[CONTACTS].replace_one(
            {"_id": contact.citizen_id},
            {"full_name": contact.full_name, "phone": contact.phone, "email": contact.email,
             "channels": [c.value for c in contact.chosen_channels]},
            upsert=True, session=self._session,
        )

    def find_contact(self, citizen_id: str) -> Contact | None:
        doc = self._db[CONTACTS].find_one({"_id": citizen_id}, session=self._session)
        if doc is None:
            return None
        return Contact(citizen_id=doc["_id"], full_name=doc["full_name"], phone=doc["phone"], email=doc["email"],
                       chosen_channels=tuple(Channel(c) for c in doc["channels"]))

    # -- events waiting for a contact -------------------------------------------------------------
    def park_event(self, citizen_id: str, event: CloudEvent, now: datetime) -> None:
        self._db[PARKED].insert_one({"_id": event.id, "citizen_id": citizen_id, "type": event.type,
                                     "body": encode(event), "parked_at": now}, session=self._session)

    def take_parked_events(self, citizen_id: str) -> list[CloudEvent]:
        docs = list(self._db[PARKED].find({"citizen_id": citizen_id}, session=self._session)
                    .sort("parked_at", ASCENDING))
        if docs:
            self._db[PARKED].delete_many({"_id": {"$in": [d["_id"] for d in docs]}}, session=self._session)
        return [decode(d["body"]) for d in docs]

    # -- notifications ----------------------------------------------------------------------------
    def add_notification(self, n: Notification, cause: Cause) -> None:
        self._db[NOTIFICATIONS].insert_one(
            {"_id": n.notification_id, "citizen_id": n.citizen_id, "channel": n.channel.value,
             "recipient": n.recipient, "template": n.template, "dossier_code": n.dossier_code,
             "subject": n.subject, "body": n.body, "event_id": n.event_id, "event_type": n.event_type,
             # Claimed by the recording worker (attempt 1) until the lease ends: it sends it after commit
             # with no claim of its own (Transaction.recorded); the retry sweep takes it after that.
             "created_at": n.created_at, "status": n.status.value, "attempts": 1,
             "next_attempt_at": n.created_at + FIRST_SEND_LEASE,
             # The event being processed when this was recorded (a parked event is recorded while
             # processing CitizenRegistered), and the trace the NotificationSent event continues.
             "recorded_by": cause.causation_id, "correlation_id": cause.correlation_id,
             "traceparent": cause.traceparent},
            session=self._session,
        )

    def notifications_of(self, citizen_id: str, dossier_code: str = "", limit: int = LIST_LIMIT) -> list[Notification]:
        """A citizen's notifications (about `dossier_code` only, if one is named), oldest first, at most `limit`."""
        query: dict[str, Any] = {"citizen_id": citizen_id}
        if dossier_code:
            query["dossier_code"] = dossier_code
        docs = self._db[NOTIFICATIONS].find(query, session=self._session)
        return [_notification(d) for d in docs.sort([("created_at", ASCENDING), ("_id", ASCENDING)]).limit(limit)]


# The service layer's calls: each builds the records through the transaction.
def save_contact(tx: Transaction, contact: Contact) -> None:
    tx.repository(NotificationRecords).save_contact(contact)


def find_contact(tx: Transaction, citizen_id: str) -> Contact | None:
    return tx.repository(NotificationRecords).find_contact(citizen_id)


def park_event(tx: Transaction, citizen_id: str, event: CloudEvent, now: datetime) -> None:
    tx.repository(NotificationRecords).park_event(citizen_id, event, now)


def take_parked_events(tx: Transaction, citizen_id: str) -> list[CloudEvent]:
    return tx.repository(NotificationRecords).take_parked_events(citizen_id)


@dataclass(frozen=True)
class Recorded:
    """A notification recorded in a transaction, with the cause its NotificationSent continues:
    what the recording worker sends once the transaction has committed (Transaction.recorded)."""

    notification: Notification
    correlation_id: str
    traceparent: str


def add_notification(tx: Transaction, n: Notification) -> None:
    tx.repository(NotificationRecords).add_notification(n, tx.cause)
    tx.recorded.append(Recorded(n, tx.cause.correlation_id, tx.cause.traceparent))


def _notification(doc: dict[str, Any]) -> Notification:
    return Notification(
        notification_id=doc["_id"], citizen_id=doc["citizen_id"], channel=Channel(doc["channel"]),
        recipient=doc["recipient"], template=doc["template"], dossier_code=doc["dossier_code"],
        subject=doc["subject"], body=doc["body"], event_id=doc["event_id"], event_type=doc["event_type"],
        created_at=doc["created_at"], status=Status(doc["status"]), sent_at=doc.get("sent_at"),
    )


def due_ids(db: Database[Any], now: datetime, limit: int) -> list[str]:
    cursor = db[NOTIFICATIONS].find({"status": Status.PENDING.value, "next_attempt_at": {"$lte": now}},
                                    {"_id": 1}).sort("next_attempt_at", ASCENDING).limit(limit)
    return [d["_id"] for d in cursor]


@dataclass(frozen=True)
class Claim:
    notification: Notification
    attempt: int
    correlation_id: str
    traceparent: str


def claim(db: Database[Any], notification_id: str, now: datetime, lease_until: datetime) -> Claim | None:
    """Take the right to retry: returns the notification and attempt number, or None if someone else
    has it, it was sent already, or it is not due.

    In a transaction, so a conflict gives way at once: a plain write to a record that an open
    transaction holds waits for that transaction to end, and the one a SIGKILLed sender left open
    ends only when the server reaps it (SecantusDB reaps only when a transaction statement next
    arrives), which would hold up every sweep behind it. The filter on the attempt count keeps the
    claim a compare-and-set, so two senders never both win it."""
    with db.client.start_session() as session:
        try:
            with session.start_transaction():
                doc = db[NOTIFICATIONS].find_one({"_id": notification_id, "status": Status.PENDING.value,
                                                  "next_attempt_at": {"$lte": now}}, session=session)
                if doc is None:
                    return None
                won = db[NOTIFICATIONS].update_one(
                    {"_id": notification_id, "status": Status.PENDING.value, "attempts": doc["attempts"]},
                    {"$set": {"next_attempt_at": lease_until}, "$inc": {"attempts": 1}}, session=session)
                if won.modified_count != 1:
                    return None
        except PyMongoError as exc:
            if exc.has_error_label("TransientTransactionError") or \
                    exc.has_error_label("UnknownTransactionCommitResult"):
                return None   # held by another sender's transaction: the next sweep tries again
            raise
    return Claim(_notification(doc), int(doc["attempts"]) + 1, doc.get("correlation_id", ""),
                 doc.get("traceparent", ""))


def mark_sent(tx: Transaction, notification_id: str, provider_message_id: str, now: datetime) -> bool:
    result = tx.db[NOTIFICATIONS].update_one(
        {"_id": notification_id, "status": Status.PENDING.value},
        {"$set": {"status": Status.SENT.value, "sent_at": now, "provider_message_id": provider_message_id},
         "$unset": {"next_attempt_at": ""}},
        session=tx.session,
    )
    return result.modified_count == 1


def mark_failed(db: Database[Any], notification_id: str, error: str, now: datetime) -> None:
    db[NOTIFICATIONS].update_one(
        {"_id": notification_id, "status": Status.PENDING.value},
        {"$set": {"status": Status.FAILED.value, "failed_at": now, "last_error": error},
         "$unset": {"next_attempt_at": ""}},
    )


def schedule_retry(db: Database[Any], notification_id: str, error: str, at: datetime) -> None:
    db[NOTIFICATIONS].update_one({"_id": notification_id, "status": Status.PENDING.value},
                                 {"$set": {"next_attempt_at": at, "last_error": error}})

