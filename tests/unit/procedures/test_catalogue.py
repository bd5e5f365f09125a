import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.procedures.domain.catalogue import (
    DEFAULT_PATH,
    AgencyLevel,
    CatalogueError,
    load_catalogue,
)
from services.procedures.domain.dossier import dossier_code


def shipped() -> dict[str, Any]:
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_the_shipped_catalogue_covers_the_province() -> None:
    catalogue = load_catalogue()
    procedures = catalogue.search()
    assert len(procedures) >= 60
    assert {p.agency_level for p in procedures} == set(AgencyLevel)
    online = [p for p in procedures if p.service_level >= 3]
    assert len(online) * 2 > len(procedures)
    assert any(p.service_level == 4 for p in procedures) and any(p.service_level <= 2 for p in procedures)
    assert any(p.fee_vnd == 0 for p in procedures) and any(p.fee_vnd > 0 for p in procedures)
    for p in procedures:
        # the agency code must survive as the first part of a dossier code
        assert dossier_code(p.agency_code, date(2027, 1, 4), 1).split("-")[0] == p.agency_code
        assert p.mandatory_documents


def test_search_filters_by_agency_and_level() -> None:
    catalogue = load_catalogue()
    justice = catalogue.search(agency_code="000.00.15.H57")
    assert justice and all(p.agency_code == "000.00.15.H57" for p in justice)
    assert all(p.service_level == 4 for p in catalogue.search(service_level=4))
    assert len(catalogue.search(limit=5)) == 5
    assert catalogue.find("1.001612") is not None and catalogue.find("9.999999") is None


@pytest.mark.parametrize(("change", "complaint"), [
    (lambda p: p.update(agency_code="000-00-15-H57"), "agency_code"),
    (lambda p: p.update(code="TTHC-1"), "code"),
    (lambda p: p.update(fee_vnd=True), "fee_vnd"),
    (lambda p: p.update(service_level=5), "service_level"),
    (lambda p: p.update(legal_deadline_working_days=0), "legal_deadline_working_days"),
    (lambda p: p.update(agency_level="ward"), "agency_level"),
    (lambda p: [d.update(mandatory=False) for d in p["required_documents"]], "mandatory"),
    (lambda p: p["required_documents"].append(dict(p["required_documents"][0])), "repeated"),
])
def test_a_broken_entry_stops_the_load_naming_it(tmp_path: Path, change: Any, complaint: str) -> None:
    data = shipped()
    change(data["procedures"][3])
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    assert "procedure #3" in str(caught.value) and complaint in str(caught.value)


def test_duplicate_codes_are_refused(tmp_path: Path) -> None:
    data = shipped()
    data["procedures"].append(data["procedures"][0])
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CatalogueError, match="appears twice"):
        load_catalogue(path)
