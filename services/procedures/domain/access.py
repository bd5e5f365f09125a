"""Which dossiers a caller may see and act on. The gateway already refuses a method to a kind of
caller that may never call it; these rules decide about one dossier at a time."""

from dataclasses import dataclass

from services.common.caller import Caller, CallerKind
from services.common.citizen_id import check_citizen_id
from services.common.errors import InvalidArgument, PermissionDenied
from services.procedures.domain.catalogue import Procedure
from services.procedures.domain.dossier import Channel, Dossier

# Agency systems file dossiers they receive in person: a one-stop desk's software or a post office.
AGENCY_CHANNELS = frozenset({Channel.COUNTER, Channel.POST_OFFICE})


@dataclass(frozen=True)
class Filing:
    """On whose behalf, and through which channel, a dossier is being filed."""

    applicant_citizen_id: str
    channel: Channel


def filing_for(caller: Caller, applicant_citizen_id: str, procedure: Procedure) -> Filing:
    if caller.kind is CallerKind.CITIZEN:
        if applicant_citizen_id and applicant_citizen_id != caller.subject:
            raise PermissionDenied("applicant_citizen_id", "a citizen files dossiers only for themselves")
        filing = Filing(caller.subject, Channel.ONLINE)
    elif caller.kind is CallerKind.CIVIL_SERVANT:
        if procedure.agency_code != caller.agency_code:
            raise PermissionDenied("procedure_code",
                                   f"procedure {procedure.code} is received by {procedure.agency_code}, "
                                   f"not by your agency {caller.agency_code or '(none)'}")
        filing = Filing(_required_applicant(applicant_citizen_id), Channel.COUNTER)
    elif caller.kind is CallerKind.AGENCY:
        channel = next((c for c in AGENCY_CHANNELS if c.value == caller.channel), None)
        if channel is None:
            allowed = " or ".join(sorted(AGENCY_CHANNELS))
            raise PermissionDenied("caller",
                                   f"agency systems file through {allowed}, not {caller.channel or '(none)'}")
        filing = Filing(_required_applicant(applicant_citizen_id), channel)
    else:
        raise PermissionDenied("caller", f"{caller.kind.value} may not file dossiers")
    check_citizen_id(filing.applicant_citizen_id, "applicant_citizen_id")
    return filing


def _required_applicant(applicant_citizen_id: str) -> str:
    if not applicant_citizen_id:
        raise InvalidArgument("applicant_citizen_id", "is required when filing on a citizen's behalf")
    return applicant_citizen_id


def check_can_view(dossier: Dossier, caller: Caller) -> None:
    if caller.kind is CallerKind.CITIZEN:
        _check_own(dossier, caller)
    elif caller.kind is CallerKind.CIVIL_SERVANT:
        _check_own_agency(dossier, caller)
    elif caller.kind not in (CallerKind.AGENCY, CallerKind.OPERATOR):
        raise PermissionDenied("caller", f"{caller.kind.value} may not see dossiers")


def check_can_process(dossier: Dossier, caller: Caller) -> None:
    """Accepting, working, approving, rejecting and issuing: the receiving agency's civil servants."""
    if caller.kind is CallerKind.OPERATOR:
        return
    if caller.kind is not CallerKind.CIVIL_SERVANT:
        raise PermissionDenied("caller", "only the receiving agency's civil servants process dossiers")
    _check_own_agency(dossier, caller)


def check_can_supplement(dossier: Dossier, caller: Caller) -> None:
    if caller.kind is CallerKind.CITIZEN:
        _check_own(dossier, caller)
    else:
        check_can_process(dossier, caller)


def _check_own(dossier: Dossier, caller: Caller) -> None:
    if dossier.applicant_citizen_id != caller.subject:
        raise PermissionDenied("code", f"dossier {dossier.code} is not yours")


def _check_own_agency(dossier: Dossier, caller: Caller) -> None:
    if dossier.agency_code != caller.agency_code:
        raise PermissionDenied("code", f"dossier {dossier.code} belongs to agency {dossier.agency_code}")
