"""The catalogue through the gateway, as an app or an agency system calls it: procedures of a unit found
by words typed without accents, pages whose tokens belong to their query, a procedure as a unit
implements it, the unit tree; and each bad input refused naming its field."""

import grpc
import pytest

from egov.procedures.v1 import catalogue_pb2 as cpb
from egov.procedures.v1 import procedures_pb2 as pp
from services.procedures.domain.text import fold
from tests.e2e.conftest import Platform

PHU_HOI = "19786"


def refusal(call: object, request: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=10)  # type: ignore[operator]
    return caught.value.code(), (caught.value.details() or "").split(":")[0]


def test_a_unit_s_procedures_found_by_words_without_accents(platform: Platform) -> None:
    api = platform.journey.api.procedures
    found = api.ListProcedures(pp.ListProceduresRequest(unit_code=PHU_HOI, keyword="dang ky khai sinh"), timeout=10)
    assert "1.001193" in [p.code for p in found.procedures]
    assert all("khai sinh" in fold(p.name) and p.unit.code == PHU_HOI for p in found.procedures)
    birth = next(p for p in found.procedures if p.code == "1.001193")
    assert (birth.name, birth.unit.name, birth.agency_code, birth.agency_level) == (
        "Thủ tục đăng ký khai sinh", "Phường Phú Hội", "000.04.31.H57", pp.AGENCY_LEVEL_COMMUNE)
    assert (birth.deadline.kind, birth.deadline.cutoff) == (cpb.DEADLINE_KIND_SAME_DAY, "15:00")
    assert birth.decision == "427/QĐ-UBND" and any(d.mandatory for d in birth.required_documents)
    upper = api.ListProcedures(pp.ListProceduresRequest(unit_code=PHU_HOI, keyword="ĐĂNG KÝ KHAI SINH"), timeout=10)
    assert [p.code for p in upper.procedures] == [p.code for p in found.procedures]
    by_field = api.ListProcedures(pp.ListProceduresRequest(tier="commune", field="ho tich", page_size=500), timeout=10)
    assert by_field.total_size > 5 and {p.field for p in by_field.procedures} == {"Hộ tịch"}


def test_pages_follow_and_a_token_belongs_to_its_query(platform: Platform) -> None:
    api = platform.journey.api.procedures
    query = pp.ListProceduresRequest(keyword="cap giay", page_size=5)
    first = api.ListProcedures(query, timeout=10)
    assert len(first.procedures) == 5 and first.total_size > 5 and first.next_page_token
    query.page_token = first.next_page_token
    second = api.ListProcedures(query, timeout=10)
    assert second.procedures[0].code > first.procedures[-1].code
    other = pp.ListProceduresRequest(keyword="cap giay", tier="province", page_token=first.next_page_token)
    assert refusal(api.ListProcedures, other) == (grpc.StatusCode.INVALID_ARGUMENT, "page_token")


def test_a_procedure_as_a_unit_implements_it_and_as_defined(platform: Platform) -> None:
    api = platform.journey.api.procedures
    entry = api.GetProcedure(pp.GetProcedureRequest(procedure_code="1.001193", unit_code=PHU_HOI), timeout=10)
    assert (entry.procedure.unit.code, entry.procedure.agency_code) == (PHU_HOI, "000.04.31.H57")
    defined = api.GetProcedure(pp.GetProcedureRequest(procedure_code="2.000488"), timeout=10).procedure
    assert (defined.agency_code, defined.fee_vnd, defined.implementing_units) == ("000.00.15.H57", 200_000, 1)
    assert {c.category: c.amount_vnd for c in defined.fee.categories}["student"] == 100_000


def test_the_unit_tree(platform: Platform) -> None:
    api = platform.journey.api.procedures
    districts = api.ListUnits(cpb.ListUnitsRequest(tier="district"), timeout=10)
    assert (districts.total_size, districts.units_version, list(districts.tiers)) == (
        9, "hue-2025-03", ["province", "district", "commune"])
    thuan_hoa = api.GetUnit(cpb.GetUnitRequest(unit_code="474"), timeout=10)
    assert thuan_hoa.unit.name == "Quận Thuận Hóa" and len(thuan_hoa.children) == 19
    assert [a.kind for a in thuan_hoa.agencies] == ["peoples_committee"]


def test_bad_input_is_refused_naming_the_field(platform: Platform) -> None:
    api = platform.journey.api.procedures
    assert refusal(api.ListProcedures, pp.ListProceduresRequest(unit_code="99999")) == (
        grpc.StatusCode.NOT_FOUND, "unit_code")
    assert refusal(api.ListProcedures, pp.ListProceduresRequest(unit_code="phu-hoi")) == (
        grpc.StatusCode.INVALID_ARGUMENT, "unit_code")                            # the gateway's rules
    assert refusal(api.ListProcedures, pp.ListProceduresRequest(tier="ward")) == (
        grpc.StatusCode.INVALID_ARGUMENT, "tier")
    assert refusal(api.ListProcedures, pp.ListProceduresRequest(page_token="not-ours")) == (
        grpc.StatusCode.INVALID_ARGUMENT, "page_token")
    assert refusal(api.GetProcedure, pp.GetProcedureRequest(procedure_code="1.001193", unit_code="474")) == (
        grpc.StatusCode.NOT_FOUND, "unit_code")                                   # a district does not
    assert refusal(api.GetProcedure, pp.GetProcedureRequest(procedure_code="1.999999", unit_code=PHU_HOI)) == (
        grpc.StatusCode.NOT_FOUND, "procedure_code")
    assert refusal(api.GetUnit, cpb.GetUnitRequest(unit_code="99999")) == (grpc.StatusCode.NOT_FOUND, "unit_code")
