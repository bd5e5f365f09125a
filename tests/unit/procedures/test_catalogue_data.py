"""The shipped unit and catalogue files: each valid against its JSON Schema, and the cross-record rules of
docs/CATALOGUE_FORMAT.md that a schema cannot state (unique codes, parents, tiers and agencies of a unit file,
process days summing to the deadline). Catalogue files live in one folder per unit file they are written for
(`catalogue/2025-03/` for the three-tier tree, `catalogue/2025-07/` for the two-tier one); the checks that
involve a unit file are made against that folder's."""

import json
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "services" / "procedures" / "data"
SCHEMAS = ROOT / "docs" / "schemas"
UNIT_FILES = sorted((DATA / "units").glob("hue-2025-??.json"))
CATALOGUE_DIRS = sorted(p for p in (DATA / "catalogue").iterdir() if p.is_dir())
CATALOGUE_FILES = sorted((DATA / "catalogue").glob("*/*.json"))


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load(path: Path) -> Any:
    return json.loads(_read(path))


@cache
def validator(name: str) -> Draft202012Validator:
    schema = load(SCHEMAS / name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def units_by_version() -> dict[str, dict[str, Any]]:
    return {load(p)["version"]: load(p) for p in UNIT_FILES}


def agency_codes(unit_file: dict[str, Any]) -> set[str]:
    return {u["agency_code"] for u in unit_file["units"]} | {a["agency_code"] for a in unit_file["agencies"]}


def units_version_of(folder: Path) -> str:
    return f"hue-{folder.name}"


def procedures(folder: Path | None = None) -> list[tuple[Path, dict[str, Any]]]:
    files = CATALOGUE_FILES if folder is None else sorted(folder.glob("*.json"))
    return [(path, p) for path in files for p in load(path)["procedures"]]


def test_the_data_files_are_there() -> None:
    assert [p.name for p in UNIT_FILES] == ["hue-2025-03.json", "hue-2025-07.json"]
    assert [d.name for d in CATALOGUE_DIRS] == ["2025-03", "2025-07"]
    assert all(list(d.glob("*.json")) for d in CATALOGUE_DIRS)
    # a folder is imported whole for its unit file: no catalogue file may sit outside one
    assert list((DATA / "catalogue").glob("*.json")) == []


@pytest.mark.parametrize("path", CATALOGUE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_catalogue_file_names_its_unit_file(path: Path) -> None:
    assert load(path).get("units_version") == units_version_of(path.parent)


@pytest.mark.parametrize("path", UNIT_FILES, ids=lambda p: p.name)
def test_unit_file_matches_its_schema(path: Path) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in validator("egov-units-1.schema.json").iter_errors(load(path))]
    assert errors == []


@pytest.mark.parametrize("path", CATALOGUE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_catalogue_file_matches_its_schema(path: Path) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in validator("egov-catalogue-1.schema.json").iter_errors(load(path))]
    assert errors == []


def test_the_schema_refuses_a_bad_row() -> None:
    catalogue = load(CATALOGUE_FILES[0])
    catalogue["procedures"][0]["deadline"] = {"kind": "working_days", "days": -1}
    errors = list(validator("egov-catalogue-1.schema.json").iter_errors(catalogue))
    assert [list(e.absolute_path)[:2] for e in errors] == [["procedures", 0]]


@pytest.mark.parametrize("path", UNIT_FILES, ids=lambda p: p.name)
def test_unit_file_is_a_tree_of_its_tiers(path: Path) -> None:
    data = load(path)
    units = {u["code"]: u for u in data["units"]}
    assert len(units) == len(data["units"]), "unit codes are unique"
    codes = [u["agency_code"] for u in data["units"]] + [a["agency_code"] for a in data["agencies"]]
    assert len(set(codes)) == len(codes), "agency codes are unique"
    tiers = data["tiers"]
    for unit in data["units"]:
        assert unit["name"] == unicodedata.normalize("NFC", unit["name"])
        depth = tiers.index(unit["tier"])
        if depth == 0:
            assert unit["parent"] is None
        else:
            assert units[unit["parent"]]["tier"] == tiers[depth - 1], unit["code"]
    assert {a["unit"] for a in data["agencies"]} <= set(units)


def test_the_march_2025_units_are_the_gso_tree() -> None:
    source = load(DATA / "units" / "hue-administrative-units-2025-03.json")
    units = units_by_version()["hue-2025-03"]
    assert Counter(u["tier"] for u in units["units"]) == {"province": 1, "district": 9, "commune": 134}
    gso = {c["code"]: c["name"] for d in source["districts"] for c in d["communes"]}
    ours = {u["code"]: u["name"] for u in units["units"] if u["tier"] == "commune"}
    assert ours == gso


def test_the_july_2025_units_are_two_tiers_of_40_communes() -> None:
    units = units_by_version()["hue-2025-07"]
    assert units["tiers"] == ["province", "commune"]
    communes = [u for u in units["units"] if u["tier"] == "commune"]
    assert len(communes) == 40
    assert Counter(u["kind"] for u in communes) == {"Phường": 21, "Xã": 19}
    # Decision 19/2025/QĐ-TTg kept, for each new commune, the code of one of the units it was formed from
    march = {u["code"] for u in units_by_version()["hue-2025-03"]["units"] if u["tier"] == "commune"}
    assert {u["code"] for u in communes} <= march


def test_derived_agency_codes_say_so() -> None:
    for data in units_by_version().values():
        for record in data["units"] + data["agencies"]:
            assert record.get("agency_code_source") in {"official", "derived"}, record["agency_code"]
        if any(r.get("agency_code_source") == "derived" for r in data["units"]):
            assert data.get("agency_code_rule")


@pytest.mark.parametrize("folder", CATALOGUE_DIRS, ids=lambda p: p.name)
def test_procedure_codes_are_unique_across_the_catalogue(folder: Path) -> None:
    codes = Counter(p["code"] for _, p in procedures(folder))
    assert [code for code, n in codes.items() if n > 1] == []


@pytest.mark.parametrize("folder", CATALOGUE_DIRS, ids=lambda p: p.name)
def test_decision_numbers_are_one_file_each(folder: Path) -> None:
    numbers = Counter((load(p)["decision"]["number"], load(p)["decision"]["issuer"]) for p in folder.glob("*.json"))
    assert [n for n, count in numbers.items() if count > 1] == []


@pytest.mark.parametrize("folder", CATALOGUE_DIRS, ids=lambda p: p.name)
def test_every_procedure_fits_the_unit_file(folder: Path) -> None:
    units = units_by_version()[units_version_of(folder)]
    known = agency_codes(units)
    for path, p in procedures(folder):
        where = f"{path.name} {p['code']}"
        assert set(p["tiers"]) <= set(units["tiers"]), where
        assert set(p["competent_agency"]) == set(p["tiers"]), where
        for agency in p["competent_agency"].values():
            assert agency == "unit" or agency in known, where


def test_documents_and_steps_are_consistent() -> None:
    for path, p in procedures():
        where = f"{path.name} {p['code']}"
        doc_codes = [d["code"] for d in p["documents"]]
        assert len(set(doc_codes)) == len(doc_codes), where
        assert p["name"] == unicodedata.normalize("NFC", p["name"]), where
        steps = p.get("process")
        if steps and p["deadline"]["kind"] == "working_days":
            assert sum(s["working_days"] for s in steps) == p["deadline"]["days"], where
        for s in steps or []:
            assert s["owner"] in {"receiving", "competent"} | set(p["tiers"]), where


def test_fee_categories_never_cost_more_than_the_general_fee() -> None:
    for _, p in procedures():
        names = [c["category"] for c in p["fee"].get("categories", [])]
        assert len(set(names)) == len(names)
        assert all(c["amount_vnd"] <= p["fee"]["amount_vnd"] for c in p["fee"].get("categories", []))


def test_the_catalogue_has_the_seed_scale_and_its_landmarks() -> None:
    all_procedures = {p["code"]: p for _, p in procedures(DATA / "catalogue" / "2025-07")}
    assert len(all_procedures) >= 150
    tiers = Counter(t for p in all_procedures.values() for t in p["tiers"])
    assert tiers["province"] >= 100 and tiers["commune"] >= 40
    deadline_kinds = {p["deadline"]["kind"] for p in all_procedures.values()}
    assert deadline_kinds == {"working_days", "calendar_days", "same_day"}
    birth = all_procedures["1.001193"]
    assert birth["tiers"] == ["commune"] and birth["deadline"] == {"kind": "same_day", "cutoff": "15:00"}
    household = all_procedures["1.001612"]
    assert household["name"] == "Đăng ký thành lập hộ kinh doanh" and household["tiers"] == ["commune"]
    record = all_procedures["3.000333"]
    fee = record["fee"]
    assert fee["amount_vnd"] == 200000
    by_category = {c["category"]: c["amount_vnd"] for c in fee["categories"]}
    assert by_category["student"] == 100000 and by_category["merit"] == 100000
    assert by_category["child"] == 0 and by_category["poor_household"] == 0
    assert record["competent_agency"] == {"province": "000.00.28.H57"}
    departments = {a for p in all_procedures.values() for a in p["competent_agency"].values() if a != "unit"}
    assert len(departments) >= 5


def test_the_three_tier_catalogue_has_district_procedures_and_a_commune_to_district_process() -> None:
    march = {p["code"]: p for _, p in procedures(DATA / "catalogue" / "2025-03")}
    tiers = Counter(t for p in march.values() for t in p["tiers"])
    assert tiers["district"] >= 10 and tiers["commune"] >= 1 and tiers["province"] >= 1
    assert len({p["field"] for p in march.values() if "district" in p["tiers"]}) >= 5
    # before 1 July 2025 the household business registration was a district procedure
    household = march["1.001612"]
    assert household["name"] == "Đăng ký thành lập hộ kinh doanh" and household["tiers"] == ["district"]
    assert household["competent_agency"] == {"district": "unit"}
    # liên thông: received and checked at the commune, decided at the district, in the published days
    handed_over = [p for p in march.values()
                   if [s["owner"] for s in p.get("process", [])][:1] == ["commune"]
                   and "district" in [s["owner"] for s in p["process"]]]
    assert handed_over, "no procedure passes from the commune to the district"
    funeral = march["1.001731"]
    assert [(s["owner"], s["working_days"]) for s in funeral["process"]] == [
        ("commune", 2), ("district", 3), ("district", 0.5)]
    assert funeral["deadline"] == {"kind": "working_days", "days": 5.5}
    assert set(funeral["competent_agency"]) == {"commune", "district"}
