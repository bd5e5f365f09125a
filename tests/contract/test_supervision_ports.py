"""One contract per supervision repository, held by the MongoDB adapter and its in-memory twin
(services/supervision/fakes.py) alike: each dossier's facts with the overdue and apology lists read
from them, and the counters per scope and bucket."""

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo.database import Database

from services.supervision.adapters.repository import CounterRepository, DossierFactsRepository, ensure_indexes
from services.supervision.domain.access import Kind, Scope
from services.supervision.domain.facts import Apology, DossierFacts
from services.supervision.fakes import InMemoryCounters, InMemoryDossierFacts
from tests.contract.scratch import scratch_database

PROVINCE, DISTRICT, COMMUNE, OTHER_COMMUNE = "46", "474", "19777", "19780"
AGENCY, DESK = "000.01.31.H57", "000.00.15.H57"


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[Database[Any]]:
    with scratch_database(request.getfixturevalue("mongo_uri"), tz_aware=False) as db:
        ensure_indexes(db)
        yield db


@pytest.fixture(params=["memory", "mongo"])
def dossiers(request: pytest.FixtureRequest) -> DossierFactsRepository:
    if request.param == "memory":
        return InMemoryDossierFacts()  # type: ignore[return-value]
    return DossierFactsRepository(request.getfixturevalue("database"))


@pytest.fixture(params=["memory", "mongo"])
def counters(request: pytest.FixtureRequest) -> CounterRepository:
    if request.param == "memory":
        return InMemoryCounters()  # type: ignore[return-value]
    return CounterRepository(request.getfixturevalue("database"))


def apology(event_id: str, on: str) -> Apology:
    return Apology(event_id=event_id, on=on, responsible_agency=AGENCY, reason="thiếu hồ sơ",
                   previous_due_date="2026-03-10", new_due_date="2026-03-20", reappointment=1,
                   letter_number=f"{event_id}/TXL")


def facts(code: str, units: tuple[str, ...] = (COMMUNE, DISTRICT, PROVINCE), **values: Any) -> DossierFacts:
    return DossierFacts(code, procedure_code="SYN.001", procedure_name="Thủ tục tổng hợp số 1",
                        competent_agency=AGENCY, receiving_agency=DESK, units=units, channel="online",
                        submitted_on="2026-03-02", **values)


def test_a_dossiers_facts_are_saved_whole_and_found_again(dossiers: DossierFactsRepository) -> None:
    assert dossiers.find("H57-1") is None
    first = facts("H57-1", accepted_on="2026-03-02", due_date="2026-03-10", due_at="2026-03-02T09:00:00+07:00")
    dossiers.save(first)
    assert dossiers.find("H57-1") == first
    later = facts("H57-1", accepted_on="2026-03-02", due_date="2026-03-20", due_at="2026-03-09T09:00:00+07:00",
                  apologies=(apology("e-1", "2026-03-09"),), extensions=(("e-2", "2026-03-12"),),
                  pauses=(("e-3", 2),), settled_on="2026-03-18", timeliness="on_time")
    dossiers.save(later)
    assert dossiers.find("H57-1") == later


def test_many_dossiers_facts_are_found_in_one_query_and_saved_in_one_write(dossiers: DossierFactsRepository) -> None:
    dossiers.save(facts("H57-1", due_date="2026-03-10"))
    assert dossiers.find_many(["H57-1", "H57-2"]) == {"H57-1": dossiers.find("H57-1")}
    assert dossiers.find_many([]) == {}
    replaced, new = facts("H57-1", due_date="2026-03-20", settled_on="2026-03-18"), facts("H57-2")
    dossiers.save_many([replaced, new])
    dossiers.save_many([])
    assert dossiers.find_many(["H57-1", "H57-2", "H57-3"]) == {"H57-1": replaced, "H57-2": new}
    assert dossiers.overdue(Scope(Kind.UNIT, PROVINCE), "2026-03-31", 10) == (0, [])   # settled: not open


