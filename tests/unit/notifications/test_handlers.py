"""The notifications event handlers on the in-memory records (services/notifications/fakes.py):
every event a citizen is told about records one PENDING notification per chosen channel, in the
inbox's transaction; an event about a citizen not known yet waits for their registration. Then the
listing (queries.py) on the same records, asked with its domain query (domain/commands.py)."""

from typing import Any

import pytest
from google.protobuf.message import Message

from egov.common.v1 import caller_pb2
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1.events_pb2 import CitizenAccountRecovered, CitizenRegistered
from egov.payments.v1.events_pb2 import BillIssued, PaymentRefunded, PaymentSettled
from egov.postal.v1.events_pb2 import ShipmentCreated, ShipmentDelivered
from egov.procedures.v1 import procedures_pb2
from egov.procedures.v1.events_pb2 import (
    DossierAccepted,
    DossierCompleted,
    DossierRef,
    DossierRejected,
    DossierResultIssued,
    DossierSubmitted,
    DossierSupplementRequested,
    DossierTransferred,
)
from services.common.caller import OPERATOR, Caller, CallerKind
from services.common.errors import InvalidArgument, PermissionDenied
from services.common.events.envelope import new_event
from services.common.memory_store import InMemoryStore
from services.common.roles import Appointment, Role
from services.notifications import queries
from services.notifications.adapters.repository import NotificationRecords
from services.notifications.domain import commands
from services.notifications.domain.contacts import Channel
from services.notifications.domain.notices import Template
from services.notifications.domain.notification import Status
from services.notifications.fakes import in_memory_store
from services.notifications.handlers import handle_event

CITIZEN = "046090001234"
CODE = "000.00.01.H57-260302-0001"
DOSSIER = DossierRef(code=CODE, applicant_citizen_id=CITIZEN, procedure_name="Cấp Phiếu lý lịch tư pháp")
BOTH = [caller_pb2.NOTIFICATION_CHANNEL_SMS, caller_pb2.NOTIFICATION_CHANNEL_EMAIL]


@pytest.fixture
def store() -> InMemoryStore:
    return in_memory_store()


def event(payload: Message) -> CloudEvent:
    return new_event(payload, source="/egov/test", subject=CODE, correlation_id=CODE)


def handle(store: InMemoryStore, payload: Message) -> CloudEvent:
    incoming = event(payload)
    handle_event(store, incoming)
    return incoming


def registered(channels: list[Any] = BOTH) -> CitizenRegistered:
    return CitizenRegistered(citizen_id=CITIZEN, full_name="Nguyễn Văn An", phone="0905123456",
                             email="an@example.vn", notification_channels=channels)


def told(store: InMemoryStore) -> list[tuple[str, Channel]]:
    return [(n.template, n.channel) for n in store.repository(NotificationRecords).notifications_of(CITIZEN)]


