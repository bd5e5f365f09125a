"""The postal service layer: a dossier result to post, the operator's tracking reports, lookups.

Booking with the operator is a third-party call, so an event is handled as a `Reaction`
(services/common/reactions.py) in two steps: `prepare` outside any transaction (idempotent at the
operator on the shipment id, so a retried handler gets the same tracking number), then `apply`
inside the transaction that records the event as processed.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pymongo.database import Database

from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.postal.v1 import postal_pb2
from egov.postal.v1.events_pb2 import (
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentDeliveryFailed,
    ShipmentStatusChanged,
)
from egov.procedures.v1.events_pb2 import DossierResultIssued
from egov.procedures.v1.procedures_pb2 import DELIVERY_METHOD_POST
from services.common.caller import Caller
from services.common.errors import InvalidArgument, NotFound
from services.common.events.envelope import event_type
from services.common.mongo_store import Cause, Transaction
from services.common.reactions import Reaction, react
from services.postal.adapters.shipments import MongoNonceLedger, ShipmentRepository
from services.postal.domain import commands
from services.postal.domain.callback import StatusReport, authenticate, spend_nonce
from services.postal.domain.shipment import (
    READERS,
    Address,
    Shipment,
    ShipmentOrder,
    ShipmentStatus,
    require_dossier_code,
)

T = TypeVar("T")
R = TypeVar("R")
EventHandler = Callable[[Transaction, Any, CloudEvent], None]


class UnitOfWork(Protocol):
    """The worker's view of the service's database (services.common.runtime.store.WorkerStore)."""

    def repository(self, kind: Callable[[Database[Any]], R]) -> R: ...

    def transaction(self, fn: Callable[[Transaction], T], cause: Cause | None = None) -> T: ...

    def handle_event(self, event: CloudEvent, handlers: Mapping[str, EventHandler]) -> bool: ...


class Booking(Protocol):
    """The operator as the service layer needs it (adapters.postal_operator.PostalOperatorClient)."""

    def book(self, order: ShipmentOrder) -> str: ...


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- a dossier result to return by post --------------------------------------------------------------

def book_shipment(uow: UnitOfWork, operator: Booking,
                  issued: DossierResultIssued) -> Shipment | None:
    """Outside the transaction: the shipment booked with the operator, or None for a pickup."""
    if issued.delivery.method != DELIVERY_METHOD_POST:
        return None
    delivery, dossier = issued.delivery, issued.dossier
    order = ShipmentOrder.for_dossier(
        dossier.code, dossier.applicant_citizen_id, delivery.recipient_name, delivery.recipient_phone,
        Address(delivery.address.street, delivery.address.commune, delivery.address.district,
                delivery.address.province),
    )
    existing = uow.repository(ShipmentRepository).get(order.shipment_id)
    if existing is not None:
        return existing
    return Shipment.booked(order, operator.book(order), now_iso())


def record_shipment(tx: Transaction, issued: DossierResultIssued, event: CloudEvent,
                    booked: Shipment | None) -> None:
    if booked is None:
        return
    shipments = tx.repository(ShipmentRepository)
    if shipments.get(booked.shipment_id) is not None:
        return  # the same dossier's result announced again: one shipment, one ShipmentCreated
    shipments.add(booked)
    tx.remember_trace(booked.dossier_code)
    tx.emit(ShipmentCreated(shipment_id=booked.shipment_id, dossier_code=booked.dossier_code,
                            citizen_id=booked.citizen_id, tracking_number=booked.tracking_number),
            subject=booked.tracking_number, correlation_id=booked.dossier_code)


EVENT_HANDLERS: Mapping[str, Reaction] = {
    event_type(DossierResultIssued): Reaction(prepare=book_shipment, apply=record_shipment),
}


def handle_event(uow: UnitOfWork, operator: Booking, event: CloudEvent) -> bool:
    """Process one incoming event exactly once; False if it was a duplicate or not ours."""
    return react(uow, operator, event, EVENT_HANDLERS)


# -- the operator's tracking reports -----------------------------------------------------------------

def receive_status_report(uow: UnitOfWork, secret: str, body: bytes, *, timestamp: str, nonce: str,
                          signature: str) -> None:
    """Authenticate a report and apply it; a duplicate or a late one is accepted and changes nothing."""
    now = datetime.now(UTC)
    report = authenticate(secret, body, timestamp=timestamp, nonce=nonce, signature=signature, now=now)
    uow.transaction(lambda tx: apply_status_report(tx, report, now))


def apply_status_report(tx: Transaction, report: StatusReport, now: datetime) -> None:
    spend_nonce(tx.repository(MongoNonceLedger), report, now)
    shipments = tx.repository(ShipmentRepository)
    shipment = shipments.by_tracking_number(report.tracking_number)
    if shipment is None:
        raise NotFound("tracking_number", f"no shipment {report.tracking_number}")
    if report.reference != shipment.shipment_id:
        raise InvalidArgument("reference", f"shipment {report.tracking_number} is not {report.reference}")
    if not shipment.advance(report.status, report.at, report.location):
        return
    tx.resume_trace(shipment.dossier_code)
    shipments.save(shipment)
    tx.emit(ShipmentStatusChanged(shipment_id=shipment.shipment_id, dossier_code=shipment.dossier_code,
                                  citizen_id=shipment.citizen_id, tracking_number=shipment.tracking_number,
                                  status=postal_pb2.ShipmentStatus.Value(shipment.status.value),
                                  at=report.at),
            subject=shipment.tracking_number, correlation_id=shipment.dossier_code)
    if shipment.status == ShipmentStatus.DELIVERED:
        tx.emit(ShipmentDelivered(shipment_id=shipment.shipment_id, dossier_code=shipment.dossier_code,
                                  citizen_id=shipment.citizen_id, tracking_number=shipment.tracking_number,
                                  delivered_at=shipment.delivered_at),
                subject=shipment.tracking_number, correlation_id=shipment.dossier_code)
    elif shipment.status == ShipmentStatus.FAILED:
        # Final: procedures puts the result back at the desk (awaiting pickup) and the applicant is told.
        tx.emit(ShipmentDeliveryFailed(shipment_id=shipment.shipment_id, dossier_code=shipment.dossier_code,
                                       citizen_id=shipment.citizen_id, tracking_number=shipment.tracking_number,
                                       failed_at=report.at,
                                       reason=f"giao không thành công tại {report.location}" if report.location
                                       else "giao không thành công"),
                subject=shipment.tracking_number, correlation_id=shipment.dossier_code)


# -- lookups (domain/commands.py; the entrypoint translates request and answer: translation.py) -----

def get_shipment(uow: UnitOfWork, command: commands.GetShipment, caller: Caller) -> Shipment:
    caller.require(*READERS)
    dossier_code = require_dossier_code(command.dossier_code)
    shipment = uow.repository(ShipmentRepository).by_dossier_code(dossier_code)
    if shipment is None:
        raise NotFound("dossier_code", f"no shipment for dossier {dossier_code}")
    shipment.ensure_visible_to(caller)
    return shipment
