"""The import formats: the shipped files read whole; a bad row is refused naming its place and field."""

import json
from datetime import time
from typing import Any

import pytest

from services.common.roles import Role
from services.procedures.catalogue_admin import shipped_files
from services.procedures.domain.catalogue_file import (
    parse_catalogue,
    procedure_from_row,
    procedure_to_row,
)
from services.procedures.domain.file_rules import FileRejected
from services.procedures.domain.procedure import Deadline, DeadlineKind, OnlineMode, Procedure
from services.procedures.domain.unit_file import parse_units
from services.procedures.domain.units import AgencyKind
from tests.unit.procedures import catalogue_data as data

TREE = parse_units(data.three_tier()).tree


def problems(parse: Any, document: Any) -> list[tuple[str, str]]:
    with pytest.raises(FileRejected) as caught:
        parse(document)
    return caught.value.problems


def places(found: list[tuple[str, str]]) -> list[str]:
    return [place for place, _ in found]


# -- unit files ----------------------------------------------------------------------------------
def test_the_shipped_unit_file_is_hue_with_its_departments() -> None:
    units_file, _ = shipped_files()
    read = parse_units(json.loads(units_file.read_text(encoding="utf-8")))
    tree = read.tree
    assert tree.tiers == ("province", "district", "commune")
    assert [len(tree.of_tier(t)) for t in tree.tiers] == [1, 9, 134]
    assert tree.unit("19786").name == "Phường Phú Hội" and tree.unit("19786").parent == "474"
    assert tree.unit_of_agency("000.00.15.H57").code == "46"             # Sở Tư pháp belongs to the city
    assert tree.agency("000.00.28.H57").kind is AgencyKind.POLICE
    assert "000.00.31.H57" in read.derived_agency_codes and "000.00.00.H57" not in read.derived_agency_codes
    assert parse_units(read.document) == read                              # how the database keeps it


def test_the_two_tier_unit_file_of_july_2025() -> None:
    units_file, _ = shipped_files("2025-07")
    tree = parse_units(json.loads(units_file.read_text(encoding="utf-8"))).tree
    assert tree.tiers == ("province", "commune") and len(tree.of_tier("commune")) == 40


def test_a_two_tier_tree_is_a_file_not_a_code_change() -> None:
    tree = parse_units(data.two_tier()).tree
    assert tree.tiers == ("province", "commune")
    assert tree.unit("19750").parent == "46"
    assert tree.tier_rank("commune") == 1


def test_a_unit_file_with_bad_rows_is_refused_naming_each() -> None:
    bad = data.three_tier()
    bad["units"] = [*bad["units"],
                    {**data.PHU_HOI, "code": "20000", "parent": "99999", "agency_code": "000.77.31.H57"},
                    {**data.PHU_HOI, "code": "20001", "tier": "ward", "agency_code": "000.78.31.H57"},
                    {**data.PHU_HOI, "agency_code": "000.21.31.H57"},
                    {**data.PHU_HOI, "code": "20002", "parent": "19783", "agency_code": "bad code"}]
    found = problems(parse_units, bad)
    assert places(found) == ["units[6].parent", "units[7].tier", "units[8].code", "units[9].parent",
                             "units[9].agency_code", "units[8].agency_code"]
    assert "99999" in found[0][1] and "already the code of units[3]" in found[-1][1]


def test_a_unit_file_must_say_its_format_and_version() -> None:
    found = problems(parse_units, {"format": "egov-units/2", "tiers": [], "units": []})
    assert places(found)[:3] == ["format", "version", "as_of"]


# -- catalogue files -----------------------------------------------------------------------------
def read_edition(edition: str) -> dict[str, Procedure]:
    units_file, catalogue_files = shipped_files(edition)
    tree = parse_units(json.loads(units_file.read_text(encoding="utf-8"))).tree
    read: dict[str, Procedure] = {}
    for path in catalogue_files:
        for procedure in parse_catalogue(json.loads(path.read_text(encoding="utf-8")), tree).procedures:
            assert procedure_from_row(procedure_to_row(procedure), procedure.decision) == procedure
            assert procedure.code not in read, f"{procedure.code} twice in edition {edition}"
            read[procedure.code] = procedure
    return read


def test_the_three_tier_edition_reads_against_its_tree() -> None:
    read = read_edition("2025-03")
    assert {t for p in read.values() for t in p.tiers} == {"province", "district", "commune"}
    allowance = read["1.001776"]                            # received by the commune, decided by the district
    assert allowance.tiers == ("commune", "district") and [s.owner for s in allowance.process][1:3] == [
        "commune", "district"]
    assert read["2.000488"].fee.fee_for("student") == 100_000 and read["2.000488"].online is OnlineMode.FULL
    assert read["1.001612"].tiers == ("district",)          # before the reform


def test_the_two_tier_edition_reads_against_its_tree() -> None:
    read = read_edition("2025-07")
    assert len(read) >= 150 and {t for p in read.values() for t in p.tiers} == {"province", "commune"}
    record = read["3.000333"]                               # the criminal-record certificate, at the police
    assert (record.fee.fee_for(""), record.fee.fee_for("student"), record.fee.fee_for("child")) == (200_000, 100_000, 0)
    assert (record.online, record.decision, record.documents[0].copies) == (OnlineMode.UNSTATED, "1025/QĐ-BCA", 1)
    assert read["1.001612"].tiers == ("commune",)           # after the reform


