"""Who may read whose notifications (issue 12 item 7, services/common/dossier_scope.py).

A citizen reads their own. A civil servant names the citizen and reads, through the role receiver or
result desk, only the notifications about dossiers their agency received (the desk the citizen asks);
never a notice about the account itself (registration, recovery). An operator reads any.
"""

from collections.abc import Callable
from dataclasses import dataclass

from services.common.caller import Caller, CallerKind
from services.common.citizen_id import check_citizen_id
from services.common.dossier_scope import DESK_ROLES, check_can_read_desk_record, desk_agencies, receiving_agency_of
from services.common.errors import InvalidArgument, PermissionDenied


@dataclass(frozen=True)
class Listing:
    """Whose notifications to list, and which of them the caller may see."""

    citizen_id: str
    visible: Callable[[str], bool]      # by the notification's dossier code


def citizen_to_list(caller: Caller, requested_citizen_id: str, dossier_code: str = "") -> Listing:
    """Citizens read their own (naming nobody or themselves); civil servants name the citizen."""
    if caller.kind is CallerKind.CITIZEN:
        if requested_citizen_id and requested_citizen_id != caller.subject:
            raise PermissionDenied("citizen_id", "a citizen may only read their own notifications")
        return Listing(caller.subject, lambda _code: True)
    if caller.kind is CallerKind.OPERATOR:
        return Listing(_named(requested_citizen_id), lambda _code: True)
    if caller.kind is CallerKind.CIVIL_SERVANT:
        citizen_id = _named(requested_citizen_id)
        desks = desk_agencies(caller)
        if not desks:
            roles = " or ".join(r.value for r in DESK_ROLES)
            raise PermissionDenied("caller", f"notifications are read with the role {roles} at the desk "
                                             f"that received the dossier; you hold none")
        if dossier_code:
            check_can_read_desk_record(caller, record="the notifications", dossier_code=dossier_code,
                                       citizen_id=citizen_id)
        return Listing(citizen_id, lambda code: bool(code) and receiving_agency_of(code) in desks)
    raise PermissionDenied("caller", f"{caller.kind.value} may not read notifications")


def _named(requested_citizen_id: str) -> str:
    if not requested_citizen_id:
        raise InvalidArgument("citizen_id", "is required for a civil servant")
    return check_citizen_id(requested_citizen_id)