EVENTS: list[tuple[Message, Template]] = [
    (DossierSubmitted(dossier=DOSSIER, fee_vnd=50_000, channel=caller_pb2.CHANNEL_COUNTER,
                      status=procedures_pb2.DOSSIER_STATUS_AWAITING_PAYMENT), Template.DOSSIER_SUBMITTED),
    (DossierAccepted(dossier=DOSSIER, due_date="2026-03-10"), Template.DOSSIER_ACCEPTED),
    (DossierSupplementRequested(dossier=DOSSIER, reason="thiếu tờ khai", missing_document_codes=["TK01"]),
     Template.DOSSIER_SUPPLEMENT_REQUESTED),
    (DossierRejected(dossier=DOSSIER, reason="không đủ điều kiện",
                     payment_method=procedures_pb2.PAYMENT_METHOD_ONLINE), Template.DOSSIER_REJECTED),
    (DossierTransferred(dossier=DOSSIER, to_agency_code="000.00.15.H57"), Template.DOSSIER_TRANSFERRED),
    (DossierResultIssued(dossier=DOSSIER, result_document_number="12/QĐ",
                         delivery=procedures_pb2.Delivery(method=procedures_pb2.DELIVERY_METHOD_POST)),
     Template.DOSSIER_RESULT_ISSUED),
    (DossierCompleted(dossier=DOSSIER, timeliness=procedures_pb2.TIMELINESS_LATE, due_date="2026-03-10"),
     Template.DOSSIER_COMPLETED),
    (BillIssued(bill_id="B-1", dossier_code=CODE, citizen_id=CITIZEN, amount_vnd=50_000), Template.BILL_ISSUED),
    (PaymentSettled(bill_id="B-1", dossier_code=CODE, citizen_id=CITIZEN, amount_vnd=50_000, intermediary="paygate",
                    intermediary_transaction_id="PG-1"), Template.PAYMENT_SETTLED),
    (PaymentRefunded(bill_id="B-1", dossier_code=CODE, citizen_id=CITIZEN, amount_vnd=50_000, refund_id="RF-1"),
     Template.PAYMENT_REFUNDED),
    (ShipmentCreated(dossier_code=CODE, citizen_id=CITIZEN, tracking_number="EB123456785VN"),
     Template.SHIPMENT_CREATED),
    (ShipmentDelivered(dossier_code=CODE, citizen_id=CITIZEN, tracking_number="EB123456785VN",
                       delivered_at="2026-03-12T08:00:00Z"), Template.SHIPMENT_DELIVERED),
]


def test_a_registered_citizen_is_welcomed_on_each_chosen_channel(store: InMemoryStore) -> None:
    handle(store, registered())
    assert sorted(told(store)) == [(Template.CITIZEN_WELCOME, Channel.EMAIL), (Template.CITIZEN_WELCOME, Channel.SMS)]
    [sms] = [n for n in store.repository(NotificationRecords).notifications_of(CITIZEN) if n.channel is Channel.SMS]
    assert sms.status is Status.PENDING and sms.recipient == "+84905123456"


@pytest.mark.parametrize("payload, template", EVENTS, ids=[t.value for _, t in EVENTS])
def test_each_event_about_a_dossier_tells_the_citizen_once_per_channel(store: InMemoryStore, payload: Message,
                                                                       template: Template) -> None:
    handle(store, registered([caller_pb2.NOTIFICATION_CHANNEL_SMS]))
    incoming = handle(store, payload)
    assert not handle_event(store, incoming)          # delivered again: recorded once
    assert told(store) == [(Template.CITIZEN_WELCOME, Channel.SMS), (template, Channel.SMS)]
    latest = store.repository(NotificationRecords).notifications_of(CITIZEN)[-1]
    assert latest.event_id == incoming.id and latest.dossier_code == CODE and CODE in latest.body


def test_an_event_before_the_citizens_registration_waits_for_it(store: InMemoryStore) -> None:
    handle(store, EVENTS[0][0])
    handle(store, EVENTS[1][0])
    assert told(store) == []
    handle(store, registered([caller_pb2.NOTIFICATION_CHANNEL_SMS]))
    assert [t for t, _ in told(store)] == [Template.CITIZEN_WELCOME, Template.DOSSIER_SUBMITTED,
                                           Template.DOSSIER_ACCEPTED]


def test_a_recovered_account_takes_the_owners_contact_details(store: InMemoryStore) -> None:
    handle(store, registered([caller_pb2.NOTIFICATION_CHANNEL_SMS]))
    handle(store, CitizenAccountRecovered(citizen_id=CITIZEN, phone="0913000111", email="",
                                          notification_channels=[caller_pb2.NOTIFICATION_CHANNEL_SMS]))
    latest = store.repository(NotificationRecords).notifications_of(CITIZEN)[-1]
    assert (latest.template, latest.recipient) == (Template.ACCOUNT_RECOVERED, "+84913000111")
    contact = store.repository(NotificationRecords).find_contact(CITIZEN)
    assert contact is not None and contact.full_name == "Nguyễn Văn An"
    assert contact.address(Channel.SMS) == "+84913000111"


