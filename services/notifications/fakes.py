"""The in-memory twin of the notifications records (adapters/repository.py: NotificationRecords), with
the MongoDB adapter's rules: one notification per id and per (event, channel) (DuplicateKeyError,
as the unique indexes), one parked copy per event, parked events given back oldest first and only
once, a citizen's notifications listed oldest first (of one dossier, if named) up to a limit.
tests/contract/test_notifications_port.py holds both to the same contract;
tests/unit/notifications/test_handlers.py runs the event handlers and the listing on it."""

from dataclasses import dataclass
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.memory_store import InMemoryStore
from services.common.mongo_store import Cause
from services.notifications.adapters.repository import LIST_LIMIT, NotificationRecords
from services.notifications.domain.contacts import Contact
from services.notifications.domain.notification import Notification


@dataclass
class Parked:
    citizen_id: str
    event: bytes
    parked_at: datetime


class InMemoryNotificationRecords:
    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.parked: dict[str, Parked] = {}
        self.notifications: dict[str, tuple[Notification, Cause]] = {}

    def save_contact(self, contact: Contact) -> None:
        self.contacts[contact.citizen_id] = contact        # frozen: no copy needed

    def find_contact(self, citizen_id: str) -> Contact | None:
        return self.contacts.get(citizen_id)

    def park_event(self, citizen_id: str, event: CloudEvent, now: datetime) -> None:
        if event.id in self.parked:
            raise DuplicateKeyError(f"event {event.id} parked already")
        self.parked[event.id] = Parked(citizen_id, event.SerializeToString(), now)

    def take_parked_events(self, citizen_id: str) -> list[CloudEvent]:
        mine = sorted(((k, p) for k, p in self.parked.items() if p.citizen_id == citizen_id),
                      key=lambda item: item[1].parked_at)
        for key, _ in mine:
            del self.parked[key]
        return [CloudEvent.FromString(p.event) for _, p in mine]

    def add_notification(self, n: Notification, cause: Cause) -> None:
        for held, _ in self.notifications.values():
            if held.notification_id == n.notification_id or (held.event_id, held.channel) == (n.event_id, n.channel):
                raise DuplicateKeyError(f"notification {n.notification_id} recorded already")
        self.notifications[n.notification_id] = (n, Cause(cause.correlation_id, cause.causation_id,
                                                          cause.traceparent))

    def notifications_of(self, citizen_id: str, dossier_code: str = "", limit: int = LIST_LIMIT) -> list[Notification]:
        mine = [n for n, _ in self.notifications.values()
                if n.citizen_id == citizen_id and (not dossier_code or n.dossier_code == dossier_code)]
        return sorted(mine, key=lambda n: (n.created_at, n.notification_id))[:limit]


def in_memory_store() -> InMemoryStore:
    """The notifications service's store with its records in memory."""
    return InMemoryStore("notifications", {NotificationRecords: InMemoryNotificationRecords()})
