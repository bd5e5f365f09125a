"""The contract of the notifications records, held by the MongoDB adapter (NotificationRecords) and
its in-memory twin (services/notifications/fakes.py) alike: the event handlers' writes and the
listing's read (queries.py)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError

from egov.identity.v1.events_pb2 import CitizenRegistered
from services.common.events.envelope import new_event
from services.common.mongo_store import Cause
from services.notifications.adapters.repository import NotificationRecords, ensure_indexes
from services.notifications.domain import notices
from services.notifications.domain.contacts import Channel, Contact
from services.notifications.domain.notification import Notification, Status
from services.notifications.fakes import InMemoryNotificationRecords
from tests.contract.scratch import scratch_database

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)   # whole seconds: MongoDB keeps milliseconds
CITIZEN = "046090001234"
CODE = "000.00.01.H57-260302-0001"
OTHER_CODE = "000.00.02.H57-260302-0002"
CONTACT = Contact.register(CITIZEN, "Nguyễn Văn An", "0905123456", "an@example.vn", [Channel.SMS, Channel.EMAIL])


@pytest.fixture(params=["memory", "mongo"])
def records(request: pytest.FixtureRequest) -> Iterator[NotificationRecords]:
    if request.param == "memory":
        yield InMemoryNotificationRecords()  # type: ignore[misc]
        return
    with scratch_database(request.getfixturevalue("mongo_uri")) as db:
        ensure_indexes(db)
        yield NotificationRecords(db)


def test_a_contact_is_saved_replaced_and_found(records: NotificationRecords) -> None:
    assert records.find_contact(CITIZEN) is None
    records.save_contact(CONTACT)
    assert records.find_contact(CITIZEN) == CONTACT
    moved = Contact.register(CITIZEN, "Nguyễn Văn An", "0905000000", "", [Channel.SMS])
    records.save_contact(moved)
    assert records.find_contact(CITIZEN) == moved


def registered(n: int) -> Any:
    return new_event(CitizenRegistered(citizen_id=CITIZEN, full_name=f"n{n}"), source="/egov/identity",
                     subject=CITIZEN)


def test_parked_events_come_back_oldest_first_and_once(records: NotificationRecords) -> None:
    first, second, other = registered(1), registered(2), registered(3)
    records.park_event(CITIZEN, second, NOW + timedelta(seconds=1))
    records.park_event(CITIZEN, first, NOW)
    records.park_event("046090009999", other, NOW)
    with pytest.raises(DuplicateKeyError):
        records.park_event(CITIZEN, first, NOW)
    assert [e.id for e in records.take_parked_events(CITIZEN)] == [first.id, second.id]
    assert records.take_parked_events(CITIZEN) == []
    assert [e for e in records.take_parked_events("046090009999")] == [other]


def test_a_notification_is_recorded_once_per_event_and_channel(records: NotificationRecords) -> None:
    notice = notices.citizen_welcome(CONTACT.full_name)
    sms = Notification.compose(notice, CONTACT, Channel.SMS, event_id="e-1", event_type="t", now=NOW)
    email = Notification.compose(notice, CONTACT, Channel.EMAIL, event_id="e-1", event_type="t",
                                 now=NOW + timedelta(seconds=1))
    cause = Cause("c-1", "e-1", "")
    records.add_notification(email, cause)
    records.add_notification(sms, cause)
    with pytest.raises(DuplicateKeyError):
        records.add_notification(sms, cause)
    assert records.notifications_of(CITIZEN) == [sms, email]
    assert records.notifications_of("046090009999") == []


def test_a_citizens_notifications_are_listed_oldest_first_of_one_dossier_if_named_up_to_a_limit(
        records: NotificationRecords) -> None:
    def about(code: str, event_id: str, minutes: int) -> Notification:
        return Notification.compose(notices.Notice(notices.Template.DOSSIER_ACCEPTED, code, "title", "text"), CONTACT,
                                    Channel.SMS, event_id=event_id, event_type="t",
                                    now=NOW + timedelta(minutes=minutes))

    first, other, last = about(CODE, "e-1", 0), about(OTHER_CODE, "e-2", 1), about(CODE, "e-3", 2)
    for n in (last, first, other):
        records.add_notification(n, Cause("c-1", n.event_id, ""))
    assert records.notifications_of(CITIZEN) == [first, other, last]
    assert records.notifications_of(CITIZEN, CODE) == [first, last]
    assert records.notifications_of(CITIZEN, OTHER_CODE, limit=5) == [other]
    assert records.notifications_of(CITIZEN, limit=2) == [first, other]
    assert records.notifications_of("046090009999", CODE) == []
    assert all(n.status is Status.PENDING and n.sent_at is None for n in records.notifications_of(CITIZEN))
