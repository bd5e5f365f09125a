"""The catalogue's replies: what a cached reply dict says is exactly what the proto message says."""

from functools import cache

import pytest

from egov.procedures.v1 import catalogue_pb2 as cpb
from egov.procedures.v1 import procedures_pb2 as pb
from services.common.errors import NotFound
from services.common.protowire import dump, parse
from services.procedures import catalogue_api as api
from services.procedures.adapters.catalogue_memory import InMemoryCatalogueStore
from services.procedures.catalogue_admin import import_shipped, load_catalogue
from services.procedures.domain.catalogue import Catalogue


@cache
def shipped() -> Catalogue:
    store = InMemoryCatalogueStore()
    import_shipped(store)
    return load_catalogue(store)


def test_cached_reply_bytes_read_back_as_the_messages() -> None:
    """An entry's bytes are the definition's followed by its own fields: they must parse as the message
    built in one go, including where the entry's agency differs from the definition's."""
    catalogue = shipped()
    for unit in ("46", "474", "19786"):
        page = catalogue.list_procedures(api.ProcedureQuery(unit_code=unit), page_size=500)
        for item in page.items:
            assert item.entry is not None
            for view in (api.FULL, api.BASIC):
                expected = api.procedure_message(catalogue, item.procedure, item.entry, view)
                read = pb.Procedure.FromString(api.procedure_bytes(catalogue, item.procedure, item.entry, view))
                assert read == expected, (item.procedure.code, unit, view)
                assert pb.Procedure.FromString(api.procedure_bytes(catalogue, item.procedure, None, view)) == \
                    api.procedure_message(catalogue, item.procedure, None, view)


def test_a_page_crosses_serialized_and_reads_back_whole() -> None:
    catalogue = shipped()
    request = pb.ListProceduresRequest(unit_code="474", page_size=7)
    reply = api.list_procedures(catalogue, request)
    assert list(reply) == ["$protobuf"]
    page = catalogue.list_procedures(api.ProcedureQuery(unit_code="474"), 7)
    assert parse(pb.ListProceduresResponse, reply) == pb.ListProceduresResponse(
        procedures=[api.procedure_message(catalogue, i.procedure, i.entry, api.FULL) for i in page.items],
        next_page_token=page.next_page_token, total_size=page.total_size,
        catalogue_revision=catalogue.version.revision)


def test_a_list_reply_is_a_valid_response_and_old_fields_are_filled() -> None:
    reply = parse(pb.ListProceduresResponse, api.list_procedures(shipped(), pb.ListProceduresRequest(
        unit_code="19786", keyword="khai sinh", page_size=2)))
    assert len(reply.procedures) == 2 and reply.next_page_token and reply.total_size > 2
    birth = parse(pb.GetProcedureResponse, api.get_procedure(shipped(), pb.GetProcedureRequest(
        procedure_code="1.001193", unit_code="19786"))).procedure
    assert (birth.agency_code, birth.agency_level, birth.unit.tier, birth.service_level) == (
        "000.04.31.H57", pb.AGENCY_LEVEL_COMMUNE, "commune", 3)      # online unstated, filed online: level 3
    assert birth.deadline.description == "trong ngày (sau 15:00 trả trong ngày làm việc tiếp theo)"
    legacy = parse(pb.GetProcedureResponse, api.get_procedure(shipped(), pb.GetProcedureRequest(
        procedure_code="2.000488"))).procedure
    assert (legacy.agency_code, legacy.service_level, legacy.fee_vnd, legacy.legal_deadline_working_days,
            legacy.online) == ("000.00.15.H57", 4, 200_000, 10, cpb.ONLINE_MODE_FULL)


def test_the_basic_view_leaves_out_the_details() -> None:
    full = dump(parse(pb.ListProceduresResponse, api.list_procedures(
        shipped(), pb.ListProceduresRequest(tier="province", page_size=50))))
    basic = dump(parse(pb.ListProceduresResponse, api.list_procedures(
        shipped(), pb.ListProceduresRequest(tier="province", page_size=50, view=pb.PROCEDURE_VIEW_BASIC))))
    assert [p["code"] for p in full["procedures"]] == [p["code"] for p in basic["procedures"]]
    assert all("required_documents" in p for p in full["procedures"])
    assert not any({"required_documents", "process", "fee", "legal_basis"} & set(p) for p in basic["procedures"])


def test_units_and_their_refusals() -> None:
    thuan_hoa = api.get_unit(shipped(), cpb.GetUnitRequest(unit_code="474"))
    assert (thuan_hoa.unit.agency_code, len(thuan_hoa.children)) == ("000.00.31.H57", 19)
    with pytest.raises(NotFound) as old:
        api.get_unit(shipped(), cpb.GetUnitRequest(unit_code="474", units_version="hue-1999"))
    assert old.value.field == "units_version"
