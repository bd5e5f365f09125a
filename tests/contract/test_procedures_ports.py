"""One contract per procedures repository, held by the MongoDB adapter and its in-memory twin
(services/procedures/fakes.py) alike: dossiers with their day counters, the work queue and the
applicant's list (`queue`), the deadline watch's list (`codes_to_watch`), the citizens read model,
the directory of desks and civil servants' roles."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.roles import Appointment, Role
from services.procedures.adapters.directory import Directory
from services.procedures.adapters.repository import CitizenRegistry, DossierRepository, ensure_indexes
from services.procedures.domain.application import PaymentMethod
from services.procedures.domain.desks import Desk
from services.procedures.domain.dossier import Dossier, DossierStatus
from services.procedures.domain.queue import QueueQuery, queue_position
from services.procedures.fakes import InMemoryCitizens, InMemoryDirectory, InMemoryDossiers
from tests.contract.scratch import scratch_database
from tests.unit.procedures.factories import (
    BIRTH,
    CENTRE,
    CENTRE_DESK,
    CITIZEN,
    CRIMINAL_RECORD,
    JUSTICE,
    OTHER_CITIZEN,
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
from tests.unit.procedures.test_deadlines import ACCEPTED_ON, DUE, STEP_DUE

NOW = vn(date(2026, 3, 2))                 # whole seconds: MongoDB keeps milliseconds


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[Database[Any]]:
    with scratch_database(request.getfixturevalue("mongo_uri")) as db:
        ensure_indexes(db)
        yield db


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


def test_a_dossier_stored_before_its_watched_date_is_judged_overdue_by_its_appointment(
        database: Database[Any]) -> None:
    """ListDossiers(overdue=true) on MongoDB, where documents older than `watched_due_date` may be
    (the in-memory twin holds only whole dossiers): overdue the day after the current step's due date
    when it comes before the appointment; never while paused."""
    dossiers, counter = DossierRepository(database), DayCounter()
    step_late, paused = submitted(vn(ACCEPTED_ON, 8), counter=counter), submitted(vn(ACCEPTED_ON, 8), counter=counter)
    for dossier in (step_late, paused):
        dossier.accept(vn(ACCEPTED_ON, 8, 30), "r")
    paused.request_supplement(CRIMINAL_RECORD, "Thiếu văn bản ủy quyền", ("GUQ",), vn(date(2027, 2, 15)), "s")
    for dossier in (step_late, paused):
        dossiers.add(dossier)

    def overdue_on(day: date) -> set[str]:
        query = QueueQuery(visible_agencies=tuple(step_late.agencies), supervised_units=(), overdue_on=day)
        return {d.code for d in dossiers.queue(query, "", 10)}

    assert overdue_on(STEP_DUE) == set()
    assert overdue_on(date(2027, 2, 17)) == {step_late.code} == {d.code for d in (step_late, paused)
                                                                  if d.overdue_on(date(2027, 2, 17))}
    # A document saved before the watched date was stored: judged by its appointment while the clock runs.
    database["dossiers"].update_many({}, {"$unset": {"watched_due_date": ""}})
    assert overdue_on(date(2027, 2, 17)) == set() and overdue_on(date(2027, 2, 18)) == {step_late.code}


# -- the work queue, the applicant's list and the deadline watch's list ------------------------------
ALL_AGENCIES = (CENTRE.agency_code, JUSTICE.agency_code, VY_DA.agency_code)
BIRTH_DUE = date(2027, 1, 28)               # one working day after ACCEPTED_ON


class Stock:
    """Dossiers at each stage, added to the repository: at the centre's desk for the Department of
    Justice (the province, unit 46), and one at Vỹ Dạ's desk (commune 19777 in district 474)."""

    def __init__(self, dossiers: DossierRepository) -> None:
        counter, at = DayCounter(), vn(ACCEPTED_ON, 8)
        accepted_at = vn(ACCEPTED_ON, 8, 30)
        self.waiting = submitted(at, counter=counter)                              # at the desk, no due date
        self.refused = submitted(at, counter=counter)
        self.refused.reject("Hồ sơ không hợp lệ", accepted_at, "r")
        self.assigned = submitted(at, counter=counter)                             # the step due first
        self.assigned.accept(accepted_at, "r")
        self.assigned.assign("civil_servant:cb-specialist", accepted_at, "l")
        self.paused = submitted(at, counter=counter)
        self.paused.accept(accepted_at, "r")
        self.paused.request_supplement(CRIMINAL_RECORD, "Thiếu văn bản ủy quyền", ("GUQ",),
                                       vn(date(2027, 2, 1)), "s")
        self.approved = submitted(at, counter=counter)
        self.approved.accept(accepted_at, "r")
        self.approved.approve("", vn(date(2027, 2, 2)), "l")
        self.birth = submitted(at, desk_application(documents=(document("TK01"), document("GCS")), proxy=proxy(),
                                                  payment_method=PaymentMethod.NO_FEE),
                               on=entry(BIRTH, VY_DA), desk=VY_DA_DESK, counter=counter)
        self.birth.accept(accepted_at, "r")
        self.all = [self.waiting, self.refused, self.assigned, self.paused, self.approved, self.birth]
        for dossier in reversed(self.all):
            dossiers.add(dossier)


