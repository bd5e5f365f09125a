"""A shipment's status only moves forward, whatever order the operator's reports arrive in."""

import pytest

from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument, PermissionDenied
from services.common.roles import Appointment, Role
from services.postal.domain.shipment import (
    Address,
    Shipment,
    ShipmentOrder,
    ShipmentStatus,
    shipment_id_for,
)

CITIZEN_ID = "001099012345"
ADDRESS = Address("12 Lý Thường Kiệt", "Phường Hàng Bài", "Quận Hoàn Kiếm", "Hà Nội")


def order(**overrides: str) -> ShipmentOrder:
    values = {"dossier_code": "G01.02-250101-0001", "citizen_id": CITIZEN_ID,
              "recipient_name": "Nguyễn Văn An", "recipient_phone": "0912345678"}
    values.update(overrides)
    return ShipmentOrder.for_dossier(address=ADDRESS, **values)


def booked() -> Shipment:
    return Shipment.booked(order(), "EB123456785VN", "2025-01-02T03:00:00Z")


def test_the_shipment_id_comes_from_the_dossier_code() -> None:
    assert order().shipment_id == "SHP-G01.02-250101-0001" == shipment_id_for("G01.02-250101-0001")


def test_a_booked_shipment_waits_for_pickup() -> None:
    shipment = booked()
    assert shipment.status == ShipmentStatus.REQUESTED
    assert [t.status for t in shipment.tracking] == [ShipmentStatus.REQUESTED]
    assert shipment.delivered_at == ""


def test_reports_move_it_through_to_delivery() -> None:
    shipment = booked()
    assert shipment.advance(ShipmentStatus.PICKED_UP, "2025-01-02T04:00:00Z", "Bưu cục Hoàn Kiếm")
    assert shipment.advance(ShipmentStatus.IN_TRANSIT, "2025-01-02T05:00:00Z", "Trung tâm khai thác")
    assert shipment.advance(ShipmentStatus.DELIVERED, "2025-01-02T06:00:00Z", "Phường Hàng Bài")
    assert shipment.status == ShipmentStatus.DELIVERED
    assert shipment.delivered_at == "2025-01-02T06:00:00Z"
    assert [t.status for t in shipment.tracking] == [ShipmentStatus.REQUESTED, ShipmentStatus.PICKED_UP,
                                                     ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED]


def test_a_late_report_after_delivery_is_ignored() -> None:
    shipment = booked()
    shipment.advance(ShipmentStatus.DELIVERED, "2025-01-02T06:00:00Z", "")
    assert not shipment.advance(ShipmentStatus.IN_TRANSIT, "2025-01-02T05:00:00Z", "")
    assert not shipment.advance(ShipmentStatus.FAILED, "2025-01-02T07:00:00Z", "")
    assert shipment.status == ShipmentStatus.DELIVERED
    assert len(shipment.tracking) == 2


def test_a_repeated_report_changes_nothing() -> None:
    shipment = booked()
    assert shipment.advance(ShipmentStatus.IN_TRANSIT, "2025-01-02T05:00:00Z", "")
    assert not shipment.advance(ShipmentStatus.IN_TRANSIT, "2025-01-02T05:00:00Z", "")
    assert not shipment.advance(ShipmentStatus.PICKED_UP, "2025-01-02T04:00:00Z", "")
    assert shipment.status == ShipmentStatus.IN_TRANSIT
    assert len(shipment.tracking) == 2


def test_a_failed_delivery_is_final() -> None:
    shipment = booked()
    assert shipment.advance(ShipmentStatus.FAILED, "2025-01-02T05:00:00Z", "")
    assert not shipment.advance(ShipmentStatus.DELIVERED, "2025-01-02T06:00:00Z", "")
    assert shipment.status == ShipmentStatus.FAILED
    assert shipment.delivered_at == ""


def test_no_report_returns_a_shipment_to_requested() -> None:
    with pytest.raises(InvalidArgument):
        booked().advance(ShipmentStatus.REQUESTED, "2025-01-02T05:00:00Z", "")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"recipient_name": " "}, "delivery.recipient_name"),
    ({"citizen_id": ""}, "dossier.applicant_citizen_id"),
    ({"dossier_code": ""}, "dossier_code"),
    ({"dossier_code": "X" * 65}, "dossier_code"),
])
def test_an_incomplete_order_names_the_field(overrides: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        order(**overrides)
    assert refused.value.field == field


def test_an_order_needs_a_full_address() -> None:
    with pytest.raises(InvalidArgument) as refused:
        ShipmentOrder.for_dossier("D-1", CITIZEN_ID, "An", "", Address("", "Phường Hàng Bài", "", "Hà Nội"))
    assert refused.value.field == "delivery.address.district"


def test_a_citizen_sees_only_their_own_shipment() -> None:
    shipment = booked()
    shipment.ensure_visible_to(Caller(CallerKind.CITIZEN, subject=CITIZEN_ID))
    with pytest.raises(PermissionDenied) as refused:
        shipment.ensure_visible_to(Caller(CallerKind.CITIZEN, subject="001099099999"))
    assert refused.value.field == "dossier_code"


def test_the_receiving_desk_and_its_member_see_it_anonymous_callers_do_not() -> None:
    shipment = booked()
    desk = shipment.dossier_code.partition("-")[0]
    shipment.ensure_visible_to(Caller(CallerKind.CIVIL_SERVANT, subject="CB-1",
                                      appointments=(Appointment(desk, Role.RESULT_DESK),)))
    shipment.ensure_visible_to(Caller(CallerKind.AGENCY, subject=f"VN/GOV/{desk}/procedures", agency_code=desk))
    with pytest.raises(PermissionDenied) as refused:
        shipment.ensure_visible_to(Caller(CallerKind.ANONYMOUS))
    assert refused.value.field == "caller"
