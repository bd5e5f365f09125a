"""The procedures reads (queries.py) on the in-memory repositories (services/procedures/fakes.py), as
the entrypoints run them with the worker's store: who may see a dossier, the work queue's scopes,
filters and pages, the applicant's own list, the public status lookup and the slips."""

from datetime import date, datetime

import pytest

from egov.procedures.v1 import procedures_pb2 as pb
from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from services.common.memory_store import InMemoryStore
from services.common.roles import Appointment, Role
from services.procedures import queries
from services.procedures.adapters.directory import Directory
from services.procedures.adapters.lookup_guard import LookupGuard
from services.procedures.adapters.repository import DossierRepository
from services.procedures.domain.application import PaymentMethod
from services.procedures.domain.desks import Desk
from services.procedures.domain.dossier import Dossier
from services.procedures.domain.lookups import MAX_FAILED
from services.procedures.fakes import in_memory_store
from tests.unit.procedures.factories import (
    BIRTH,
    CATALOGUE,
    CENTRE,
    CITIZEN,
    JUSTICE,
    OTHER_CITIZEN,
    THUAN_HOA,
    UNITS,
    VY_DA,
    VY_DA_DESK,
    DayCounter,
    desk_application,
    document,
    entry,
    proxy,
    submitted,
    vn,
)
from tests.unit.procedures.test_deadlines import ACCEPTED_ON, STEP_DUE

OWNER = Caller(CallerKind.CITIZEN, subject=CITIZEN)
PROXY = Caller(CallerKind.CITIZEN, subject=OTHER_CITIZEN)
STRANGER = Caller(CallerKind.CITIZEN, subject="046190000999")
OPERATOR = Caller(CallerKind.OPERATOR, subject="operator")
BIRTH_DUE = date(2027, 1, 28)               # one working day after ACCEPTED_ON


def staff(agency: str, *roles: Role, subject: str = "cb-1") -> Caller:
    return Caller(CallerKind.CIVIL_SERVANT, subject=subject, agency_code=agency,
                  appointments=tuple(Appointment(agency, r) for r in roles))


SPECIALIST = staff(JUSTICE.agency_code, Role.SPECIALIST, subject="cb-specialist")
COMMUNE = staff(VY_DA.agency_code, Role.RECEIVER, subject="cb-vd")
DISTRICT_SUPERVISOR = staff(THUAN_HOA.agency_code, Role.SUPERVISOR, subject="cb-district")


class Office:
    """The store with dossiers at each stage: four at the centre's desk for the Department of Justice,
    one at Vỹ Dạ's desk filed through a proxy."""

    def __init__(self) -> None:
        self.store: InMemoryStore = in_memory_store()
        counter, at, accepted_at = DayCounter(), vn(ACCEPTED_ON, 8), vn(ACCEPTED_ON, 8, 30)
        self.waiting = submitted(at, counter=counter)
        self.assigned = submitted(at, counter=counter)
        self.assigned.accept(accepted_at, "r")
        self.assigned.assign("civil_servant:cb-specialist", accepted_at, "l")
        self.unassigned = submitted(at, counter=counter)
        self.unassigned.accept(accepted_at, "r")
        self.refused = submitted(at, counter=counter)
        self.refused.reject("Hồ sơ không hợp lệ", accepted_at, "r")
        self.birth = submitted(at, desk_application(documents=(document("TK01"), document("GCS")), proxy=proxy(),
                                                    payment_method=PaymentMethod.NO_FEE),
                               on=entry(BIRTH, VY_DA), desk=VY_DA_DESK, counter=counter)
        self.birth.accept(accepted_at, "r")
        self.centre = [self.waiting, self.refused, self.assigned, self.unassigned]   # in queue order
        for dossier in (*self.centre, self.birth):
            self.store.repository(DossierRepository).add(dossier)

    def queue(self, caller: Caller, now: datetime | None = None, **filters: object) -> tuple[list[str], str]:
        request = pb.ListDossiersRequest(**filters)  # type: ignore[arg-type]
        found, token = queries.list_dossiers(self.store, UNITS, request, caller, now or vn(ACCEPTED_ON))
        return [d.code for d in found], token

    def mine(self, caller: Caller, **fields: object) -> tuple[list[str], str]:
        found, token = queries.list_my_dossiers(self.store, pb.ListMyDossiersRequest(**fields),  # type: ignore[arg-type]
                                                caller)
        return [d.code for d in found], token


def codes(*dossiers: Dossier) -> list[str]:
    return [d.code for d in dossiers]


