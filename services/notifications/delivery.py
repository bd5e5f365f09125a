"""Sending recorded notifications, outside any transaction.

Order of effects for one notification: recorded PENDING (with the event, in the inbox
transaction) -> claimed (a compare-and-set on the attempt count, so one sender at a time) ->
handed to the provider with its idempotency key -> marked SENT with a NotificationSent event.
A crash after the provider took the message but before SENT was recorded leads to one more send
with the same key (Message-ID, client_ref), which the provider recognises: the citizen gets one message.
"""

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pymongo.database import Database

from egov.common.v1 import caller_pb2
from egov.notifications.v1.events_pb2 import NotificationSent
from services.common.mongo_store import Cause, Transaction
from services.notifications.adapters import repository
from services.notifications.adapters.providers import Sender, SendFailed
from services.notifications.domain.contacts import Channel
from services.notifications.domain.notification import SEND_LEASE, gives_up, retry_delay

log = logging.getLogger(__name__)
T = TypeVar("T")

_WIRE_CHANNEL = {
    Channel.EMAIL: caller_pb2.NOTIFICATION_CHANNEL_EMAIL,
    Channel.SMS: caller_pb2.NOTIFICATION_CHANNEL_SMS,
    Channel.PUSH: caller_pb2.NOTIFICATION_CHANNEL_PUSH,
}


class Store(Protocol):
    db: Database[Any]

    def transaction(self, fn: Callable[[Transaction], T], cause: Cause | None = None) -> T: ...


Senders = Mapping[Channel, Sender]


def send_recorded_by(store: Store, senders: Senders, event_id: str) -> int:
    """First attempt at what processing `event_id` recorded; returns how many were sent."""
    ids = repository.pending_ids_recorded_by(store.db, event_id)
    return sum(deliver(store, senders, nid, first_send=True) for nid in ids)


def send_due(store: Store, senders: Senders, limit: int = 100) -> int:
    """Retry what is due: first sends a crashed worker left behind, and failed sends after back-off."""
    ids = repository.due_ids(store.db, datetime.now(UTC), limit)
    return sum(deliver(store, senders, nid, first_send=False) for nid in ids)


def deliver(store: Store, senders: Senders, notification_id: str, *, first_send: bool) -> bool:
    now = datetime.now(UTC)
    claim = repository.claim(store.db, notification_id, now, now + SEND_LEASE, first_send)
    if claim is None:
        return False
    n = claim.notification
    try:
        provider_message_id = senders[n.channel].send(n)
    except SendFailed as exc:
        if exc.permanent or gives_up(claim.attempt):
            log.warning("notification %s (%s) failed for good after %d attempts: %s",
                        n.notification_id, n.channel.value, claim.attempt, exc)
            repository.mark_failed(store.db, n.notification_id, str(exc), datetime.now(UTC))
        else:
            retry_at = datetime.now(UTC) + retry_delay(claim.attempt)
            log.info("notification %s (%s) attempt %d failed, retry at %s: %s",
                     n.notification_id, n.channel.value, claim.attempt, retry_at.isoformat(), exc)
            repository.schedule_retry(store.db, n.notification_id, str(exc), retry_at)
        return False

    def record_sent(tx: Transaction) -> None:
        if repository.mark_sent(tx, n.notification_id, provider_message_id, datetime.now(UTC)):
            tx.emit(NotificationSent(notification_id=n.notification_id, citizen_id=n.citizen_id,
                                     channel=_WIRE_CHANNEL[n.channel], template=n.template,
                                     dossier_code=n.dossier_code, cause_event_id=n.event_id),
                    subject=n.dossier_code or n.citizen_id)

    cause = Cause(correlation_id=claim.correlation_id, causation_id=n.event_id, traceparent=claim.traceparent)
    store.transaction(record_sent, cause)
    return True