def test_a_file_written_for_another_unit_tree_is_refused() -> None:
    _, files = shipped_files("2025-07")
    found = problems(lambda d: parse_catalogue(d, TREE), json.loads(files[0].read_text(encoding="utf-8")))
    assert found[0][0] == "units_version" and "hue-2025-07" in found[0][1] and "test-3" in found[0][1]


def test_three_kinds_of_deadline_and_a_default_process() -> None:
    file = parse_catalogue(data.catalogue("1/QĐ", data.BIRTH, data.CRIMINAL_RECORD,
                                          data.row("1.000001", "Thủ tục", ["province"],
                                                   deadline={"kind": "calendar_days", "days": 15})), TREE)
    birth, criminal, calendar = file.procedures
    assert birth.deadline == Deadline(DeadlineKind.SAME_DAY, 0, time(15))
    assert calendar.deadline == Deadline(DeadlineKind.CALENDAR_DAYS, 15)
    assert [(s.owner, s.role, s.working_days) for s in criminal.process] == [
        ("receiving", Role.RECEIVER, 0), ("competent", Role.SPECIALIST, 9), ("competent", Role.LEADER, 1),
        ("receiving", Role.RESULT_DESK, 0)]
    assert criminal.competent_agency == {"province": "000.00.15.H57"} and birth.competent_agency == {"commune": "unit"}
    assert criminal.decision == "1/QĐ"


def test_a_bad_row_is_refused_whole_naming_its_place_and_field() -> None:
    bad_deadline = {**data.HOUSEHOLD_BUSINESS, "deadline": {"kind": "working_days", "days": 0}}
    found = problems(lambda d: parse_catalogue(d, TREE), data.catalogue("1/QĐ", data.BIRTH, bad_deadline))
    assert found == [("procedures[1].deadline.days", "must be a number from 0.5 to 365 in steps of 0.5, not 0")]


@pytest.mark.parametrize(("change", "place"), [
    ({"code": "1.00119"}, "procedures[0].code"),
    ({"tiers": ["ward"]}, "procedures[0].tiers[0]"),
    ({"competent_agency": {"commune": "000.99.99.H57"}}, "procedures[0].competent_agency.commune"),
    ({"competent_agency": {"province": "unit"}}, "procedures[0].competent_agency.province"),
    ({"online": "level-4"}, "procedures[0].online"),
    ({"channels": ["desk"]}, "procedures[0].channels"),                # full-process online must be online
    ({"fee": {"amount_vnd": -1}}, "procedures[0].fee.amount_vnd"),
    ({"fee": {"amount_vnd": 10, "categories": [{"category": "poor", "name": "Hộ nghèo", "amount_vnd": 20}]}},
     "procedures[0].fee.categories[0].amount_vnd"),
    ({"documents": [{"code": "TK", "name": "Tờ khai", "mandatory": False}]}, "procedures[0].documents"),
    ({"documents": [{"code": "tk", "name": "Tờ khai", "mandatory": True}]}, "procedures[0].documents[0].code"),
    ({"applicants": ["citizen", "citizen"]}, "procedures[0].applicants[1]"),
    ({"process": [{"step": "Thẩm định", "owner": "competent", "working_days": 2}],
      "deadline": {"kind": "working_days", "days": 3}}, "procedures[0].process"),
    ({"process": [{"step": "Chuyển huyện", "owner": "district", "working_days": 3}]}, "procedures[0].process[0].owner"),
    ({"deadline": {"kind": "same_day", "cutoff": "25:00"}}, "procedures[0].deadline.cutoff"),
    ({"dealine": {"kind": "same_day"}}, "procedures[0].dealine"),      # a misspelt field is not ignored
])
def test_each_rule_names_its_field(change: dict[str, Any], place: str) -> None:
    found = problems(lambda d: parse_catalogue(d, TREE), data.catalogue("1/QĐ", {**data.BIRTH, **change}))
    assert place in places(found), found


def test_codes_are_unique_and_withdrawals_belong_to_amendments() -> None:
    twice = problems(lambda d: parse_catalogue(d, TREE), data.catalogue("1/QĐ", data.BIRTH, data.BIRTH))
    assert twice == [("procedures[1].code", "1.001193 is also procedures[0]")]
    full = problems(lambda d: parse_catalogue(d, TREE), data.catalogue("1/QĐ", data.BIRTH, withdrawn=["1.000656"]))
    assert places(full) == ["withdrawn"]
    amendment = parse_catalogue(data.catalogue("2/QĐ", scope="amendment", withdrawn=["1.000656"]), TREE)
    assert (amendment.procedures, amendment.withdrawn) == ((), ("1.000656",))


def test_a_process_handed_between_tiers_sums_to_the_deadline() -> None:
    handed = {**data.HOUSEHOLD_BUSINESS, "tiers": ["commune", "district"], "process": [
        {"step": "Tiếp nhận tại xã", "owner": "receiving", "working_days": 0.5},
        {"step": "Xác minh", "owner": "commune", "working_days": 1},
        {"step": "Thẩm định", "owner": "district", "working_days": 1},
        {"step": "Ký", "owner": "competent", "role": "leader", "working_days": 0.5}]}
    procedure = parse_catalogue(data.catalogue("1/QĐ", handed), TREE).procedures[0]
    assert [s.owner for s in procedure.process] == ["receiving", "commune", "district", "competent"]
    assert procedure.process[-1].role is Role.LEADER