def codes(found: list[Dossier]) -> list[str]:
    return [d.code for d in found]


def in_queue_order(*found: Dossier) -> list[str]:
    return [d.code for d in sorted(found, key=queue_position)]


def test_the_queue_is_in_queue_order_and_pages_after_a_position(dossiers: DossierRepository) -> None:
    stock = Stock(dossiers)
    query = QueueQuery(visible_agencies=ALL_AGENCIES, supervised_units=())
    everything = codes(dossiers.queue(query, "", 50))
    assert everything == in_queue_order(*stock.all)
    assert everything[:2] == in_queue_order(stock.waiting, stock.refused)     # no due date: first
    assert everything[2] == stock.birth.code and stock.birth.due_date == BIRTH_DUE
    pages, after = [], ""
    while page := dossiers.queue(query, after, 4):
        pages.append(codes(page))
        after = queue_position(page[-1])
    assert pages == [everything[:4], everything[4:]]
    assert dossiers.queue(query, queue_position(stock.birth), 2) == [
        d for d in sorted(stock.all, key=queue_position) if queue_position(d) > queue_position(stock.birth)][:2]
    assert dossiers.queue(query, "9999", 50) == []


def test_the_queue_shows_what_the_caller_sees_through_agencies_units_or_parties(
        dossiers: DossierRepository) -> None:
    stock = Stock(dossiers)
    centre = [d for d in stock.all if d is not stock.birth]

    def seen(**scope: Any) -> list[str]:
        return codes(dossiers.queue(QueueQuery(**{"visible_agencies": (), "supervised_units": (), **scope}), "", 50))

    assert seen() == []                                                          # no scope: nothing
    assert seen(visible_agencies=(JUSTICE.agency_code,)) == in_queue_order(*centre)
    assert seen(visible_agencies=(VY_DA.agency_code, "000.00.01.H57")) == [stock.birth.code]
    assert seen(supervised_units=("474",)) == seen(supervised_units=("19777",)) == [stock.birth.code]
    assert seen(supervised_units=("46",)) == in_queue_order(*stock.all)
    assert seen(supervised_units=("475",)) == []
    assert seen(parties=(OTHER_CITIZEN,)) == [stock.birth.code]                 # the proxy's own list
    assert seen(parties=(CITIZEN,)) == in_queue_order(*stock.all)
    assert seen(parties=("001099000001",), visible_agencies=(VY_DA.agency_code,)) == [stock.birth.code]


