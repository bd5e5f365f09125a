"""identity's handlers.py on its in-memory repositories (services/identity/fakes.py): the citizen
record and who may read it, the filings learnt from DossierSubmitted, registering a business,
verifying an applicant filed at a desk."""

from datetime import UTC, date, datetime

import pytest

from egov.identity.v1 import events_pb2 as events
from egov.procedures.v1 import events_pb2 as procedure_events
from services.common.caller import Caller, CallerKind
from services.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.common.events.envelope import new_event
from services.common.memory_store import InMemoryStore
from services.common.roles import Appointment, Role
from services.identity import handlers
from services.identity.adapters.business_registry import FakeBusinessRegistry
from services.identity.adapters.population import FakePopulationRegistry
from services.identity.adapters.repository import IdentityRepository
from services.identity.domain import commands
from services.identity.domain.business import Business, BusinessVerification
from services.identity.domain.citizen import Citizen
from services.identity.domain.contact import Address, NotificationChannel
from services.identity.domain.population import Verification
from services.identity.fakes import in_memory_store

CITIZEN = "046090001234"
JUSTICE = "000.00.15.H57"
ADDRESS = Address("12 Lê Lợi", "Phú Hội", "Thuận Hóa", "Huế")
OFFICE = Address("", "Phú Hội", "Thuận Hóa", "Huế")
REGISTRY = {"3300100018": ("Công ty TNHH Hương Giang", False), "3300100025": ("Công ty cũ", True)}


@pytest.fixture
def store() -> InMemoryStore:
    store = in_memory_store()
    store.repository(IdentityRepository).add_citizen(Citizen(
        CITIZEN, "Nguyễn Văn An", date(1990, 5, 17), "+84905123456", "", ADDRESS, (NotificationChannel.SMS,),
        "hash", datetime.now(UTC)))
    return store


def clerk(agency: str, role: Role) -> Caller:
    return Caller(CallerKind.CIVIL_SERVANT, subject="cb-1", appointments=(Appointment(agency, role),))


def read(store: InMemoryStore, caller: Caller, citizen_id: str = CITIZEN) -> str:
    return handlers.get_citizen(store, commands.GetCitizen(citizen_id=citizen_id), caller).full_name


def filed(store: InMemoryStore, agency: str) -> bool:
    submitted = procedure_events.DossierSubmitted(dossier=procedure_events.DossierRef(
        code=f"{agency}-260302-0001", applicant_citizen_id=CITIZEN, agency_code=agency))
    return handlers.handle_event(store, new_event(submitted, source="/egov/procedures", subject="x"))


def test_a_citizen_reads_their_own_record_and_no_one_elses(store: InMemoryStore) -> None:
    assert read(store, Caller(CallerKind.CITIZEN, subject=CITIZEN)) == "Nguyễn Văn An"
    with pytest.raises(PermissionDenied):
        read(store, Caller(CallerKind.CITIZEN, subject="046090009999"))
    with pytest.raises(NotFound):
        read(store, Caller(CallerKind.OPERATOR, subject="op"), "046090009999")


def test_a_civil_servant_reads_the_record_once_the_citizen_filed_with_their_agency(store: InMemoryStore) -> None:
    with pytest.raises(PermissionDenied):
        read(store, clerk(JUSTICE, Role.RECEIVER))
    assert filed(store, JUSTICE)
    assert read(store, clerk(JUSTICE, Role.RECEIVER)) == "Nguyễn Văn An"
    with pytest.raises(PermissionDenied):
        read(store, clerk("000.01.31.H57", Role.RECEIVER))           # another agency
    with pytest.raises(PermissionDenied):
        read(store, clerk(JUSTICE, Role.LEADER))                     # a role that does not read records


def test_a_filing_delivered_twice_is_recorded_once(store: InMemoryStore) -> None:
    submitted = procedure_events.DossierSubmitted(dossier=procedure_events.DossierRef(
        code="x-1", applicant_citizen_id=CITIZEN, agency_code=JUSTICE))
    event = new_event(submitted, source="/egov/procedures", subject="x-1")
    assert handlers.handle_event(store, event)
    assert not handlers.handle_event(store, event)


def register(store: InMemoryStore, tax_code: str, name: str, subject: str = CITIZEN) -> Business:
    command = commands.RegisterBusiness(tax_code=tax_code, name=name, address=OFFICE)
    return handlers.register_business(store, FakeBusinessRegistry(REGISTRY), command,
                                      Caller(CallerKind.CITIZEN, subject=subject))


def test_a_registered_citizen_registers_a_business_the_registry_knows_once(store: InMemoryStore) -> None:
    assert register(store, "3300100018", "Công ty TNHH  Hương Giang") == Business(
        "3300100018", "Công ty TNHH Hương Giang", CITIZEN, OFFICE)
    [registered] = store.events(events.BusinessRegistered)
    assert (registered.tax_code, registered.owner_citizen_id) == ("3300100018", CITIZEN)
    with pytest.raises(AlreadyExists):
        register(store, "3300100018", "Công ty TNHH Hương Giang")
    assert len(store.events(events.BusinessRegistered)) == 1


@pytest.mark.parametrize("tax_code, name, subject, refusal", [
    ("3300100000", "Công ty lạ", CITIZEN, InvalidArgument),                 # the registry does not know it
    ("3300100018", "Tên khác", CITIZEN, InvalidArgument),                   # registered under another name
    ("3300100025", "Công ty cũ", CITIZEN, FailedPrecondition),              # dissolved
    ("3300100018", "Công ty TNHH Hương Giang", "046090009999", FailedPrecondition),   # no account
])
def test_a_business_the_registry_does_not_vouch_for_is_refused_and_nothing_is_stored(
        store: InMemoryStore, tax_code: str, name: str, subject: str, refusal: type[Exception]) -> None:
    with pytest.raises(refusal):
        register(store, tax_code, name, subject)
    assert store.events() == [] and store.repository(IdentityRepository).business(tax_code) is None


@pytest.mark.parametrize("command, answer", [
    (commands.VerifyApplicant(False, CITIZEN, "nguyễn văn an", "1990-05-17"), Verification.MATCH),
    (commands.VerifyApplicant(False, CITIZEN, "Nguyễn Văn An", "1990-05-18"), Verification.MISMATCH),
    (commands.VerifyApplicant(True, "3300100025", "Công ty cũ", ""), BusinessVerification.DISSOLVED),
    (commands.VerifyApplicant(True, CITIZEN, "Nguyễn Văn An", "1990-05-17"), BusinessVerification.NOT_FOUND),
])
def test_an_applicant_is_verified_by_the_registry_of_people_or_of_organisations(
        command: commands.VerifyApplicant, answer: Verification | BusinessVerification) -> None:
    population = FakePopulationRegistry({CITIZEN: ("Nguyễn Văn An", "1990-05-17", False)})
    assert handlers.verify_applicant(population, FakeBusinessRegistry(REGISTRY), command) is answer
