"""A shipment of a dossier result: booked with the operator, then moved forward by tracking reports.

Reports arrive late, twice or out of order (the operator retries and re-sends), so the status only
ever moves forward: a report for a stage already reached or passed is ignored, and DELIVERED or
FAILED is final.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from services.common.caller import Caller, CallerKind
from services.common.dossier_scope import check_can_read_desk_record
from services.common.errors import InvalidArgument

SHIPMENT_ID_PREFIX = "SHP-"
DOSSIER_CODE_MAX_LEN = 64


class ShipmentStatus(StrEnum):
    REQUESTED = "SHIPMENT_STATUS_REQUESTED"
    PICKED_UP = "SHIPMENT_STATUS_PICKED_UP"
    IN_TRANSIT = "SHIPMENT_STATUS_IN_TRANSIT"
    DELIVERED = "SHIPMENT_STATUS_DELIVERED"
    FAILED = "SHIPMENT_STATUS_FAILED"


STAGE = {
    ShipmentStatus.REQUESTED: 0,
    ShipmentStatus.PICKED_UP: 1,
    ShipmentStatus.IN_TRANSIT: 2,
    ShipmentStatus.DELIVERED: 3,
    ShipmentStatus.FAILED: 3,
}
FINAL = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.FAILED})
READERS = (CallerKind.CITIZEN, CallerKind.CIVIL_SERVANT, CallerKind.AGENCY, CallerKind.OPERATOR)


def shipment_id_for(dossier_code: str) -> str:
    """One shipment per dossier, so a redelivered or retried request books the same one."""
    return SHIPMENT_ID_PREFIX + require_dossier_code(dossier_code)


def require_dossier_code(dossier_code: str) -> str:
    if not dossier_code:
        raise InvalidArgument("dossier_code", "is required")
    if len(dossier_code) > DOSSIER_CODE_MAX_LEN:
        raise InvalidArgument("dossier_code", f"at most {DOSSIER_CODE_MAX_LEN} characters")
    return dossier_code


@dataclass(frozen=True)
class Address:
    street: str
    commune: str
    district: str
    province: str


@dataclass(frozen=True)
class ShipmentOrder:
    """What is asked of the operator: who receives the result, and where."""

    shipment_id: str
    dossier_code: str
    citizen_id: str
    recipient_name: str
    recipient_phone: str
    address: Address

    @classmethod
    def for_dossier(cls, dossier_code: str, citizen_id: str, recipient_name: str, recipient_phone: str,
                    address: Address) -> "ShipmentOrder":
        if not citizen_id:
            raise InvalidArgument("dossier.applicant_citizen_id", "is required")
        if not recipient_name.strip():
            raise InvalidArgument("delivery.recipient_name", "is required for delivery by post")
        for name in ("commune", "district", "province"):
            if not getattr(address, name).strip():
                raise InvalidArgument(f"delivery.address.{name}", "is required for delivery by post")
        return cls(shipment_id_for(dossier_code), dossier_code, citizen_id, recipient_name.strip(),
                   recipient_phone.strip(), address)


@dataclass(frozen=True)
class TrackingEvent:
    status: ShipmentStatus
    at: str
    location: str


@dataclass
class Shipment:
    shipment_id: str
    dossier_code: str
    citizen_id: str
    tracking_number: str
    recipient_name: str
    recipient_phone: str
    address: Address
    status: ShipmentStatus = ShipmentStatus.REQUESTED
    tracking: list[TrackingEvent] = field(default_factory=list)
    delivered_at: str = ""

    @classmethod
    def booked(cls, order: ShipmentOrder, tracking_number: str, at: str) -> "Shipment":
        return cls(order.shipment_id, order.dossier_code, order.citizen_id, tracking_number,
                   order.recipient_name, order.recipient_phone, order.address,
                   tracking=[TrackingEvent(ShipmentStatus.REQUESTED, at, "")])

    def advance(self, status: ShipmentStatus, at: str, location: str) -> bool:
        """Apply a tracking report; False (and nothing changes) if it does not move the shipment on."""
        if status == ShipmentStatus.REQUESTED:
            raise InvalidArgument("status", "an operator report cannot return a shipment to REQUESTED")
        if self.status in FINAL or STAGE[status] <= STAGE[self.status]:
            return False
        self.status = status
        self.tracking.append(TrackingEvent(status, at, location))
        if status == ShipmentStatus.DELIVERED:
            self.delivered_at = at
        return True

    def ensure_visible_to(self, caller: Caller) -> None:
        """The citizen it goes to; the receiving unit's receiver or result desk; its member's system."""
        caller.require(*READERS)
        check_can_read_desk_record(caller, record="the shipment", dossier_code=self.dossier_code,
                                   citizen_id=self.citizen_id)
