"""Who may read a record kept about a dossier (issue 12 item 7): the dossier itself in procedures,
and the records other services keep around it: its fee bill (payments), its shipment (postal) and
the notifications about it (notifications). Plain rules; each service asks them before answering.

One rule shape for every read, the one procedures applies to dossiers (services/procedures/domain/
access.py): a citizen reads their own; a civil servant reads through a role held in an agency that
has to do with the dossier; an agency system reads through its member being that agency; an operator
reads anything; nobody else reads.

Which agencies have to do with a record depends on the record. The dossier is every agency's that
received it, is competent for it or handled it. The records around it belong to the receiving unit
(the one-stop desk: under Decree 61/2018 as amended it collects the fees, hands the result over or
sends it by post, and is who the citizen asks about a notice), whose agency code begins the dossier's
code (`<receiving agency code>-YYMMDD-XXXX`, Circular 01/2018/TT-VPCP art. 26): so a bill, a
shipment or a notification needs no copy of the dossier's agencies to be scoped.
"""

from collections.abc import Collection

from services.common.caller import Caller, CallerKind
from services.common.errors import PermissionDenied
from services.common.roles import Role

# The receiving unit's roles whose work is the records around a dossier: the receiver takes the fee
# and answers the applicant at the desk; the result desk checks the fee before handing the result
# over, and returns it by post.
DESK_ROLES = (Role.RECEIVER, Role.RESULT_DESK)


def receiving_agency_of(dossier_code: str) -> str:
    """The receiving unit's agency code a dossier code begins with (agency codes hold no dash)."""
    agency, sep, _ = dossier_code.partition("-")
    return agency if sep else ""


def check_can_read(caller: Caller, *, record: str, dossier_code: str, citizens: Collection[str],
                   agencies: Collection[str], roles: Collection[Role]) -> None:
    """PERMISSION_DENIED unless the caller may read `record` (e.g. "the bill") of the dossier.

    `citizens`: whose record it is; `agencies`: the agencies it belongs to; `roles`: the roles
    through which a civil servant of one of those agencies reads it."""
    if caller.kind is CallerKind.OPERATOR:
        return
    if caller.kind is CallerKind.CITIZEN:
        if caller.subject and caller.subject in citizens:
            return
        raise PermissionDenied("dossier_code", f"{record} of dossier {dossier_code} is not yours")
    if caller.kind is CallerKind.CIVIL_SERVANT:
        if caller.agencies_with(*roles) & set(agencies):
            return
        needed = " or ".join(r.value for r in roles)
        raise PermissionDenied("dossier_code", f"{record} of dossier {dossier_code} is read with the role "
                                               f"{needed} in {' or '.join(sorted(agencies)) or 'its agency'}")
    if caller.kind is CallerKind.AGENCY:
        if caller.agency_code and caller.agency_code in agencies:
            return
        raise PermissionDenied("dossier_code", f"{record} of dossier {dossier_code} is not your member's: "
                                               f"member {caller.agency_code or '?'} is not "
                                               f"{' or '.join(sorted(agencies)) or 'its agency'}")
    raise PermissionDenied("caller", f"{caller.kind.value} may not read {record}")


def check_can_read_desk_record(caller: Caller, *, record: str, dossier_code: str, citizen_id: str) -> None:
    """A record the receiving unit keeps: a bill, a shipment, a notification about a dossier."""
    receiving = receiving_agency_of(dossier_code)
    check_can_read(caller, record=record, dossier_code=dossier_code, citizens=(citizen_id,),
                   agencies=(receiving,) if receiving else (), roles=DESK_ROLES)


def desk_agencies(caller: Caller) -> frozenset[str]:
    """The receiving units whose dossiers' records a civil servant reads (empty: none)."""
    return caller.agencies_with(*DESK_ROLES)
