"""Who may read whose notifications."""

from services.common.caller import Caller, CallerKind
from services.common.citizen_id import check_citizen_id
from services.common.errors import InvalidArgument, PermissionDenied


def citizen_to_list(caller: Caller, requested_citizen_id: str) -> str:
    """Citizens read their own (naming nobody or themselves); civil servants name the citizen."""
    if caller.kind is CallerKind.CITIZEN:
        if requested_citizen_id and requested_citizen_id != caller.subject:
            raise PermissionDenied("citizen_id", "a citizen may only read their own notifications")
        return caller.subject
    if caller.kind in (CallerKind.CIVIL_SERVANT, CallerKind.OPERATOR):
        if not requested_citizen_id:
            raise InvalidArgument("citizen_id", "is required for a civil servant")
        return check_citizen_id(requested_citizen_id)
    raise PermissionDenied("caller", f"{caller.kind.value} may not read notifications")
