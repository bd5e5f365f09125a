"""Who may do what to a dossier: one role matrix for every action (Decree 61/2018/NĐ-CP as amended:
the one-stop desk receives and returns results, the competent agency examines and decides).

A civil servant acts through an appointment, a role held in one agency (services/common/roles.py).
Each action names the roles that may take it and whose agency they must hold it in: the receiving
unit's (the desk that received the dossier) or the handling agency's (the competent agency, or the
one the dossier was transferred to). A refusal is PERMISSION_DENIED naming the role and agency missing.
The gateway has already refused a method to a kind of caller that may never call it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from services.common.caller import Caller, CallerKind
from services.common.errors import PermissionDenied
from services.common.roles import Role
from services.procedures.domain.dossier import Dossier
from services.procedures.domain.units import UnitTree


class Action(StrEnum):
    FILE = "file a dossier at the desk"
    ACCEPT = "accept a dossier"
    RETURN_FOR_SUPPLEMENT = "return a dossier for supplement"
    REFUSE = "refuse a dossier"
    PROVIDE_SUPPLEMENT = "hand in a supplement"
    ASSIGN = "assign a dossier"
    RECORD_STEP = "record a step"
    REQUEST_SUPPLEMENT = "request a supplement"
    TRANSFER = "transfer a dossier"
    APPROVE = "approve a dossier"
    REJECT = "reject a dossier"
    ISSUE_RESULT = "issue a result"
    APOLOGISE = "apologise and re-appoint"
    EXTEND = "extend a dossier"
    COLLECT = "hand over a result at the desk"


class Place(StrEnum):
    RECEIVING = "receiving unit"
    HANDLING = "handling agency"


@dataclass(frozen=True)
class Rule:
    roles: tuple[Role, ...]
    place: Place


MATRIX: dict[Action, Rule] = {
    Action.FILE: Rule((Role.RECEIVER,), Place.RECEIVING),
    Action.ACCEPT: Rule((Role.RECEIVER,), Place.RECEIVING),
    Action.RETURN_FOR_SUPPLEMENT: Rule((Role.RECEIVER,), Place.RECEIVING),
    Action.REFUSE: Rule((Role.RECEIVER,), Place.RECEIVING),
    Action.PROVIDE_SUPPLEMENT: Rule((Role.RECEIVER,), Place.RECEIVING),
    Action.ASSIGN: Rule((Role.LEADER,), Place.HANDLING),
    Action.RECORD_STEP: Rule((Role.SPECIALIST, Role.LEADER), Place.HANDLING),
    Action.REQUEST_SUPPLEMENT: Rule((Role.SPECIALIST,), Place.HANDLING),
    Action.TRANSFER: Rule((Role.SPECIALIST, Role.LEADER), Place.HANDLING),
    Action.APPROVE: Rule((Role.LEADER,), Place.HANDLING),
    Action.REJECT: Rule((Role.LEADER,), Place.HANDLING),
    Action.ISSUE_RESULT: Rule((Role.RESULT_DESK,), Place.RECEIVING),
    # Mẫu 04 is signed for the agency whose handling makes the dossier late: its leader.
    Action.APOLOGISE: Rule((Role.LEADER,), Place.HANDLING),
    Action.EXTEND: Rule((Role.LEADER,), Place.HANDLING),
    Action.COLLECT: Rule((Role.RESULT_DESK,), Place.RECEIVING),
}


def require_role(caller: Caller, action: Action, agency_code: str) -> None:
    """The caller holds one of the action's roles in `agency_code` (operators always pass)."""
    if caller.kind is CallerKind.OPERATOR:
        return
    rule = MATRIX[action]
    if caller.kind is not CallerKind.CIVIL_SERVANT:
        raise PermissionDenied("caller", f"only civil servants {action.value}")
    if any(caller.holds(role, agency_code) for role in rule.roles):
        return
    roles = " or ".join(r.value for r in rule.roles)
    held = ", ".join(a.to_claim() for a in caller.appointments) or "no role"
    raise PermissionDenied("caller", f"to {action.value} you need the role {roles} in {agency_code} "
                                     f"(the dossier's {rule.place.value}); you hold {held}")


def check_action(dossier: Dossier, caller: Caller, action: Action) -> None:
    rule = MATRIX[action]
    agency = dossier.receiving_agency_code if rule.place is Place.RECEIVING else dossier.handling_agency_code
    require_role(caller, action, agency)


def action_checker(action: Action) -> Callable[[Dossier, Caller], None]:
    return lambda dossier, caller: check_action(dossier, caller, action)


def check_can_supplement(dossier: Dossier, caller: Caller) -> None:
    """The applicant online, or the receiving desk for a walk-in who brings the papers."""
    if caller.kind is CallerKind.CITIZEN:
        check_own(dossier, caller)
    else:
        check_action(dossier, caller, Action.PROVIDE_SUPPLEMENT)


def check_own(dossier: Dossier, caller: Caller) -> None:
    if caller.subject not in dossier.parties:
        raise PermissionDenied("code", f"dossier {dossier.code} is not yours")


def visible_agencies(caller: Caller, units: UnitTree) -> tuple[frozenset[str], frozenset[str]]:
    """(agencies whose dossiers the caller sees, units whose dossiers they see as a supervisor).

    Any role in an agency shows the dossiers that agency received, is competent for or has handled;
    a supervisor of a unit's People's Committee also sees every dossier implemented in that unit or
    below it."""
    agencies = caller.agencies_with()
    supervised: set[str] = set()
    for agency_code in caller.agencies_with(Role.SUPERVISOR):
        unit = units.unit_of_agency(agency_code)
        if unit is not None and unit.agency_code == agency_code:
            supervised.add(unit.code)
    return agencies, frozenset(supervised)


def check_can_view(dossier: Dossier, caller: Caller, units: UnitTree) -> None:
    if caller.kind is CallerKind.CITIZEN:
        check_own(dossier, caller)
    elif caller.kind is CallerKind.CIVIL_SERVANT:
        agencies, supervised = visible_agencies(caller, units)
        if agencies & set(dossier.agencies) or supervised & set(dossier.units):
            return
        raise PermissionDenied("code", f"dossier {dossier.code} is not one your agencies received, are "
                                       f"competent for or handled, nor in a unit you supervise")
    elif caller.kind is CallerKind.AGENCY:
        # An agency system reads, under its grant, the dossiers its member received, is competent
        # for or handled: the member code of a state agency is its agency code (docs/AGENCIES.md).
        if caller.agency_code and caller.agency_code in dossier.agencies:
            return
        raise PermissionDenied("code", f"dossier {dossier.code} is not one your member "
                                       f"({caller.agency_code or '?'}) received, is competent for or handled")
    elif caller.kind is not CallerKind.OPERATOR:
        raise PermissionDenied("caller", f"{caller.kind.value} may not see dossiers")
