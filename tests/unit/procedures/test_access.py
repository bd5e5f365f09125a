"""The role matrix, action by action: who holds which role in which agency may take it, everyone else
is refused PERMISSION_DENIED naming the role and agency missing; reads limited to the caller's units."""

from datetime import date

import pytest

from services.common.caller import OPERATOR, Caller, CallerKind
from services.common.errors import PermissionDenied
from services.common.roles import Role
from services.procedures.domain.access import (
    MATRIX,
    Action,
    Place,
    check_action,
    check_can_supplement,
    check_can_view,
    require_role,
)
from services.procedures.domain.dossier import Dossier
from tests.unit.procedures.factories import (
    CENTRE,
    CITIZEN,
    JUSTICE,
    LAND,
    OTHER_CITIZEN,
    THUAN_HOA,
    UNITS,
    VY_DA,
    VY_DA_DESK,
    desk_application,
    entry,
    proxy,
    role,
    servant,
    submitted,
    vn,
)

MONDAY = date(2026, 12, 7)


def dossier() -> Dossier:
    return submitted(vn(MONDAY))          # received by the centre for the Department of Justice


def agency_for(place: Place, d: Dossier) -> str:
    return d.receiving_agency_code if place is Place.RECEIVING else d.handling_agency_code


def other_agency(place: Place, d: Dossier) -> str:
    return d.handling_agency_code if place is Place.RECEIVING else d.receiving_agency_code


@pytest.mark.parametrize("action", list(Action))
def test_every_action_allows_its_roles_in_its_agency(action: Action) -> None:
    d, rule = dossier(), MATRIX[action]
    for allowed in rule.roles:
        check_action(d, servant(role(allowed, agency_for(rule.place, d))), action)
    check_action(d, OPERATOR, action)


@pytest.mark.parametrize("action", list(Action))
def test_every_action_refuses_every_other_role_naming_what_is_missing(action: Action) -> None:
    d, rule = dossier(), MATRIX[action]
    for other in set(Role) - set(rule.roles):
        caller = servant(role(other, agency_for(rule.place, d)))
        with pytest.raises(PermissionDenied) as refused:
            check_action(d, caller, action)
        assert rule.roles[0].value in refused.value.message
        assert agency_for(rule.place, d) in refused.value.message


@pytest.mark.parametrize("action", list(Action))
def test_every_action_refuses_the_right_role_in_another_agency(action: Action) -> None:
    d, rule = dossier(), MATRIX[action]
    caller = servant(*(role(r, other_agency(rule.place, d)) for r in rule.roles),
                     *(role(r, THUAN_HOA.agency_code) for r in Role))
    with pytest.raises(PermissionDenied, match=agency_for(rule.place, d)):
        check_action(d, caller, action)


@pytest.mark.parametrize("kind", [CallerKind.CITIZEN, CallerKind.AGENCY, CallerKind.ANONYMOUS])
def test_no_action_for_anyone_but_civil_servants(kind: CallerKind) -> None:
    for action in Action:
        with pytest.raises(PermissionDenied, match="only civil servants"):
            check_action(dossier(), Caller(kind, subject=CITIZEN), action)


def test_a_receiver_cannot_approve_and_a_specialist_of_a_cannot_touch_b() -> None:
    d = dossier()
    with pytest.raises(PermissionDenied, match=r"need the role leader in 000\.00\.15\.H57"):
        check_action(d, servant(role(Role.RECEIVER, CENTRE.agency_code)), Action.APPROVE)
    with pytest.raises(PermissionDenied, match=r"you hold specialist@000\.00\.31\.H57"):
        check_action(d, servant(role(Role.SPECIALIST, THUAN_HOA.agency_code)), Action.RECORD_STEP)


def test_after_a_transfer_the_new_agency_works_it_and_the_old_one_no_longer_can() -> None:
    d = submitted(vn(MONDAY), on=entry(LAND, VY_DA), desk=VY_DA_DESK)
    d.accept(vn(MONDAY), "r")
    d.transfer(THUAN_HOA.agency_code, "district", "chuyển quận", vn(MONDAY, 10), "s")
    check_action(d, servant(role(Role.LEADER, THUAN_HOA.agency_code)), Action.APPROVE)
    with pytest.raises(PermissionDenied):
        check_action(d, servant(role(Role.LEADER, VY_DA.agency_code)), Action.APPROVE)
    # the commune still sees what it handled, and its desk still hands the result over
    check_can_view(d, servant(role(Role.SPECIALIST, VY_DA.agency_code)), UNITS)
    check_action(d, servant(role(Role.RESULT_DESK, VY_DA.agency_code)), Action.ISSUE_RESULT)


def test_reads_are_limited_to_the_callers_agencies_and_supervised_units() -> None:
    d = submitted(vn(MONDAY), on=entry(LAND, VY_DA), desk=VY_DA_DESK)
    for allowed in (servant(role(Role.RECEIVER, VY_DA.agency_code)),
                    servant(role(Role.SUPERVISOR, THUAN_HOA.agency_code)),    # the district above
                    servant(role(Role.SUPERVISOR, "000.00.00.H57"))):          # the city
        check_can_view(d, allowed, UNITS)
    for refused in (servant(role(Role.LEADER, THUAN_HOA.agency_code)),        # not involved yet
                    servant(role(Role.SUPERVISOR, "000.00.32.H57")),          # another district
                    servant(role(Role.SUPERVISOR, JUSTICE.agency_code)),      # a department
                    servant()):
        with pytest.raises(PermissionDenied, match="not one your agencies"):
            check_can_view(d, refused, UNITS)


def test_citizens_see_and_supplement_their_own_dossiers_a_proxy_too() -> None:
    d = submitted(vn(MONDAY), app=desk_application(proxy=proxy()))
    for subject in (CITIZEN, OTHER_CITIZEN):
        check_can_view(d, Caller(CallerKind.CITIZEN, subject=subject), UNITS)
        check_can_supplement(d, Caller(CallerKind.CITIZEN, subject=subject))
    with pytest.raises(PermissionDenied, match="not yours"):
        check_can_view(d, Caller(CallerKind.CITIZEN, subject="046190000999"), UNITS)


def test_filing_at_a_desk_needs_a_receiver_there() -> None:
    require_role(servant(role(Role.RECEIVER, VY_DA.agency_code)), Action.FILE, VY_DA.agency_code)
    with pytest.raises(PermissionDenied, match=r"need the role receiver in 000\.01\.31\.H57"):
        require_role(servant(role(Role.SPECIALIST, VY_DA.agency_code)), Action.FILE, VY_DA.agency_code)
