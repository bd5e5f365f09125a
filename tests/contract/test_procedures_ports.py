"""One contract per procedures repository, held by the MongoDB adapter and its in-memory twin
(services/procedures/fakes.py) alike: dossiers with their day counters, the citizens read model,
the directory of desks and civil servants' roles."""

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.roles import Appointment, Role
from services.procedures.adapters.directory import Directory, queue_filter
from services.procedures.adapters.repository import CitizenRegistry, DossierRepository, ensure_indexes
from services.procedures.domain.desks import Desk
from services.procedures.domain.queue import QueueQuery
from services.procedures.fakes import InMemoryCitizens, InMemoryDirectory, InMemoryDossiers
from tests.unit.procedures.factories import CENTRE_DESK, CRIMINAL_RECORD, JUSTICE, VY_DA_DESK, DayCounter, submitted, vn
from tests.unit.procedures.test_deadlines import ACCEPTED_ON, STEP_DUE

NOW = vn(date(2026, 3, 2))                 # whole seconds: MongoDB keeps milliseconds


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[Database[Any]]:
    client: MongoClient[Any] = MongoClient(request.getfixturevalue("mongo_uri"), tz_aware=True)
    name = f"contract_{uuid.uuid4().hex[:8]}"
    ensure_indexes(client[name])
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()


@pytest.fixture(params=["memory", "mongo"])
def dossiers(request: pytest.FixtureRequest) -> DossierRepository:
    if request.param == "memory":
        return InMemoryDossiers()  # type: ignore[return-value]
    return DossierRepository(request.getfixturevalue("database"))


@pytest.fixture(params=["memory", "mongo"])
def citizens(request: pytest.FixtureRequest) -> CitizenRegistry:
    if request.param == "memory":
        return InMemoryCitizens()  # type: ignore[return-value]
    return CitizenRegistry(request.getfixturevalue("database"))


@pytest.fixture(params=["memory", "mongo"])
def directory(request: pytest.FixtureRequest) -> Directory:
    if request.param == "memory":
        return InMemoryDirectory()  # type: ignore[return-value]
    return Directory(request.getfixturevalue("database"))


def test_a_dossier_is_added_once_found_by_code_and_request_key_and_saved_whole(
        dossiers: DossierRepository) -> None:
    counter = DayCounter()
    first, second = submitted(NOW, counter=counter), submitted(NOW, counter=counter)
    assert dossiers.get(first.code) is None
    dossiers.add(first, "citizen:046190000123:req-1")
    dossiers.add(second)
    assert dossiers.get(first.code) == first
    assert dossiers.find_by_request_key("citizen:046190000123:req-1") == first
    assert dossiers.find_by_request_key(f"dossier:{second.code}") == second      # no key given: its own code
    assert dossiers.find_by_request_key("citizen:046190000123:req-2") is None
    with pytest.raises(DuplicateKeyError):
        dossiers.add(first, "citizen:046190000123:req-3")                       # the same code
    with pytest.raises(DuplicateKeyError):
        dossiers.add(submitted(NOW, counter=counter), "citizen:046190000123:req-1")   # the same key
    first.accept(NOW, "civil_servant:cb-1")
    assert dossiers.get(first.code) != first                                      # what was read is a copy
    dossiers.save(first)
    assert dossiers.get(first.code) == first
    assert dossiers.find_by_request_key("citizen:046190000123:req-1") == first   # the key stays


def test_saving_a_dossier_never_added_stores_nothing(dossiers: DossierRepository) -> None:
    dossier = submitted(NOW)
    dossiers.save(dossier)
    assert dossiers.get(dossier.code) is None


def test_each_receiving_unit_numbers_its_dossiers_per_day_from_one(dossiers: DossierRepository) -> None:
    day, next_day = date(2026, 3, 2), date(2026, 3, 3)
    assert [dossiers.next_sequence("000.00.99.H57", day) for _ in range(3)] == [1, 2, 3]
    assert dossiers.next_sequence("000.01.31.H57", day) == 1
    assert dossiers.next_sequence("000.00.99.H57", next_day) == 1


