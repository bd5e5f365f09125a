"""One contract per identity repository the handlers use, held by the MongoDB adapter and its
in-memory twin (services/identity/fakes.py) alike: accounts (citizens, businesses, civil servants)
and the dossier filings that scope civil servants' reads. (test_identity_port.py is the operator port.)"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pymongo.database import Database

from services.common.roles import Appointment, Role
from services.identity.adapters.dossier_filings import DossierFilings
from services.identity.adapters.repository import Duplicate, IdentityRepository, ensure_indexes
from services.identity.adapters.second_factors import SecondFactors
from services.identity.adapters.sessions import SessionStore
from services.identity.adapters.sign_in_failures import FailureStore
from services.identity.adapters.verifications import Counters, VerificationStore, ensure_verification_indexes
from services.identity.domain.business import Business
from services.identity.domain.citizen import Citizen
from services.identity.domain.civil_servant import CivilServant
from services.identity.domain.contact import Address, NotificationChannel
from services.identity.domain.second_factor import SecondFactor
from services.identity.domain.sessions import Revocation
from services.identity.domain.sign_in_limits import cleared_keys, counted_keys
from services.identity.domain.verification import MAX_CODE_ATTEMPTS, Purpose, Verification
from services.identity.fakes import (
    InMemoryCounters,
    InMemoryDossierFilings,
    InMemoryFailures,
    InMemoryIdentityRepository,
    InMemorySecondFactors,
    InMemorySessions,
    InMemoryVerifications,
)
from tests.contract.scratch import scratch_database

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)     # whole seconds: MongoDB keeps milliseconds
ADDRESS = Address("12 Lê Lợi", "Phú Hội", "Thuận Hóa", "Huế")
CITIZEN = Citizen("046090001234", "Nguyễn Văn An", date(1990, 5, 17), "+84905123456", "an@example.vn", ADDRESS,
                  (NotificationChannel.SMS,), "hash-1", NOW)


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[Database[Any]]:
    with scratch_database(request.getfixturevalue("mongo_uri")) as db:
        ensure_indexes(db)
        yield db


@pytest.fixture(params=["memory", "mongo"])
def accounts(request: pytest.FixtureRequest) -> IdentityRepository:
    if request.param == "memory":
        return InMemoryIdentityRepository()  # type: ignore[return-value]
    return IdentityRepository(request.getfixturevalue("database"))


@pytest.fixture(params=["memory", "mongo"])
def filings(request: pytest.FixtureRequest) -> DossierFilings:
    if request.param == "memory":
        return InMemoryDossierFilings()  # type: ignore[return-value]
    return DossierFilings(request.getfixturevalue("database"))


def test_a_citizen_is_registered_once_and_recovery_replaces_only_contact_and_password(
        accounts: IdentityRepository) -> None:
    assert accounts.citizen(CITIZEN.citizen_id) is None
    accounts.add_citizen(CITIZEN)
    assert accounts.citizen(CITIZEN.citizen_id) == CITIZEN
    with pytest.raises(Duplicate) as taken:
        accounts.add_citizen(CITIZEN)
    assert (taken.value.collection, taken.value.key) == ("citizens", "_id")
    recovered = Citizen(CITIZEN.citizen_id, "Tên khác", date(2000, 1, 1), "+84913000111", "", ADDRESS,
                        (NotificationChannel.EMAIL,), "hash-2", NOW)
    accounts.recover_citizen(recovered)
    assert accounts.citizen(CITIZEN.citizen_id) == Citizen(
        CITIZEN.citizen_id, CITIZEN.full_name, CITIZEN.birth_date, "+84913000111", "", ADDRESS,
        (NotificationChannel.EMAIL,), "hash-2", NOW)


def test_a_business_is_registered_once_by_tax_code(accounts: IdentityRepository) -> None:
    business = Business("3300100018", "Công ty TNHH Hương Giang", CITIZEN.citizen_id, ADDRESS)
    assert accounts.business(business.tax_code) is None
    accounts.add_business(business)
    assert accounts.business(business.tax_code) == business
    with pytest.raises(Duplicate):
        accounts.add_business(business)


def test_a_civil_servant_is_registered_once_with_a_serial_no_one_else_holds(accounts: IdentityRepository) -> None:
    justice = "000.00.15.H57"
    servant = CivilServant("cb-1", "Trần Văn Bảo", justice, "receiver", "EC-1", "hash",
                           (Appointment("000.00.99.H57", Role.SPECIALIST),))
    accounts.add_civil_servant(servant)
    found = accounts.civil_servant("cb-1")
    assert found is not None and set(found.appointments) == {Appointment(justice, Role.RECEIVER),
                                                             Appointment("000.00.99.H57", Role.SPECIALIST)}
    with pytest.raises(Duplicate) as taken:
        accounts.add_civil_servant(CivilServant("cb-2", "Lê Thị Cúc", justice, "leader", "EC-1", "hash"))
    assert taken.value.key == "ecard_serial"
    for n in (3, 4):                                        # no serial yet: any number of them
        accounts.add_civil_servant(CivilServant(f"cb-{n}", "Lê Thị Cúc", justice, "approver", "", "hash"))
    other = accounts.civil_servant("cb-3")
    assert other is not None and other.appointments == ()     # a free-text role grants nothing
    with pytest.raises(Duplicate):
        accounts.add_civil_servant(CivilServant("cb-3", "x", justice, "leader", "", "hash"))
    assert accounts.civil_servant("cb-none") is None


def test_a_filing_is_kept_per_citizen_and_agency(filings: DossierFilings) -> None:
    assert not filings.has_filed_with("046090001234", "000.00.15.H57")
    filings.record("046090001234", "000.00.15.H57", "000.00.99.H57-260302-0001", NOW)
    filings.record("046090001234", "000.00.15.H57", "000.00.99.H57-260302-0002", NOW)
    assert filings.has_filed_with("046090001234", "000.00.15.H57")
    assert not filings.has_filed_with("046090001234", "000.01.31.H57")
    assert not filings.has_filed_with("046090009999", "000.00.15.H57")


# -- the stores of registration, sign-in and civil servants' credentials ------------------------------

def twin(request: pytest.FixtureRequest, fake: Any, real: Any) -> Any:
    if request.param == "memory":
        return fake()
    database = request.getfixturevalue("database")
    ensure_verification_indexes(database)
    return real(database)


@pytest.fixture(params=["memory", "mongo"])
def verifications(request: pytest.FixtureRequest) -> VerificationStore:
    return twin(request, InMemoryVerifications, VerificationStore)  # type: ignore[no-any-return]


@pytest.fixture(params=["memory", "mongo"])
def counters(request: pytest.FixtureRequest) -> Counters:
    return twin(request, InMemoryCounters, Counters)  # type: ignore[no-any-return]


@pytest.fixture(params=["memory", "mongo"])
def sessions(request: pytest.FixtureRequest) -> SessionStore:
    return twin(request, InMemorySessions, SessionStore)  # type: ignore[no-any-return]


@pytest.fixture(params=["memory", "mongo"])
def factors(request: pytest.FixtureRequest) -> SecondFactors:
    return twin(request, InMemorySecondFactors, SecondFactors)  # type: ignore[no-any-return]


@pytest.fixture(params=["memory", "mongo"])
def failures(request: pytest.FixtureRequest) -> FailureStore:
    return twin(request, InMemoryFailures, FailureStore)  # type: ignore[no-any-return]


def test_a_verification_is_spent_once_and_not_after_too_many_wrong_tries(
        verifications: VerificationStore) -> None:
    later = NOW + timedelta(minutes=10)
    first = Verification("v-1", Purpose.REGISTRATION, CITIZEN.citizen_id, "Nguyễn Văn An", "1990-05-17", "d", "s",
                         later)
    assert verifications.get("v-1") is None
    verifications.add(first)
    assert verifications.get("v-1") == first
    verifications.count_attempt("v-1")
    assert verifications.get("v-1") == Verification("v-1", Purpose.REGISTRATION, CITIZEN.citizen_id,
                                                    "Nguyễn Văn An", "1990-05-17", "d", "s", later, attempts=1)
    assert verifications.spend("v-1") and not verifications.spend("v-1")
    assert verifications.get("v-1").used  # type: ignore[union-attr]
    tried = Verification("v-2", Purpose.ACCOUNT_RECOVERY, CITIZEN.citizen_id, "x", "1990-05-17", "d", "s", later)
    verifications.add(tried)
    for _ in range(MAX_CODE_ATTEMPTS):
        verifications.count_attempt("v-2")
    assert not verifications.spend("v-2") and not verifications.spend("v-none")


def test_a_counter_counts_each_hit_in_its_window(counters: Counters) -> None:
    assert [counters.hit("code-person:1", NOW) for _ in range(3)] == [1, 2, 3]
    assert counters.hit("code-person:2", NOW) == 1


def test_revoking_raises_the_epoch_and_lists_the_account_until_the_latest_end(sessions: SessionStore) -> None:
    account = "citizen:046090001234"
    assert sessions.epoch(account) == 0 and sessions.revoked(NOW) == []
    assert sessions.revoke(account, NOW + timedelta(hours=2)) == 1
    assert sessions.revoke(account, NOW + timedelta(hours=1)) == 2          # an earlier end keeps the later
    assert sessions.epoch(account) == 2
    assert sessions.revoked(NOW) == [Revocation(account, 2, NOW + timedelta(hours=2))]
    assert sessions.revoked(NOW + timedelta(hours=3)) == []


def test_a_second_factor_is_enrolled_used_forward_only_and_a_dismissal_kept(factors: SecondFactors) -> None:
    assert factors.get("cb-1") is None and not factors.use_step("cb-1", 5)
    factors.enroll(SecondFactor("cb-1", "SECRETONE"))
    assert factors.use_step("cb-1", 5) and not factors.use_step("cb-1", 5) and not factors.use_step("cb-1", 4)
    assert factors.get("cb-1") == SecondFactor("cb-1", "SECRETONE", 5, None)
    factors.dismiss("cb-1", NOW)
    factors.dismiss("cb-1", NOW + timedelta(days=1))                     # the first dismissal's time stays
    factors.enroll(SecondFactor("cb-1", "SECRETTWO"))
    assert factors.get("cb-1") == SecondFactor("cb-1", "SECRETTWO", -1, NOW)
    factors.dismiss("cb-2", NOW)                                          # never enrolled
    assert factors.get("cb-2") == SecondFactor("cb-2", "", -1, NOW)


def test_failed_sign_ins_make_the_next_try_wait_until_cleared(failures: FailureStore) -> None:
    keys = counted_keys("citizen:046090001234", "203.0.113.7")
    assert failures.wait(keys, NOW) == (timedelta(0), False)
    for n in range(4):
        failures.record(keys, NOW + timedelta(seconds=n))
    wait, seen = failures.wait(keys, NOW + timedelta(seconds=3))
    assert seen and wait == timedelta(seconds=2)          # account and address: 3 free, then 1 s doubling
    assert failures.wait(keys, NOW + timedelta(hours=2)) == (timedelta(0), True)    # forgotten, not yet deleted
    failures.clear(cleared_keys("citizen:046090001234", "203.0.113.7"))       # the account's keys, not the address's
    assert failures.wait(keys, NOW + timedelta(seconds=3)) == (timedelta(0), True)
    failures.clear([k.key for k in keys])
    assert failures.wait(keys, NOW) == (timedelta(0), False)
