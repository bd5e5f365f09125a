"""Every kind of applicant: citizens, foreigners where the procedure allows them, organisations with
the person acting for them, and proxies only with their authorisation document."""

from datetime import date

import pytest

from services.common.errors import FailedPrecondition, InvalidArgument
from services.procedures.domain.applicants import Applicant, Verified, parties
from services.procedures.domain.procedure import ApplicantKind
from tests.unit.procedures.factories import (
    CITIZEN,
    LAND,
    OTHER_CITIZEN,
    VY_DA,
    VY_DA_DESK,
    citizen,
    desk_application,
    entry,
    proxy,
    submitted,
    vn,
)

MONDAY = date(2026, 12, 7)
FOREIGNER = Applicant(ApplicantKind.FOREIGNER, "M12345678", "KIM MIN JUN", nationality="KOR",
                      verified=Verified.PASSPORT_SEEN)
COMPANY = Applicant(ApplicantKind.ORGANISATION, "3301234567", "Công ty TNHH Sông Hương",
                    representative_id=CITIZEN, verified=Verified.BUSINESS_REGISTRY)


def test_a_foreigner_files_where_the_procedure_allows_foreigners() -> None:
    dossier = submitted(vn(MONDAY), app=desk_application(applicant=FOREIGNER))
    assert (dossier.applicant.nationality, dossier.applicant_citizen_id, dossier.parties) == (
        "KOR", "", ("M12345678",))
    with pytest.raises(FailedPrecondition, match="not open to foreigner applicants"):
        submitted(vn(MONDAY), on=entry(LAND, VY_DA), desk=VY_DA_DESK, app=desk_application(applicant=FOREIGNER))


@pytest.mark.parametrize(("changes", "field"), [
    ({"id_number": "12345"}, "applicant.id_number"),
    ({"nationality": "Korea"}, "applicant.nationality"),
    ({"full_name": " "}, "applicant.full_name"),
])
def test_a_foreigners_passport_and_nationality_are_checked(changes: dict[str, str], field: str) -> None:
    from dataclasses import replace
    with pytest.raises(InvalidArgument) as refused:
        submitted(vn(MONDAY), app=desk_application(applicant=replace(FOREIGNER, **changes)))
    assert refused.value.field == field


def test_an_organisation_files_through_its_representative() -> None:
    dossier = submitted(vn(MONDAY), on=entry(LAND, VY_DA), desk=VY_DA_DESK, app=desk_application(applicant=COMPANY))
    assert (dossier.applicant_citizen_id, dossier.parties) == (CITIZEN, ("3301234567", CITIZEN))
    from dataclasses import replace
    with pytest.raises(InvalidArgument, match=r"applicant\.representative_id"):
        submitted(vn(MONDAY), on=entry(LAND, VY_DA), desk=VY_DA_DESK,
                  app=desk_application(applicant=replace(COMPANY, representative_id="")))


def test_a_proxy_needs_the_authorisation_document() -> None:
    with pytest.raises(InvalidArgument) as refused:
        submitted(vn(MONDAY), app=desk_application(proxy=proxy(authorised=False)))
    assert refused.value.field == "proxy.authorisation"
    dossier = submitted(vn(MONDAY), app=desk_application(proxy=proxy()))
    assert dossier.parties == (CITIZEN, OTHER_CITIZEN)
    assert parties(citizen(), None) == (CITIZEN,)
