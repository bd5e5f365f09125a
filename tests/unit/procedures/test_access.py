from datetime import date

import pytest

from services.common.caller import OPERATOR, Caller, CallerKind
from services.common.errors import InvalidArgument, PermissionDenied
from services.procedures.domain.access import (
    check_can_process,
    check_can_supplement,
    check_can_view,
    filing_for,
)
from services.procedures.domain.dossier import Channel
from tests.unit.procedures.factories import AGENCY, CITIZEN, procedure, submitted, vn

OTHER_CITIZEN = "046190000999"
citizen = Caller(CallerKind.CITIZEN, subject=CITIZEN)
stranger = Caller(CallerKind.CITIZEN, subject=OTHER_CITIZEN)
clerk = Caller(CallerKind.CIVIL_SERVANT, subject="CB001", agency_code=AGENCY)
other_clerk = Caller(CallerKind.CIVIL_SERVANT, subject="CB002", agency_code="000.00.07.H57")


def post_office(channel: str = "CHANNEL_POST_OFFICE") -> Caller:
    return Caller(CallerKind.AGENCY, subject="VN/GOV/VNPOST/dvc", channel=channel)


def test_a_citizen_files_online_for_themselves_only() -> None:
    assert filing_for(citizen, "", procedure()).applicant_citizen_id == CITIZEN
    assert filing_for(citizen, CITIZEN, procedure()).channel is Channel.ONLINE
    with pytest.raises(PermissionDenied) as caught:
        filing_for(citizen, OTHER_CITIZEN, procedure())
    assert caught.value.field == "applicant_citizen_id"


def test_a_civil_servant_files_at_the_counter_of_their_own_agency() -> None:
    filing = filing_for(clerk, OTHER_CITIZEN, procedure())
    assert (filing.applicant_citizen_id, filing.channel) == (OTHER_CITIZEN, Channel.COUNTER)
    with pytest.raises(InvalidArgument) as missing:
        filing_for(clerk, "", procedure())
    assert missing.value.field == "applicant_citizen_id"
    with pytest.raises(PermissionDenied) as elsewhere:
        filing_for(other_clerk, OTHER_CITIZEN, procedure())
    assert elsewhere.value.field == "procedure_code"


def test_agency_systems_file_through_their_channel() -> None:
    assert filing_for(post_office(), CITIZEN, procedure()).channel is Channel.POST_OFFICE
    assert filing_for(post_office("CHANNEL_COUNTER"), CITIZEN, procedure()).channel is Channel.COUNTER
    with pytest.raises(PermissionDenied):
        filing_for(post_office("CHANNEL_ONLINE"), CITIZEN, procedure())
    with pytest.raises(InvalidArgument):
        filing_for(post_office(), "", procedure())


def test_anonymous_callers_file_nothing_and_ids_are_checked() -> None:
    with pytest.raises(PermissionDenied):
        filing_for(Caller(CallerKind.ANONYMOUS), CITIZEN, procedure())
    with pytest.raises(InvalidArgument) as caught:
        filing_for(clerk, "0461900001", procedure())
    assert caught.value.field == "applicant_citizen_id"


def test_who_sees_a_dossier() -> None:
    dossier = submitted(vn(date(2027, 3, 1)))
    for allowed in (citizen, clerk, post_office(), OPERATOR):
        check_can_view(dossier, allowed)
    for denied in (stranger, other_clerk):
        with pytest.raises(PermissionDenied) as caught:
            check_can_view(dossier, denied)
        assert caught.value.field == "code"
    with pytest.raises(PermissionDenied):
        check_can_view(dossier, Caller(CallerKind.ANONYMOUS))


def test_only_the_receiving_agency_processes_and_the_applicant_may_supplement() -> None:
    dossier = submitted(vn(date(2027, 3, 1)))
    check_can_process(dossier, clerk)
    for denied in (citizen, other_clerk, post_office()):
        with pytest.raises(PermissionDenied):
            check_can_process(dossier, denied)
    check_can_supplement(dossier, citizen)
    check_can_supplement(dossier, clerk)
    with pytest.raises(PermissionDenied) as caught:
        check_can_supplement(dossier, stranger)
    assert caught.value.field == "code"