# -- one dossier -------------------------------------------------------------------------------------
def test_a_dossier_is_shown_to_its_parties_its_agencies_supervisors_and_operators_only() -> None:
    office = Office()
    for caller in (OWNER, PROXY, COMMUNE, DISTRICT_SUPERVISOR, OPERATOR):
        assert queries.get_dossier(office.store, UNITS, office.birth.code, caller) == office.birth
    assert queries.get_dossier(office.store, UNITS, office.assigned.code, SPECIALIST) == office.assigned
    with pytest.raises(PermissionDenied, match=f"dossier {office.birth.code} is not yours"):
        queries.get_dossier(office.store, UNITS, office.birth.code, STRANGER)
    with pytest.raises(PermissionDenied, match="is not one your agencies received, are competent for or handled, "
                                               "nor in a unit you supervise") as refused:
        queries.get_dossier(office.store, UNITS, office.birth.code, SPECIALIST)
    assert refused.value.field == "code"
    with pytest.raises(PermissionDenied, match="is not one your agencies received"):
        queries.get_dossier(office.store, UNITS, office.assigned.code, DISTRICT_SUPERVISOR)   # the province's
    with pytest.raises(NotFound, match="no dossier 'H57-NONE'"):
        queries.get_dossier(office.store, UNITS, "H57-NONE", OPERATOR)


def test_the_public_lookup_needs_the_applicant_s_last_digits_and_says_the_same_for_an_unknown_code() -> None:
    office, guard, now = Office(), LookupGuard(), vn(date(2027, 2, 1))

    def lookup(code: str, digits: str) -> Dossier:
        return queries.lookup_status(office.store, guard, pb.LookupDossierStatusRequest(code=code, id_last4=digits),
                                     now)

    assert lookup(office.birth.code, CITIZEN[-4:]) == office.birth
    with pytest.raises(NotFound, match="with those identity digits"):
        lookup(office.birth.code, OTHER_CITIZEN[-4:])            # the proxy's digits are not the applicant's
    with pytest.raises(NotFound, match="with those identity digits"):
        lookup("H57-NONE", CITIZEN[-4:])
    assert guard.get(office.birth.code) is not None and guard.get("H57-NONE") is not None
    for _ in range(MAX_FAILED):
        with pytest.raises(NotFound):
            lookup(office.waiting.code, "0000")
    with pytest.raises(ResourceExhausted, match="too many failed lookups of this code"):
        lookup(office.waiting.code, CITIZEN[-4:])                # closed for a while, even to the right digits
    assert lookup(office.birth.code, CITIZEN[-4:]) == office.birth    # one failure of another code is not many


def test_a_slip_is_named_after_the_receiving_desk_as_configured_or_as_the_agency() -> None:
    office = Office()
    request = pb.GetSlipRequest(code=office.birth.code, form=pb.SLIP_FORM_RECEIPT)
    name, pdf = queries.get_slip(office.store, CATALOGUE, request, PROXY)
    assert name == f"{office.birth.code}-mau-01.pdf" and pdf.startswith(b"%PDF")
    office.store.repository(Directory).put_desk(Desk(VY_DA_DESK.agency_code, "Một cửa Vỹ Dạ", VY_DA.code, ()))
    assert queries.get_slip(office.store, CATALOGUE, request, PROXY)[0] == name
    with pytest.raises(PermissionDenied, match="is not yours"):
        queries.get_slip(office.store, CATALOGUE, request, STRANGER)
    with pytest.raises(InvalidArgument, match="SLIP_FORM_RECEIPT"):
        queries.get_slip(office.store, CATALOGUE, pb.GetSlipRequest(code=office.birth.code), PROXY)


# -- the work queue ----------------------------------------------------------------------------------
def test_the_work_queue_is_for_civil_servants_and_shows_what_their_roles_reach() -> None:
    office = Office()
    for caller in (OWNER, OPERATOR):
        with pytest.raises(PermissionDenied, match="the work queue is for civil servants"):
            office.queue(caller)
    assert office.queue(SPECIALIST) == (codes(*office.centre), "")
    assert office.queue(staff(CENTRE.agency_code, Role.RECEIVER)) == (codes(*office.centre), "")
    assert office.queue(COMMUNE) == ([office.birth.code], "")
    assert office.queue(DISTRICT_SUPERVISOR) == ([office.birth.code], "")     # Vỹ Dạ is in Thuận Hóa
    assert office.queue(staff(THUAN_HOA.agency_code, Role.SPECIALIST)) == ([], "")   # no role held for it


