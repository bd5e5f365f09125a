"""Search as people type it: accents and case ignored, đ as d, word beginnings; filters; pages."""

import pytest

from services.common.errors import InvalidArgument, NotFound
from services.procedures.domain.catalogue import Catalogue, CatalogueVersion, ProcedureQuery
from services.procedures.domain.catalogue_file import parse_catalogue
from services.procedures.domain.text import fold, words
from services.procedures.domain.unit_file import parse_units
from tests.unit.procedures import catalogue_data as data

TREE = parse_units(data.three_tier()).tree


def catalogue(*rows: dict[str, object]) -> Catalogue:
    file = parse_catalogue(data.catalogue("1/QĐ", *(rows or (data.BIRTH, data.HOUSEHOLD_BUSINESS, data.CRIMINAL_RECORD,
                                                           data.DEATH))), TREE)
    return Catalogue(TREE, file.procedures, CatalogueVersion(1, TREE.version, "1/QĐ"))


def codes(found: Catalogue, **query: object) -> list[str]:
    return [item.procedure.code for item in found.list_procedures(ProcedureQuery(**query)).items]  # type: ignore[arg-type]


def test_folding_drops_accents_and_case_and_reads_dd_as_d() -> None:
    assert fold("Đăng ký khai sinh") == fold("dang ky khai sinh") == fold("DANG KY KHAI SINH") == "dang ky khai sinh"
    assert fold("đ") == fold("Đ") == "d"
    assert fold("Thuỷ Biều") == fold("Thủy Biều") == "thuy bieu"
    assert words("Mã 1.001612, cơ quan 000.00.15.H57") == ["ma", "1.001612", "co", "quan", "000.00.15.h57"]


def test_a_keyword_without_accents_finds_the_procedure() -> None:
    found = catalogue()
    assert codes(found, keyword="dang ky khai sinh") == ["1.001193"]
    assert codes(found, keyword="ĐĂNG KÝ") == ["1.000656", "1.001193", "1.001612"]
    assert codes(found, keyword="dang ky khai") == ["1.000656", "1.001193"]     # khai sinh, khai tử
    assert codes(found, keyword="ly lich") == ["2.000488"]                       # the field's words too
    assert codes(found, keyword="2.000488") == ["2.000488"]
    assert codes(found, keyword="khai sinh dang") == ["1.001193"]                # word order does not matter
    assert codes(found, keyword="dang ky ket hon") == []


def test_filters_combine_with_the_keyword() -> None:
    found = catalogue()
    assert codes(found, tier="commune") == ["1.000656", "1.001193"]
    assert codes(found, tier="commune", keyword="khai tu") == ["1.000656"]
    assert codes(found, field="ho tich") == ["1.000656", "1.001193"]             # field without accents
    assert codes(found, field="Lý lịch tư pháp") == ["2.000488"]
    assert codes(found, service_level=4) == ["1.000656", "1.001193", "1.001612", "2.000488"]


def test_a_unit_lists_its_tier_s_procedures_as_entries_with_their_competent_agency() -> None:
    page = catalogue().list_procedures(ProcedureQuery(unit_code="19786"))
    assert [(i.procedure.code, i.entry.competent_agency_code if i.entry else "") for i in page.items] == [
        ("1.000656", "000.21.31.H57"), ("1.001193", "000.21.31.H57")]
    province = catalogue().list_procedures(ProcedureQuery(unit_code="46")).items
    assert [(i.procedure.code, i.entry.competent_agency_code if i.entry else "") for i in province] == [
        ("2.000488", "000.00.15.H57")]


def test_an_agency_lists_what_it_settles() -> None:
    found = catalogue()
    assert codes(found, agency_code="000.00.15.H57") == ["2.000488"]       # a department
    assert codes(found, agency_code="000.00.31.H57") == ["1.001612"]       # a district's People's Committee
    assert codes(found, agency_code="000.00.00.H57") == []                  # the city's committee settles none here
    assert codes(found, agency_code="000.00.31.H57", unit_code="19786") == []


def test_unknown_unit_agency_and_tier_are_refused_naming_the_field() -> None:
    found = catalogue()
    with pytest.raises(NotFound) as unit:
        found.list_procedures(ProcedureQuery(unit_code="99999"))
    with pytest.raises(NotFound) as agency:
        found.list_procedures(ProcedureQuery(agency_code="000.99.99.H57"))
    with pytest.raises(InvalidArgument) as tier:
        found.list_procedures(ProcedureQuery(tier="ward"))
    with pytest.raises(InvalidArgument) as keyword:
        found.list_procedures(ProcedureQuery(keyword="?!"))
    assert [e.value.field for e in (unit, agency, tier, keyword)] == ["unit_code", "agency_code", "tier", "keyword"]


def test_pages_follow_in_code_order_and_tokens_are_bound_to_their_query() -> None:
    found = catalogue()
    first = found.list_procedures(ProcedureQuery(keyword="dang ky"), page_size=2)
    assert [i.procedure.code for i in first.items] == ["1.000656", "1.001193"] and first.total_size == 3
    second = found.list_procedures(ProcedureQuery(keyword="DANG KÝ"), page_size=2, page_token=first.next_page_token)
    assert [i.procedure.code for i in second.items] == ["1.001612"] and second.next_page_token == ""
    with pytest.raises(InvalidArgument) as other_query:
        found.list_procedures(ProcedureQuery(keyword="dang ky", tier="commune"), page_token=first.next_page_token)
    assert other_query.value.field == "page_token" and "another query" in other_query.value.message
    with pytest.raises(InvalidArgument) as garbage:
        found.list_procedures(ProcedureQuery(keyword="dang ky"), page_token="not-a-token")
    assert garbage.value.field == "page_token"
    with pytest.raises(InvalidArgument):
        found.list_procedures(ProcedureQuery(), page_size=-1)


def test_unit_pages_and_tokens() -> None:
    found = catalogue()
    first = found.list_units(page_size=4)
    assert [u.code for u in first.units] == ["46", "474", "476", "19750"] and first.total_size == 6
    rest = found.list_units(page_size=4, page_token=first.next_page_token)
    assert [u.code for u in rest.units] == ["19783", "19786"] and not rest.next_page_token
    assert [u.code for u in found.list_units(parent_code="474").units] == ["19783", "19786"]
    with pytest.raises(InvalidArgument):
        found.list_units(tier="commune", page_token=first.next_page_token)
    with pytest.raises(NotFound):
        found.list_units(units_version="never-imported")


def test_an_entry_exists_only_where_the_unit_s_tier_implements_the_procedure() -> None:
    found = catalogue()
    entry = found.require_entry("1.001193", "19750")
    assert (entry.unit.name, entry.competent_agency_code) == ("Phường Phong An", "000.05.32.H57")
    with pytest.raises(NotFound) as elsewhere:
        found.require_entry("1.001193", "474")
    assert elsewhere.value.field == "unit_code" and "does not implement" in elsewhere.value.message
    with pytest.raises(NotFound) as unknown:
        found.require_entry("1.999999", "474")
    assert unknown.value.field == "procedure_code"
    assert len(found.implementing_units(found.require_procedure("1.001193"))) == 3
    assert found.definition_agency(found.require_procedure("2.000488")) == "000.00.15.H57"
    assert found.definition_agency(found.require_procedure("1.001193")) == ""
