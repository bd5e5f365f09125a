"""The notifications database: contacts, notification records and events parked until the
citizen's contact is known. Documents in and out; the rules live in the domain."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.events.envelope import decode, encode
from services.common.mongo_store import Transaction
from services.notifications.domain.contacts import Channel, Contact
from services.notifications.domain.notification import FIRST_SEND_GRACE, Notification, Status

CONTACTS = "contacts"
NOTIFICATIONS = "notifications"
PARKED = "parked_events"


def ensure_indexes(db: Database[Any]) -> None:
    # One notification per (event, channel): the ID is derived from both, and this says so in the schema.
    db[NOTIFICATIONS].create_index([("event_id", ASCENDING), ("channel", ASCENDING)], unique=True)
    db[NOTIFICATIONS].create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
    db[NOTIFICATIONS].create_index([("citizen_id", ASCENDING), ("created_at", ASCENDING)])
    db[NOTIFICATIONS].create_index([("recorded_by", ASCENDING)])
    db[PARKED].create_index([("citizen_id", ASCENDING), ("parked_at", ASCENDING)])


# -- contacts -------------------------------------------------------------------------------------
def save_contact(tx: Transaction, contact: Contact) -> None:
    tx.db[CONTACTS].replace_one(
        {"_id": contact.citizen_id},
        {"full_name": contact.full_name, "phone": contact.phone, "email": contact.email,
         "channels": [c.value for c in contact.chosen_channels]},
        upsert=True, session=tx.session,
    )


def find_contact(tx: Transaction, citizen_id: str) -> Contact | None:
    doc = tx.db[CONTACTS].find_one({"_id": citizen_id}, session=tx.session)
    if doc is None:
        return None
    return Contact(citizen_id=doc["_id"], full_name=doc["full_name"], phone=doc["phone"], email=doc["email"],
                   chosen_channels=tuple(Channel(c) for c in doc["channels"]))


# -- events waiting for a contact -----------------------------------------------------------------
def park_event(tx: Transaction, citizen_id: str, event: CloudEvent, now: datetime) -> None:
    tx.db[PARKED].insert_one({"_id": event.id, "citizen_id": citizen_id, "type": event.type,
                              "body": encode(event), "parked_at": now}, session=tx.session)


def take_parked_events(tx: Transaction, citizen_id: str) -> list[CloudEvent]:
    docs = list(tx.db[PARKED].find({"citizen_id": citizen_id}, session=tx.session)
                .sort("parked_at", ASCENDING))
    if docs:
        tx.db[PARKED].delete_many({"_id": {"$in": [d["_id"] for d in docs]}}, session=tx.session)
    return [decode(d["body"]) for d in docs]


# -- notifications --------------------------------------------------------------------------------
def add_notification(tx: Transaction, n: Notification) -> None:
    tx.db[NOTIFICATIONS].insert_one(
        {"_id": n.notification_id, "citizen_id": n.citizen_id, "channel": n.channel.value,
         "recipient": n.recipient, "template": n.template, "dossier_code": n.dossier_code,
         "subject": n.subject, "body": n.body, "event_id": n.event_id, "event_type": n.event_type,
         "created_at": n.created_at, "status": n.status.value, "attempts": 0,
         "next_attempt_at": n.created_at + FIRST_SEND_GRACE,
         # The event being processed when this was recorded (a parked event is recorded while
         # processing CitizenRegistered), and the trace the NotificationSent event continues.
         "recorded_by": tx.cause.causation_id, "correlation_id": tx.cause.correlation_id,
         "traceparent": tx.cause.traceparent},
        session=tx.session,
    )


def _notification(doc: dict[str, Any]) -> Notification:
    return Notification(
        notification_id=doc["_id"], citizen_id=doc["citizen_id"], channel=Channel(doc["channel"]),
        recipient=doc["recipient"], template=doc["template"], dossier_code=doc["dossier_code"],
        subject=doc["subject"], body=doc["body"], event_id=doc["event_id"], event_type=doc["event_type"],
        created_at=doc["created_at"], status=Status(doc["status"]),
    )


def pending_ids_recorded_by(db: Database[Any], event_id: str) -> list[str]:
    query = {"recorded_by": event_id, "status": Status.PENDING.value}
    return [d["_id"] for d in db[NOTIFICATIONS].find(query, {"_id": 1})]


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


def claim(db: Database[Any], notification_id: str, now: datetime, lease_until: datetime,
          first_send: bool) -> Claim | None:
    """Take the right to send: returns the notification and attempt number, or None if someone else has it,
    it was sent already, or (for a retry) it is not due. The filter on the attempt count makes the
    claim a compare-and-set, so two senders never both win it."""
    doc = db[NOTIFICATIONS].find_one({"_id": notification_id, "status": Status.PENDING.value})
    if doc is None:
        return None
    condition: dict[str, Any] = {"_id": notification_id, "status": Status.PENDING.value,
                                 "attempts": doc["attempts"]}
    if first_send:
        condition["attempts"] = 0
    else:
        condition["next_attempt_at"] = {"$lte": now}
    won = db[NOTIFICATIONS].update_one(condition, {"$set": {"next_attempt_at": lease_until},
                                                   "$inc": {"attempts": 1}})
    if won.modified_count != 1:
        return None
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


def list_notifications(db: Database[Any], citizen_id: str, dossier_code: str,
                       limit: int = 500) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"citizen_id": citizen_id}
    if dossier_code:
        query["dossier_code"] = dossier_code
    return list(db[NOTIFICATIONS].find(query).sort("created_at", ASCENDING).limit(limit))