def test_the_work_queue_s_filters() -> None:
    office = Office()
    assert office.queue(SPECIALIST, status=pb.DOSSIER_STATUS_IN_PROGRESS)[0] == codes(office.assigned,
                                                                                     office.unassigned)
    assert office.queue(SPECIALIST, assignee="civil_servant:cb-specialist")[0] == [office.assigned.code]
    both = Caller(CallerKind.CIVIL_SERVANT, subject="cb-2", appointments=(
        Appointment(CENTRE.agency_code, Role.RECEIVER), Appointment(JUSTICE.agency_code, Role.SPECIALIST)))
    assert office.queue(both, receiving_agency_code=CENTRE.agency_code)[0] == codes(*office.centre)
    with pytest.raises(PermissionDenied, match=f"you hold no role in {CENTRE.agency_code}") as outside:
        office.queue(SPECIALIST, receiving_agency_code=CENTRE.agency_code)   # it received them; not the specialist
    assert outside.value.field == "receiving_agency_code"
    assert office.queue(SPECIALIST, competent_agency_code=JUSTICE.agency_code,
                        status=pb.DOSSIER_STATUS_REJECTED)[0] == [office.refused.code]
    assert office.queue(COMMUNE, applicant_id=f" {OTHER_CITIZEN.lower()} ")[0] == [office.birth.code]
    assert office.queue(COMMUNE, applicant_id="046190000999")[0] == []
    assert office.queue(COMMUNE, due_before=BIRTH_DUE.isoformat())[0] == []
    assert office.queue(COMMUNE, due_before="2027-01-29")[0] == [office.birth.code]
    with pytest.raises(InvalidArgument, match="'29/01/2027' is not a date") as bad:
        office.queue(COMMUNE, due_before="29/01/2027")
    assert bad.value.field == "due_before"
    with pytest.raises(PermissionDenied, match=f"you hold no role in {VY_DA.agency_code}") as elsewhere:
        office.queue(SPECIALIST, handling_agency_code=VY_DA.agency_code)
    assert elsewhere.value.field == "handling_agency_code"
    # A supervisor reaches the agencies of the units below theirs.
    assert office.queue(DISTRICT_SUPERVISOR, receiving_agency_code=VY_DA.agency_code)[0] == [office.birth.code]


def test_the_overdue_filter_judges_by_today_in_vietnam() -> None:
    office = Office()
    assert office.queue(COMMUNE, vn(BIRTH_DUE, 23), overdue=True)[0] == []
    assert office.queue(COMMUNE, vn(date(2027, 1, 29), 0, 30), overdue=True)[0] == [office.birth.code]
    assert office.queue(SPECIALIST, vn(STEP_DUE), overdue=True)[0] == []
    assert office.queue(SPECIALIST, vn(date(2027, 2, 17)), overdue=True)[0] == codes(office.assigned,
                                                                                     office.unassigned)


def test_the_work_queue_pages_with_tokens_bound_to_their_query() -> None:
    office = Office()
    first, token = office.queue(SPECIALIST, page_size=3)
    assert first == codes(*office.centre[:3]) and token
    second, end = office.queue(SPECIALIST, page_size=3, page_token=token)
    assert (second, end) == (codes(*office.centre[3:]), "")
    assert office.queue(SPECIALIST, page_size=4) == (codes(*office.centre), "")   # no page after a full last one
    with pytest.raises(InvalidArgument, match="belongs to another query") as other:
        office.queue(SPECIALIST, page_size=3, page_token=token, status=pb.DOSSIER_STATUS_IN_PROGRESS)
    assert other.value.field == "page_token"
    with pytest.raises(InvalidArgument, match="belongs to another query"):
        office.queue(staff(JUSTICE.agency_code, Role.SPECIALIST, subject="cb-other"), page_token=token)
    with pytest.raises(InvalidArgument, match="page_size"):
        office.queue(SPECIALIST, page_size=-1)


# -- the applicant's own list ------------------------------------------------------------------------
def test_a_citizen_lists_the_dossiers_they_are_a_party_to_page_by_page() -> None:
    office = Office()
    with pytest.raises(PermissionDenied, match="a citizen's own list"):
        office.mine(SPECIALIST)
    everything = codes(*sorted([*office.centre, office.birth], key=lambda d: (d.due_date or date.min, d.code)))
    assert office.mine(OWNER) == (everything, "")
    assert office.mine(PROXY) == ([office.birth.code], "")                    # filed for someone else
    assert office.mine(STRANGER) == ([], "")
    first, token = office.mine(OWNER, page_size=2)
    rest, end = office.mine(OWNER, page_size=3, page_token=token)
    assert (first + rest, end) == (everything, "")
    with pytest.raises(InvalidArgument, match="belongs to another query"):
        office.mine(PROXY, page_token=token)
    assert office.mine(OWNER, organisation_code=" 0101234567 ") == ([], "")   # none filed for that business
