"""Who may read a citizen's record in identity (issue 12, item 7)."""

import pytest

from services.common.caller import OPERATOR, Caller, CallerKind
from services.common.errors import PermissionDenied
from services.identity.domain.access import CITIZEN_RECORD_READERS, check_can_read_citizen

AN = "046090012345"
HUE = "000.00.15.H57"


def filed(pairs: set[tuple[str, str]]):  # type: ignore[no-untyped-def]
    return lambda citizen_id, agency: (citizen_id, agency) in pairs


def servant(role: str, agency: str = HUE) -> Caller:
    return Caller(CallerKind.CIVIL_SERVANT, subject="cb-1", agency_code=agency, role=role)


@pytest.mark.parametrize("role", sorted(CITIZEN_RECORD_READERS))
def test_a_servant_whose_work_needs_it_reads_people_who_filed_with_the_agency(role: str) -> None:
    check_can_read_citizen(servant(role), AN, filed({(AN, HUE)}))
    with pytest.raises(PermissionDenied, match="filed a dossier with their agency"):
        check_can_read_citizen(servant(role, "000.00.31.H57"), AN, filed({(AN, HUE)}))
    with pytest.raises(PermissionDenied, match="filed a dossier with their agency"):
        check_can_read_citizen(servant(role), AN, filed(set()))


@pytest.mark.parametrize("role", ["leader", "supervisor", "approver", ""])
def test_other_roles_read_no_records(role: str) -> None:
    with pytest.raises(PermissionDenied) as refused:
        check_can_read_citizen(servant(role), AN, filed({(AN, HUE)}))
    assert refused.value.field == "caller"


def test_a_citizen_reads_their_own_record_an_operator_and_a_granted_agency_system_any() -> None:
    check_can_read_citizen(Caller(CallerKind.CITIZEN, subject=AN), AN, filed(set()))
    with pytest.raises(PermissionDenied):
        check_can_read_citizen(Caller(CallerKind.CITIZEN, subject="046185006789"), AN, filed(set()))
    check_can_read_citizen(OPERATOR, AN, filed(set()))
    check_can_read_citizen(Caller(CallerKind.AGENCY, subject="VN/GOV/000.00.15.H57/one-stop-desk"), AN, filed(set()))
    with pytest.raises(PermissionDenied):
        check_can_read_citizen(Caller(CallerKind.ANONYMOUS), AN, filed(set()))