def test_citizens_are_recorded_once_with_their_latest_name(citizens: CitizenRegistry) -> None:
    assert not citizens.is_registered("046190000123") and citizens.full_name("046190000123") is None
    citizens.record("046190000123", "Nguyễn Văn An", datetime(2026, 3, 1, tzinfo=UTC))
    citizens.record("046190000123", "Nguyễn Văn Anh", datetime(2026, 3, 2, tzinfo=UTC))
    assert citizens.is_registered("046190000123") and citizens.full_name("046190000123") == "Nguyễn Văn Anh"


def test_desks_are_found_by_code_and_by_the_agency_they_receive_for_nearest_first(directory: Directory) -> None:
    assert directory.desk(CENTRE_DESK.agency_code) is None and directory.desk_for(JUSTICE.agency_code, ()) is None
    directory.put_desk(CENTRE_DESK)
    directory.put_desk(VY_DA_DESK)
    assert directory.desk(VY_DA_DESK.agency_code) == VY_DA_DESK
    assert directory.desk_for(VY_DA_DESK.agency_code, ("19777", "474", "46")) == VY_DA_DESK
    assert directory.desk_for(VY_DA_DESK.agency_code, ("46",)) == CENTRE_DESK     # the centre accepts any agency
    assert directory.desk_for(JUSTICE.agency_code, ("19777", "474", "46")) == CENTRE_DESK
    renamed = Desk(VY_DA_DESK.agency_code, "Một cửa Vỹ Dạ", VY_DA_DESK.unit_code, ("000.01.31.H57",))
    directory.put_desk(renamed)
    assert directory.desk(VY_DA_DESK.agency_code) == renamed


def test_the_roster_answers_who_holds_which_role_where_as_last_recorded(directory: Directory) -> None:
    assert not directory.holds("cb-1", Role.SPECIALIST, JUSTICE.agency_code)
    directory.record_civil_servant("cb-1", (Appointment(JUSTICE.agency_code, Role.SPECIALIST),))
    assert directory.holds("cb-1", Role.SPECIALIST, JUSTICE.agency_code)
    assert not directory.holds("cb-1", Role.LEADER, JUSTICE.agency_code)
    directory.record_civil_servant("cb-1", (Appointment(JUSTICE.agency_code, Role.LEADER),))
    assert not directory.holds("cb-1", Role.SPECIALIST, JUSTICE.agency_code)
    assert directory.holds("cb-1", Role.LEADER, JUSTICE.agency_code)


def test_the_work_queue_s_overdue_filter_is_the_watch_s_judgement(database: Database[Any]) -> None:
    """ListDossiers(overdue=true) on MongoDB (the filter has no in-memory twin): overdue the day after
    the current step's due date when it comes before the appointment; never while paused."""
    dossiers, counter = DossierRepository(database), DayCounter()
    step_late, paused = submitted(vn(ACCEPTED_ON, 8), counter=counter), submitted(vn(ACCEPTED_ON, 8), counter=counter)
    for dossier in (step_late, paused):
        dossier.accept(vn(ACCEPTED_ON, 8, 30), "r")
    paused.request_supplement(CRIMINAL_RECORD, "Thiếu văn bản ủy quyền", ("GUQ",), vn(date(2027, 2, 15)), "s")
    for dossier in (step_late, paused):
        dossiers.add(dossier)

    def overdue_on(day: date) -> set[str]:
        query = QueueQuery(visible_agencies=tuple(step_late.agencies), supervised_units=(), overdue_on=day)
        return {d.code for d in dossiers.find(queue_filter(query), "", 10)}

    assert overdue_on(STEP_DUE) == set()
    assert overdue_on(date(2027, 2, 17)) == {step_late.code} == {d.code for d in (step_late, paused)
                                                                  if d.overdue_on(date(2027, 2, 17))}
    # A document saved before the watched date was stored: judged by its appointment while the clock runs.
    database["dossiers"].update_many({}, {"$unset": {"watched_due_date": ""}})
    assert overdue_on(date(2027, 2, 17)) == set() and overdue_on(date(2027, 2, 18)) == {step_late.code}
