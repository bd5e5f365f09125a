"""Sending recorded notifications, outside any transaction.

Order of effects for one notification: recorded PENDING and claimed by the recording worker
(attempt 1, until FIRST_SEND_LEASE ends; with the event, in the inbox transaction) -> handed to the
provider with its idempotency key by that worker, from memory, right after commit -> marked SENT
with a NotificationSent event (an event's messages in one transaction, once all were handed over).
What is still PENDING when its lease ends (a worker that crashed, a send that failed and waits its
back-off) is claimed by the retry sweep (a compare-and-set on the attempt count, so one sender at a
time; in a transaction, so a record a dead sender's open transaction holds is passed over, not
waited on) and sent again.
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


def send_recorded(store: Store, senders: Senders, recorded: list[repository.Recorded]) -> int:
    """First attempt at what this worker's transaction recorded, from memory: recorded as claimed
    by this worker (attempt 1), so nothing is read back and nothing more is claimed. What was sent
    is recorded in one transaction per cause (an event's e-mail and SMS together: one commit)."""
    sent: dict[tuple[str, str, str], list[tuple[repository.Claim, str]]] = {}
    for r in recorded:
        claim = repository.Claim(r.notification, 1, r.correlation_id, r.traceparent)
        provider_message_id = _attempt(store, senders, claim)
        if provider_message_id is not None:
            cause = (r.correlation_id, r.notification.event_id, r.traceparent)
            sent.setdefault(cause, []).append((claim, provider_message_id))
    for batch in sent.values():
        _record_sent(store, batch)
    return sum(len(batch) for batch in sent.values())


def send_due(store: Store, senders: Senders, limit: int = 100) -> int:
    """Retry what is due: first sends a crashed worker left behind (once its lease has ended), and
    failed sends after back-off."""
    ids = repository.due_ids(store.db, datetime.now(UTC), limit)
    return sum(deliver(store, senders, nid) for nid in ids)


def deliver(store: Store, senders: Senders, notification_id: str) -> bool:
    now = datetime.now(UTC)
    claim = repository.claim(store.db, notification_id, now, now + SEND_LEASE)
    if claim is None:
        return False
    provider_message_id = _attempt(store, senders, claim)
    if provider_message_id is None:
        return False
    _record_sent(store, [(claim, provider_message_id)])
    return True


def _attempt(store: Store, senders: Senders, claim: repository.Claim) -> str | None:
    """Hand the notification to its provider: the provider's message id, or None after recording
    the failure (for good, or a retry after back-off)."""
    n = claim.notification
    try:
        return senders[n.channel].send(n)
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
        return None


def _record_sent(store: Store, sent: list[tuple[repository.Claim, str]]) -> None:
    """SENT, with a NotificationSent event each, for notifications of one cause, in one transaction."""
    def record(tx: Transaction) -> None:
        for claim, provider_message_id in sent:
            n = claim.notification
            if repository.mark_sent(tx, n.notification_id, provider_message_id, datetime.now(UTC)):
                tx.emit(NotificationSent(notification_id=n.notification_id, citizen_id=n.citizen_id,
                                         channel=_WIRE_CHANNEL[n.channel], template=n.template,
                                         dossier_code=n.dossier_code, cause_event_id=n.event_id),
                        subject=n.dossier_code or n.citizen_id)

    first = sent[0][0]
    store.transaction(record, Cause(correlation_id=first.correlation_id, causation_id=first.notification.event_id,
                                    traceparent=first.traceparent))