def test_the_queue_s_filters_each_narrow_what_is_seen(dossiers: DossierRepository) -> None:
    stock = Stock(dossiers)

    def found(**filters: Any) -> list[str]:
        return codes(dossiers.queue(QueueQuery(visible_agencies=ALL_AGENCIES, supervised_units=(), **filters), "", 50))

    centre = [d for d in stock.all if d is not stock.birth]
    assert found(receiving_agency_code=CENTRE.agency_code) == in_queue_order(*centre)
    assert found(receiving_agency_code=VY_DA.agency_code) == [stock.birth.code]
    assert found(competent_agency_code=JUSTICE.agency_code) == in_queue_order(*centre)
    assert found(handling_agency_code=VY_DA.agency_code) == [stock.birth.code]
    assert found(handling_agency_code=CENTRE.agency_code) == []
    assert found(status=DossierStatus.IN_PROGRESS) == in_queue_order(stock.assigned, stock.birth)
    assert found(status=DossierStatus.SUPPLEMENT_REQUESTED) == [stock.paused.code]
    assert found(status=DossierStatus.COMPLETED) == []
    assert found(assignee="civil_servant:cb-specialist") == [stock.assigned.code]
    assert found(applicant_id=OTHER_CITIZEN) == [stock.birth.code]
    assert found(applicant_id=CITIZEN, status=DossierStatus.REJECTED) == [stock.refused.code]
    assert found(due_before=BIRTH_DUE) == []                                     # before, not on
    assert found(due_before=BIRTH_DUE + timedelta(days=1)) == [stock.birth.code]
    assert found(due_before=DUE + timedelta(days=1)) == in_queue_order(stock.birth, stock.assigned, stock.paused,
                                                                      stock.approved)
    assert found(status=DossierStatus.IN_PROGRESS, receiving_agency_code=VY_DA.agency_code,
                 due_before=DUE) == [stock.birth.code]


def test_the_overdue_filter_is_the_watch_s_judgement_of_each_dossier(dossiers: DossierRepository) -> None:
    """Overdue the day after the earliest watched deadline (the current step's, when it comes before
    the appointment) while the clock runs; never while paused, at the desk or settled."""
    stock = Stock(dossiers)

    def overdue_on(day: date) -> list[str]:
        query = QueueQuery(visible_agencies=ALL_AGENCIES, supervised_units=(), overdue_on=day)
        return codes(dossiers.queue(query, "", 50))

    assert overdue_on(BIRTH_DUE) == []
    assert overdue_on(BIRTH_DUE + timedelta(days=1)) == [stock.birth.code]
    assert stock.assigned.code in overdue_on(STEP_DUE + timedelta(days=1))
    assert stock.assigned.code not in overdue_on(STEP_DUE)
    assert stock.paused.code not in overdue_on(date(2027, 12, 31))
    for day in (ACCEPTED_ON, BIRTH_DUE, date(2027, 2, 10), STEP_DUE, DUE, DUE + timedelta(days=1)):
        assert overdue_on(day) == in_queue_order(*(d for d in stock.all if d.overdue_on(day))), day


def test_the_watch_lists_running_dossiers_due_by_the_horizon_in_code_order(dossiers: DossierRepository) -> None:
    """A watched deadline (the current step's) or the appointment on or before the horizon, while the
    clock runs (in progress or approved); not at the desk, paused or settled."""
    stock = Stock(dossiers)
    assert dossiers.codes_to_watch(ACCEPTED_ON, "", 50) == []
    assert dossiers.codes_to_watch(BIRTH_DUE, "", 50) == [stock.birth.code]
    running = sorted(d.code for d in (stock.assigned, stock.approved, stock.birth))
    assert dossiers.codes_to_watch(DUE, "", 50) == running
    assert dossiers.codes_to_watch(date(2027, 12, 31), "", 50) == running
    assert dossiers.codes_to_watch(STEP_DUE, "", 50) == sorted([stock.assigned.code, stock.birth.code])   # its step
    assert dossiers.codes_to_watch(DUE, "", 2) == running[:2]
    assert dossiers.codes_to_watch(DUE, running[1], 50) == running[2:]
    assert dossiers.codes_to_watch(DUE, running[-1], 50) == []
