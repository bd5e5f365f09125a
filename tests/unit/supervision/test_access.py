"""Who reads which part of the index, and which periods may be asked for (domain/access.py)."""

from datetime import date

import pytest

from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument, NotFound, PermissionDenied
from services.common.roles import Appointment, Role
from services.supervision.adapters.units import load_units
from services.supervision.domain.access import Kind, Scope, check_scope, months_of

TREE = load_units()
# The edition procedures imports (2025-03): province → district → commune.
PROVINCE, THUAN_HOA, VY_DA, PHUONG_DUC = "46", "474", "19777", "19780"
VY_DA_COMMITTEE, THUAN_HOA_COMMITTEE, JUSTICE = "000.01.31.H57", "000.00.31.H57", "000.00.15.H57"


def supervisor(*codes: str) -> Caller:
    return Caller(CallerKind.CIVIL_SERVANT, subject="gs-1",
                  appointments=tuple(Appointment(c, Role.SUPERVISOR) for c in codes))


def test_a_commune_supervisor_sees_the_commune_and_its_agencies_not_its_neighbour_or_the_province() -> None:
    commune = supervisor(VY_DA_COMMITTEE)       # at the People's Committee's agency code
    check_scope(Scope(Kind.UNIT, VY_DA), commune, TREE)
    check_scope(Scope(Kind.RECEIVING, VY_DA_COMMITTEE), commune, TREE)
    for outside in (Scope(Kind.UNIT, PHUONG_DUC), Scope(Kind.UNIT, THUAN_HOA), Scope(Kind.UNIT, PROVINCE),
                    Scope(Kind.PROCEDURE, "1.001")):
        with pytest.raises(PermissionDenied) as refused:
            check_scope(outside, commune, TREE)
        assert refused.value.field == "scope.code"


def test_the_province_supervisor_sees_every_unit_agency_and_procedure() -> None:
    province = supervisor(PROVINCE)                # at the unit's GSO code
    for scope in (Scope(Kind.UNIT, PHUONG_DUC), Scope(Kind.AGENCY, JUSTICE), Scope(Kind.PROCEDURE, "1.001")):
        check_scope(scope, province, TREE)


def test_a_district_supervisor_sees_its_communes_and_not_the_province() -> None:
    district = supervisor(THUAN_HOA_COMMITTEE)
    for scope in (Scope(Kind.UNIT, THUAN_HOA), Scope(Kind.UNIT, VY_DA), Scope(Kind.RECEIVING, VY_DA_COMMITTEE)):
        check_scope(scope, district, TREE)
    with pytest.raises(PermissionDenied):
        check_scope(Scope(Kind.UNIT, PROVINCE), district, TREE)


def test_a_department_supervisor_sees_that_department_alone() -> None:
    department = supervisor(JUSTICE)
    check_scope(Scope(Kind.AGENCY, JUSTICE), department, TREE)
    with pytest.raises(PermissionDenied):
        check_scope(Scope(Kind.UNIT, PROVINCE), department, TREE)


def test_unknown_codes_are_not_found_and_other_roles_or_citizens_are_refused() -> None:
    with pytest.raises(NotFound, match="99999"):
        check_scope(Scope(Kind.UNIT, "99999"), supervisor(PROVINCE), TREE)
    with pytest.raises(NotFound):
        check_scope(Scope(Kind.AGENCY, "000.00.99.H57"), supervisor(PROVINCE), TREE)
    leader = Caller(CallerKind.CIVIL_SERVANT, appointments=(Appointment(VY_DA_COMMITTEE, Role.LEADER),))
    with pytest.raises(PermissionDenied, match="supervisor"):
        check_scope(Scope(Kind.UNIT, VY_DA), leader, TREE)
    with pytest.raises(PermissionDenied):
        check_scope(Scope(Kind.UNIT, VY_DA), Caller(CallerKind.CITIZEN, subject="046200001234"), TREE)
    check_scope(Scope(Kind.UNIT, PROVINCE), Caller(CallerKind.AGENCY, subject="VN/GOV/X"), TREE)  # granted


def test_periods_future_reversed_too_long_or_malformed_are_refused_naming_the_field() -> None:
    today = date(2026, 12, 7)
    assert months_of("2025-12", "2026-02", today, 13) == ["2025-12", "2026-01", "2026-02"]
    assert len(months_of("2025-12", "2026-12", today, 13)) == 13
    cases = {("2026-11", "2027-01"): "to_month", ("2026-05", "2026-03"): "from_month",
             ("2024-01", "2026-01"): "from_month", ("2026-13", "2026-12"): "from_month",
             ("2026-01", "26-1"): "to_month"}
    for (first, last), field in cases.items():
        with pytest.raises(InvalidArgument) as refused:
            months_of(first, last, today, 13)
        assert refused.value.field == field, (first, last)