def test_the_overdue_are_the_open_dossiers_due_before_the_day_by_due_date(dossiers: DossierFactsRepository) -> None:
    dossiers.save(facts("H57-3", due_date="2026-03-05"))
    dossiers.save(facts("H57-1", due_date="2026-03-05"))
    dossiers.save(facts("H57-2", due_date="2026-03-04", units=(OTHER_COMMUNE, DISTRICT, PROVINCE)))
    dossiers.save(facts("H57-4", due_date="2026-03-09"))                          # due on the day: not yet
    dossiers.save(facts("H57-5", due_date=""))                                    # not accepted: no date
    dossiers.save(facts("H57-6", due_date="2026-03-01", settled_on="2026-03-02"))  # settled: not open
    assert dossiers.overdue(Scope(Kind.UNIT, PROVINCE), "2026-03-09", 10) == (
        3, [dossiers.find("H57-2"), dossiers.find("H57-1"), dossiers.find("H57-3")])
    total, first = dossiers.overdue(Scope(Kind.UNIT, COMMUNE), "2026-03-09", 1)
    assert (total, [f.code for f in first]) == (2, ["H57-1"])
    assert dossiers.overdue(Scope(Kind.AGENCY, AGENCY), "2026-03-05", 10)[0] == 1
    assert dossiers.overdue(Scope(Kind.RECEIVING, DESK), "2026-03-10", 10)[0] == 4
    assert dossiers.overdue(Scope(Kind.PROCEDURE, "SYN.001"), "2026-03-10", 10)[0] == 4
    assert dossiers.overdue(Scope(Kind.AGENCY, DESK), "2026-03-10", 10) == (0, [])


def test_apologised_dossiers_are_found_by_their_last_apology(dossiers: DossierFactsRepository) -> None:
    dossiers.save(facts("H57-1", apologies=(apology("e-1", "2026-01-20"), apology("e-2", "2026-03-03"))))
    dossiers.save(facts("H57-2", apologies=(apology("e-3", "2026-02-10"),), units=(OTHER_COMMUNE, DISTRICT, PROVINCE)))
    dossiers.save(facts("H57-3"))
    assert sorted(f.code for f in dossiers.apologised_since(Scope(Kind.UNIT, PROVINCE), "2026-02-01")) \
        == ["H57-1", "H57-2"]
    assert [f.code for f in dossiers.apologised_since(Scope(Kind.UNIT, COMMUNE), "2026-02-01")] == ["H57-1"]
    assert [f.code for f in dossiers.apologised_since(Scope(Kind.UNIT, PROVINCE), "2026-03-01")] == ["H57-1"]
    assert [f.code for f in dossiers.apologised_since(Scope(Kind.AGENCY, AGENCY), "2026-03-04")] == []
    assert len(dossiers.apologised_since(Scope(Kind.PROCEDURE, "SYN.001"), "2026-01-01")) == 2


def test_a_procedure_is_named_by_its_dossiers(dossiers: DossierFactsRepository) -> None:
    assert dossiers.procedure_name("SYN.001") == ""
    dossiers.save(facts("H57-1"))
    assert dossiers.procedure_name("SYN.001") == "Thủ tục tổng hợp số 1"


def test_counters_are_created_moved_and_kept_at_zero(counters: CounterRepository) -> None:
    assert counters.find(["unit:46"], ["2026-03"]) == {}
    counters.add({("unit:46", "2026-03"): {"received": 1, "received_online": 1, "days.3": 1, "days_sum": 3},
                  ("unit:46", "open"): {"due.2026-03-10": 1},
                  ("agency:000.01.31.H57", "2026-03"): {"received": 1}})
    counters.add({("unit:46", "2026-03"): {"received": 1, "days.3": 1, "days.12": 1},
                  ("unit:46", "open"): {"due.2026-03-10": -1, "due.none": 1}})
    counters.add({})
    found = counters.find(["unit:46", "unit:47"], ["2026-03", "open", "2026-04"])
    assert found == {
        "unit:46|2026-03": {"_id": "unit:46|2026-03", "scope": "unit:46", "bucket": "2026-03", "received": 2,
                            "received_online": 1, "days_sum": 3, "days": {"3": 2, "12": 1}},
        "unit:46|open": {"_id": "unit:46|open", "scope": "unit:46", "bucket": "open",
                         "due": {"2026-03-10": 0, "none": 1}}}
    assert counters.find(["agency:000.01.31.H57"], ["2026-03"])["agency:000.01.31.H57|2026-03"]["received"] == 1
    assert counters.find(["unit:46", "agency:000.01.31.H57"], ["2026-04"]) == {}       # every scope, those buckets


def test_what_is_read_is_a_copy(counters: CounterRepository) -> None:
    counters.add({("unit:46", "2026-03"): {"days.3": 1}})
    counters.find(["unit:46"], ["2026-03"])["unit:46|2026-03"]["days"]["3"] = 99
    assert counters.find(["unit:46"], ["2026-03"])["unit:46|2026-03"]["days"] == {"3": 1}
