"""Issue 12 item 7 beyond procedures' processing chain: who reads a dossier's bill, shipment and
notifications, and which dossiers an agency system reads under its GetDossier grant. Before, any
civil servant of any agency and role, and any agency granted the read, read every one of them."""

from datetime import UTC, date, datetime

import pytest

from services.common.caller import OPERATOR, Caller, CallerKind
from services.common.dossier_scope import receiving_agency_of
from services.common.errors import PermissionDenied
from services.common.roles import Appointment, Role
from services.notifications.domain.access import citizen_to_list
from services.payments.domain.bill import Bill
from services.postal.domain.shipment import Address, Shipment, ShipmentOrder
from services.procedures.domain.access import check_can_view
from tests.unit.procedures.factories import LAND, UNITS, VY_DA, VY_DA_DESK, entry, submitted, vn

DESK = "000.01.31.H57"                 # Phường Vỹ Dạ's one-stop desk
OTHER_DESK = "000.02.31.H57"
CODE = f"{DESK}-261207-0001"
OWNER = "046099001234"


def servant(role: Role, agency: str) -> Caller:
    return Caller(CallerKind.CIVIL_SERVANT, subject="CB-1", appointments=(Appointment(agency, role),))


def agency(member_code: str) -> Caller:
    return Caller(CallerKind.AGENCY, subject=f"VN/GOV/{member_code}/system", agency_code=member_code)


def bill() -> Bill:
    return Bill.issue(CODE, OWNER, 50_000, datetime(2026, 12, 7, tzinfo=UTC))


def shipment() -> Shipment:
    order = ShipmentOrder.for_dossier(CODE, OWNER, "Nguyễn Văn A", "0905000000",
                                      Address("1 Lê Lợi", "Vỹ Dạ", "Thuận Hóa", "Huế"))
    return Shipment.booked(order, "EB000000001VN", "2026-12-07T09:00:00+07:00")


READERS = [Caller(CallerKind.CITIZEN, subject=OWNER), servant(Role.RECEIVER, DESK),
           servant(Role.RESULT_DESK, DESK), agency(DESK), OPERATOR]
REFUSED = [Caller(CallerKind.CITIZEN, subject="046099009999"),      # another citizen
           servant(Role.RECEIVER, OTHER_DESK),                      # another agency's desk
           servant(Role.SPECIALIST, DESK),                          # the right agency, not a desk role
           servant(Role.LEADER, DESK),
           Caller(CallerKind.CIVIL_SERVANT, subject="CB-2", agency_code=DESK),   # no appointment at all
           agency(OTHER_DESK),                                      # another member's system
           Caller(CallerKind.ANONYMOUS)]


def test_the_receiving_agency_is_the_dossier_codes_beginning() -> None:
    assert receiving_agency_of(CODE) == DESK
    assert receiving_agency_of("no-dash-here") == "no"
    assert receiving_agency_of("nodash") == ""


@pytest.mark.parametrize("caller", READERS, ids=lambda c: c.actor)
def test_a_bill_and_a_shipment_are_read_by_their_citizen_the_receiving_desk_and_its_member(caller: Caller) -> None:
    bill().check_readable_by(caller)
    shipment().ensure_visible_to(caller)


@pytest.mark.parametrize("caller", REFUSED, ids=lambda c: c.actor)
def test_nobody_else_reads_a_bill_or_a_shipment(caller: Caller) -> None:
    with pytest.raises(PermissionDenied):
        bill().check_readable_by(caller)
    with pytest.raises(PermissionDenied):
        shipment().ensure_visible_to(caller)


def test_a_civil_servant_lists_only_notifications_about_dossiers_their_desk_received() -> None:
    listing = citizen_to_list(servant(Role.RECEIVER, DESK), OWNER)
    assert listing.citizen_id == OWNER
    assert listing.visible(CODE)
    assert not listing.visible(f"{OTHER_DESK}-261207-0001")       # filed elsewhere
    assert not listing.visible("")                               # a notice about the account itself
    with pytest.raises(PermissionDenied, match="read with the role"):
        citizen_to_list(servant(Role.RECEIVER, DESK), OWNER, f"{OTHER_DESK}-261207-0001")
    with pytest.raises(PermissionDenied, match="receiver or result_desk"):
        citizen_to_list(servant(Role.SPECIALIST, DESK), OWNER)
    with pytest.raises(PermissionDenied):
        citizen_to_list(agency(DESK), OWNER)
    assert citizen_to_list(OPERATOR, OWNER).visible("")


def test_an_agency_system_reads_only_dossiers_its_member_received_is_competent_for_or_handled() -> None:
    d = submitted(vn(date(2026, 12, 7)), on=entry(LAND, VY_DA), desk=VY_DA_DESK)
    for member in d.agencies:
        check_can_view(d, agency(member), UNITS)
    with pytest.raises(PermissionDenied, match="not one your member"):
        check_can_view(d, agency("000.00.15.H57"), UNITS)         # granted GetDossier, but not involved
    d.accept(vn(date(2026, 12, 7)), "r")
    d.transfer("000.00.31.H57", "district", "chuyển quận", vn(date(2026, 12, 7), 10), "s")
    check_can_view(d, agency("000.00.31.H57"), UNITS)             # the agency it was transferred to
