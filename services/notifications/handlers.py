"""The service layer: one handler per event the citizen is told about.

A handler runs inside the inbox transaction (services/common/runtime/store.py) and only records
PENDING notifications, one per chosen channel; `delivery.py` sends them once it has committed.
An event about a citizen whose contact is not known yet is parked in the same transaction and
handled again when their CitizenRegistered arrives.
"""

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from egov.common.v1 import caller_pb2
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1.events_pb2 import CitizenAccountRecovered, CitizenRegistered
from egov.payments.v1.events_pb2 import BillIssued, PaymentRefunded, PaymentSettled, RefundReason
from egov.postal.v1.events_pb2 import ShipmentCreated, ShipmentDelivered
from egov.procedures.v1 import procedures_pb2
from egov.procedures.v1.events_pb2 import (
    DossierAccepted,
    DossierApologyIssued,
    DossierCompleted,
    DossierRejected,
    DossierResultIssued,
    DossierReturnedToDesk,
    DossierSubmitted,
    DossierSupplementRequested,
    DossierTransferred,
)
from services.common.events.envelope import event_type, unpack
from services.common.mongo_store import Transaction
from services.notifications.adapters import repository
from services.notifications.domain import notices
from services.notifications.domain.contacts import Channel, Contact
from services.notifications.domain.notices import Intake, Notice, ResultDelivery
from services.notifications.domain.notification import Notification

log = logging.getLogger(__name__)
EventHandler = Callable[[Transaction, Any, CloudEvent], None]

_INTAKE = {
    caller_pb2.CHANNEL_COUNTER: Intake.COUNTER,
    caller_pb2.CHANNEL_POST_OFFICE: Intake.POST_OFFICE,
}
_CHANNELS = {
    caller_pb2.NOTIFICATION_CHANNEL_EMAIL: Channel.EMAIL,
    caller_pb2.NOTIFICATION_CHANNEL_SMS: Channel.SMS,
    caller_pb2.NOTIFICATION_CHANNEL_PUSH: Channel.PUSH,
}


def notify(tx: Transaction, citizen_id: str, notice: Notice, event: CloudEvent) -> None:
    now = datetime.now(UTC)
    if not citizen_id:
        # A foreigner filing in person without a Vietnamese proxy: nobody to write to; the desk
        # hands them the slips.
        log.info("event %s (%s): no citizen to notify", event.id, event.type)
        return
    contact = repository.find_contact(tx, citizen_id)
    if contact is None:
        log.info("event %s (%s): citizen not registered with notifications yet; parked", event.id, event.type)
        repository.park_event(tx, citizen_id, event, now)
        return
    for channel in contact.channels():
        notification = Notification.compose(notice, contact, channel, event_id=event.id,
                                            event_type=event.type, now=now)
        repository.add_notification(tx, notification)


def on_citizen_registered(tx: Transaction, e: CitizenRegistered, event: CloudEvent) -> None:
    contact = Contact.register(e.citizen_id, e.full_name, e.phone, e.email,
                               [_CHANNELS[c] for c in e.notification_channels if c in _CHANNELS])
    repository.save_contact(tx, contact)
    notify(tx, contact.citizen_id, notices.citizen_welcome(contact.full_name), event)
    for parked in repository.take_parked_events(tx, contact.citizen_id):
        EVENT_HANDLERS[parked.type](tx, unpack(parked), parked)


def on_citizen_account_recovered(tx: Transaction, e: CitizenAccountRecovered, event: CloudEvent) -> None:
    """The owner's contact details replace the ones the account held (perhaps someone else's)."""
    known = repository.find_contact(tx, e.citizen_id)
    if known is None:      # the registration's event has not been handled yet: it replays this one
        repository.park_event(tx, e.citizen_id, event, datetime.now(UTC))
        return
    contact = Contact.register(e.citizen_id, known.full_name, e.phone, e.email,
                               [_CHANNELS[c] for c in e.notification_channels if c in _CHANNELS])
    repository.save_contact(tx, contact)
    notify(tx, contact.citizen_id, notices.account_recovered(contact.full_name), event)


def on_dossier_submitted(tx: Transaction, e: DossierSubmitted, event: CloudEvent) -> None:
    d = e.dossier
    awaiting_payment = e.status == procedures_pb2.DOSSIER_STATUS_AWAITING_PAYMENT
    notice = notices.dossier_submitted(d.code, d.procedure_name, _INTAKE.get(e.channel, Intake.ONLINE),
                                       e.fee_vnd, awaiting_payment)
    notify(tx, d.applicant_citizen_id, notice, event)


def on_dossier_accepted(tx: Transaction, e: DossierAccepted, event: CloudEvent) -> None:
    d = e.dossier
    notify(tx, d.applicant_citizen_id, notices.dossier_accepted(d.code, d.procedure_name, e.due_date), event)


def on_dossier_supplement_requested(tx: Transaction, e: DossierSupplementRequested,
                                    event: CloudEvent) -> None:
    d = e.dossier
    notice = notices.dossier_supplement_requested(d.code, d.procedure_name, e.reason,
                                                  list(e.missing_document_codes), e.at_reception)
    notify(tx, d.applicant_citizen_id, notice, event)