def test_a_recovery_before_the_registration_waits_for_it(store: InMemoryStore) -> None:
    handle(store, CitizenAccountRecovered(citizen_id=CITIZEN, phone="0913000111",
                                          notification_channels=[caller_pb2.NOTIFICATION_CHANNEL_SMS]))
    handle(store, registered([caller_pb2.NOTIFICATION_CHANNEL_SMS]))
    assert [t for t, _ in told(store)] == [Template.CITIZEN_WELCOME, Template.ACCOUNT_RECOVERED]


def test_nobody_is_told_about_a_dossier_without_a_citizen(store: InMemoryStore) -> None:
    handle(store, DossierAccepted(dossier=DossierRef(code=CODE, procedure_name="x"), due_date="2026-03-10"))
    records = store.repository(NotificationRecords)
    assert records.notifications_of("") == [] and records.take_parked_events("") == []


# -- the listing (queries.py), on the same records ---------------------------------------------------------

OTHER_CODE = "000.00.02.H57-260302-0002"
RECEIVING_DESK = Caller(CallerKind.CIVIL_SERVANT, subject="cb-1",
                        appointments=(Appointment("000.00.01.H57", Role.RECEIVER),))


def listed(store: InMemoryStore, caller: Caller, citizen_id: str = "", dossier_code: str = "") -> list[str]:
    query = commands.ListNotifications(citizen_id=citizen_id, dossier_code=dossier_code)
    return [n.template for n in queries.list_notifications(store, query, caller)]


def test_a_citizen_lists_their_own_notifications_oldest_first_of_one_dossier_if_named(store: InMemoryStore) -> None:
    handle(store, registered([caller_pb2.NOTIFICATION_CHANNEL_SMS]))
    handle(store, EVENTS[0][0])
    handle(store, DossierAccepted(dossier=DossierRef(code=OTHER_CODE, applicant_citizen_id=CITIZEN),
                                  due_date="2026-03-10"))
    owner = Caller(CallerKind.CITIZEN, subject=CITIZEN)
    assert listed(store, owner) == [Template.CITIZEN_WELCOME, Template.DOSSIER_SUBMITTED, Template.DOSSIER_ACCEPTED]
    assert listed(store, owner, citizen_id=CITIZEN, dossier_code=CODE) == [Template.DOSSIER_SUBMITTED]
    [first] = queries.list_notifications(store, commands.ListNotifications(citizen_id="", dossier_code=CODE), owner)
    assert first.status is Status.PENDING and first.sent_at is None
    with pytest.raises(PermissionDenied) as refused:
        listed(store, Caller(CallerKind.CITIZEN, subject="046090009999"), citizen_id=CITIZEN)
    assert (refused.value.field, refused.value.message) == ("citizen_id",
                                                            "a citizen may only read their own notifications")


def test_the_receiving_desk_lists_only_what_was_said_about_the_dossiers_its_agency_received(
        store: InMemoryStore) -> None:
    handle(store, registered([caller_pb2.NOTIFICATION_CHANNEL_SMS]))
    handle(store, EVENTS[0][0])
    handle(store, DossierAccepted(dossier=DossierRef(code=OTHER_CODE, applicant_citizen_id=CITIZEN),
                                  due_date="2026-03-10"))
    assert listed(store, RECEIVING_DESK, citizen_id=CITIZEN) == [Template.DOSSIER_SUBMITTED]
    assert listed(store, OPERATOR, citizen_id=CITIZEN, dossier_code=OTHER_CODE) == [Template.DOSSIER_ACCEPTED]
    with pytest.raises(InvalidArgument) as unnamed:
        listed(store, RECEIVING_DESK)
    assert (unnamed.value.field, unnamed.value.message) == ("citizen_id", "is required for a civil servant")
    with pytest.raises(PermissionDenied):
        listed(store, RECEIVING_DESK, citizen_id=CITIZEN, dossier_code=OTHER_CODE)


def test_a_dossier_code_too_long_is_refused_naming_the_field(store: InMemoryStore) -> None:
    with pytest.raises(InvalidArgument) as refused:
        listed(store, Caller(CallerKind.CITIZEN, subject=CITIZEN), dossier_code="X" * 65)
    assert (refused.value.field, refused.value.message) == ("dossier_code", "at most 64 characters")
