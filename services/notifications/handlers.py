"""The service layer: one handler per event the citizen is told about.

A handler runs inside the inbox transaction (services/common/runtime/store.py) and only records
PENDING notifications, one per chosen channel; `delivery.py` sends them once it has committed.
An event about a citizen whose contact is not known yet is parked in the same transaction and
handled again when their CitizenRegistered arrives.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from egov.common.v1 import caller_pb2
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1.events_pb2 import CitizenRegistered
from egov.payments.v1.events_pb2 import BillIssued, PaymentRefunded, PaymentSettled
from egov.postal.v1.events_pb2 import ShipmentCreated, ShipmentDelivered
from egov.procedures.v1 import procedures_pb2
from egov.procedures.v1.events_pb2 import (
    DossierAccepted,
    DossierCompleted,
    DossierRejected,
    DossierResultIssued,
    DossierSubmitted,
    DossierSupplementRequested,
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
                                                  list(e.missing_document_codes))
    notify(tx, d.applicant_citizen_id, notice, event)


def on_dossier_rejected(tx: Transaction, e: DossierRejected, event: CloudEvent) -> None:
    d = e.dossier
    paid_online = e.payment_method == procedures_pb2.PAYMENT_METHOD_ONLINE
    notice = notices.dossier_rejected(d.code, d.procedure_name, e.reason, paid_online)
    notify(tx, d.applicant_citizen_id, notice, event)


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


def on_bill_issued(tx: Transaction, e: BillIssued, event: CloudEvent) -> None:
    notify(tx, e.citizen_id, notices.bill_issued(e.dossier_code, e.amount_vnd, e.bill_id), event)


def on_payment_settled(tx: Transaction, e: PaymentSettled, event: CloudEvent) -> None:
    notice = notices.payment_settled(e.dossier_code, e.amount_vnd, e.intermediary,
                                     e.intermediary_transaction_id)
    notify(tx, e.citizen_id, notice, event)


def on_payment_refunded(tx: Transaction, e: PaymentRefunded, event: CloudEvent) -> None:
    notify(tx, e.citizen_id, notices.payment_refunded(e.dossier_code, e.amount_vnd, e.refund_id), event)


def on_shipment_created(tx: Transaction, e: ShipmentCreated, event: CloudEvent) -> None:
    notify(tx, e.citizen_id, notices.shipment_created(e.dossier_code, e.tracking_number), event)


def on_shipment_delivered(tx: Transaction, e: ShipmentDelivered, event: CloudEvent) -> None:
    notice = notices.shipment_delivered(e.dossier_code, e.tracking_number, e.delivered_at)
    notify(tx, e.citizen_id, notice, event)


_BY_PAYLOAD: dict[type[Any], EventHandler] = {
    CitizenRegistered: on_citizen_registered,
    DossierSubmitted: on_dossier_submitted,
    DossierAccepted: on_dossier_accepted,
    DossierSupplementRequested: on_dossier_supplement_requested,
    DossierRejected: on_dossier_rejected,
    DossierResultIssued: on_dossier_result_issued,
    DossierCompleted: on_dossier_completed,
    BillIssued: on_bill_issued,
    PaymentSettled: on_payment_settled,
    PaymentRefunded: on_payment_refunded,
    ShipmentCreated: on_shipment_created,
    ShipmentDelivered: on_shipment_delivered,
}
EVENT_HANDLERS: dict[str, EventHandler] = {event_type(cls): handler for cls, handler in _BY_PAYLOAD.items()}