def on_dossier_rejected(tx: Transaction, e: DossierRejected, event: CloudEvent) -> None:
    d = e.dossier
    paid_online = e.payment_method == procedures_pb2.PAYMENT_METHOD_ONLINE
    notice = notices.dossier_rejected(d.code, d.procedure_name, e.reason, paid_online, e.at_reception)
    notify(tx, d.applicant_citizen_id, notice, event)


def on_dossier_transferred(tx: Transaction, e: DossierTransferred, event: CloudEvent) -> None:
    d = e.dossier
    notify(tx, d.applicant_citizen_id, notices.dossier_transferred(d.code, d.procedure_name, e.to_agency_code), event)


def on_dossier_result_issued(tx: Transaction, e: DossierResultIssued, event: CloudEvent) -> None:
    d = e.dossier
    by_post = e.delivery.method == procedures_pb2.DELIVERY_METHOD_POST
    notice = notices.dossier_result_issued(d.code, d.procedure_name, e.result_document_number,
                                           ResultDelivery.POST if by_post else ResultDelivery.PICKUP)
    notify(tx, d.applicant_citizen_id, notice, event)


def on_dossier_completed(tx: Transaction, e: DossierCompleted, event: CloudEvent) -> None:
    d = e.dossier
    late = e.timeliness == procedures_pb2.TIMELINESS_LATE
    notice = notices.dossier_completed(d.code, d.procedure_name, late, e.due_date)
    notify(tx, d.applicant_citizen_id, notice, event)


def on_dossier_apology_issued(tx: Transaction, e: DossierApologyIssued, event: CloudEvent) -> None:
    d = e.dossier
    notice = notices.dossier_apology_issued(d.code, d.procedure_name, e.reason, e.previous_due_date,
                                            e.new_due_date, e.letter_number)
    notify(tx, d.applicant_citizen_id, notice, event)


def on_dossier_returned_to_desk(tx: Transaction, e: DossierReturnedToDesk, event: CloudEvent) -> None:
    d = e.dossier
    notify(tx, d.applicant_citizen_id, notices.dossier_returned_to_desk(d.code, d.procedure_name, e.reason), event)


def on_bill_issued(tx: Transaction, e: BillIssued, event: CloudEvent) -> None:
    notify(tx, e.citizen_id, notices.bill_issued(e.dossier_code, e.amount_vnd, e.bill_id), event)


def on_payment_settled(tx: Transaction, e: PaymentSettled, event: CloudEvent) -> None:
    notice = notices.payment_settled(e.dossier_code, e.amount_vnd, e.intermediary,
                                     e.intermediary_transaction_id)
    notify(tx, e.citizen_id, notice, event)


def on_payment_refunded(tx: Transaction, e: PaymentRefunded, event: CloudEvent) -> None:
    reason = RefundReason.Name(e.reason)
    notify(tx, e.citizen_id, notices.payment_refunded(e.dossier_code, e.amount_vnd, e.refund_id, reason), event)


def on_shipment_created(tx: Transaction, e: ShipmentCreated, event: CloudEvent) -> None:
    notify(tx, e.citizen_id, notices.shipment_created(e.dossier_code, e.tracking_number), event)


def on_shipment_delivered(tx: Transaction, e: ShipmentDelivered, event: CloudEvent) -> None:
    notice = notices.shipment_delivered(e.dossier_code, e.tracking_number, e.delivered_at)
    notify(tx, e.citizen_id, notice, event)


_BY_PAYLOAD: dict[type[Any], EventHandler] = {
    CitizenRegistered: on_citizen_registered,
    CitizenAccountRecovered: on_citizen_account_recovered,
    DossierSubmitted: on_dossier_submitted,
    DossierAccepted: on_dossier_accepted,
    DossierSupplementRequested: on_dossier_supplement_requested,
    DossierRejected: on_dossier_rejected,
    DossierTransferred: on_dossier_transferred,
    DossierResultIssued: on_dossier_result_issued,
    DossierCompleted: on_dossier_completed,
    DossierApologyIssued: on_dossier_apology_issued,
    DossierReturnedToDesk: on_dossier_returned_to_desk,
    BillIssued: on_bill_issued,
    PaymentSettled: on_payment_settled,
    PaymentRefunded: on_payment_refunded,
    ShipmentCreated: on_shipment_created,
    ShipmentDelivered: on_shipment_delivered,
}
EVENT_HANDLERS: dict[str, EventHandler] = {event_type(cls): handler for cls, handler in _BY_PAYLOAD.items()}


class EventStore(Protocol):
    def handle_event(self, event: CloudEvent, handlers: Mapping[str, EventHandler]) -> bool: ...


def handle_event(store: EventStore, event: CloudEvent) -> bool:
    """Process one incoming event exactly once; False if it was a duplicate or not ours."""
    return store.handle_event(event, EVENT_HANDLERS)
