"""Who may read a citizen's record in identity: the rule in one place (issue 12, item 7), for the role
matrix of issue 10 to extend.

- A citizen reads their own record only.
- A civil servant reads a record only if they hold a role that needs people's contact details
  (CITIZEN_RECORD_READERS) in an agency the citizen has filed a dossier with (their appointments,
  services/common/roles.py; a token without appointments counts its one role and agency)
  (identity learns it from DossierSubmitted). A leader or a supervisor sees dossiers, not people's
  records. The refusal is the same whether or not the citizen exists.
- An agency system reads what its subsystem is granted (GetCitizen, per subsystem, at the gateway):
  verifying a citizen is what such a grant is for.
- An operator reads any record.
"""

from collections.abc import Callable

from services.common.caller import Caller, CallerKind
from services.common.errors import PermissionDenied

# Roles whose work needs a citizen's contact details and address: taking in a dossier, working it,
# returning the result. Issue 10 names roles per unit; add a role here when its work needs them.
CITIZEN_RECORD_READERS = frozenset({"receiver", "specialist", "result_desk"})

HasFiledWith = Callable[[str, str], bool]   # (citizen ID, agency code) -> a dossier was filed there


def check_can_read_citizen(caller: Caller, citizen_id: str, has_filed_with: HasFiledWith) -> None:
    if caller.kind in (CallerKind.OPERATOR, CallerKind.AGENCY):
        return
    if caller.kind is CallerKind.CITIZEN:
        if caller.subject != citizen_id:
            raise PermissionDenied("citizen_id", "a citizen may look up only their own record")
        return
    if caller.kind is not CallerKind.CIVIL_SERVANT:
        raise PermissionDenied("caller", f"{caller.kind.value} may not read citizens' records")
    held = {(a.agency_code, a.role.value) for a in caller.appointments} or {(caller.agency_code, caller.role)}
    readers = sorted(agency for agency, role in held if role in CITIZEN_RECORD_READERS)
    if not readers:
        roles = ", ".join(sorted({role or "(none)" for _, role in held}))
        raise PermissionDenied("caller", f"the role {roles} does not read citizens' records; "
                                         f"{', '.join(sorted(CITIZEN_RECORD_READERS))} do")
    if not any(has_filed_with(citizen_id, agency) for agency in readers):
        raise PermissionDenied("citizen_id", f"a civil servant reads the records of people who filed a dossier with "
                                             f"their agency ({', '.join(readers)}) only")
