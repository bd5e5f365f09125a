"""The one-stop chain through procedures' RPC on the real broker and SecantusDB: a commune desk
receives a commune → district procedure, the district's leader assigns it to a specialist known from
identity's CivilServantRegistered, it is transferred (same code), decided and returned; the work
queue pages with tokens bound to the query; the public lookup; the receipt slip as a PDF."""

import base64
import io
from collections.abc import Callable, Iterator

import pytest
from pypdf import PdfReader

from deploy.local.stack import Stack
from egov.identity.v1.events_pb2 import CivilServantRegistered
from egov.procedures.v1 import events_pb2 as ev
from services.common.caller import OPERATOR
from services.common.roles import Role
from tests.integration.test_procedures import (
    DEADLINE,
    EventWatch,
    Procedures,
    clerk,
    document,
    new_citizen,
)
from tests.support import SignedRpcClient

VY_DA, THUAN_HOA = "000.01.31.H57", "000.00.31.H57"


@pytest.fixture
def procedures(make_stack: Callable[..., Stack]) -> Iterator[tuple[Procedures, EventWatch]]:
    stack = make_stack(services=("procedures",), gateway=False)
    watch = EventWatch(stack.amqp_uri)
    with SignedRpcClient(stack.env(), uri=stack.amqp_uri, timeout=DEADLINE) as rpc:
        service = Procedures(stack, rpc)
        yield service, watch
        service.publisher.close()
    watch.close()


def allowance(citizen: str) -> dict[str, object]:
    return {"procedure_code": "1.001776", "unit_code": "19777", "applicant_citizen_id": citizen,
            "documents": [document("TK01"), document("CCCD")], "payment_method": "PAYMENT_METHOD_NO_FEE",
            "delivery": {"method": "DELIVERY_METHOD_PICKUP"}}


def test_commune_to_district_transfer_with_assignment_queue_lookup_and_slip(
        procedures: tuple[Procedures, EventWatch]) -> None:
    service, events = procedures
    citizen = new_citizen()
    service.register(citizen)
    desk, commune = clerk(VY_DA, Role.RECEIVER, Role.RESULT_DESK), clerk(VY_DA, Role.SPECIALIST)
    leader, specialist = clerk(THUAN_HOA, Role.LEADER), clerk(THUAN_HOA, Role.SPECIALIST)
    service.publish(CivilServantRegistered(civil_servant_id=specialist.subject, agency_code=THUAN_HOA,
                                           role="specialist", appointments=[f"specialist@{THUAN_HOA}"]),
                    specialist.subject, "/egov/identity")
    service.wait_until_consumed()

    codes = [service.call("submit_dossier", desk, **allowance(citizen.subject))["code"] for _ in range(3)]
    code = codes[0]
    assert code.startswith(f"{VY_DA}-")
    accepted = service.call("accept_dossier", desk, code=code)
    assert accepted["current_step"].startswith("Xét duyệt") and accepted["slips"][0]["form"] == "SLIP_FORM_RECEIPT"

    # the district cannot touch it before the transfer; an unknown agency is no target
    assert service.refused("assign_dossier", leader, code=code, assignee=specialist.subject).exc_type == \
        "PermissionDenied"
    bad = service.refused("transfer_dossier", commune, code=code, to_agency_code="000.00.15.H57", reason="x")
    assert (bad.exc_type, bad.value.split(":")[0]) == ("FailedPrecondition", "to_agency_code")
    moved = service.call("transfer_dossier", commune, code=code, to_agency_code=THUAN_HOA,
                         reason="Hội đồng xét duyệt cấp xã đã xét duyệt")
    assert (moved["code"], moved["handling_agency_code"], moved["current_step"]) == (
        code, THUAN_HOA, "Thẩm định của Phòng Lao động - Thương binh và Xã hội")
    transferred = events.wait_for(ev.DossierTransferred, code)
    assert (transferred.from_agency_code, transferred.dossier.receiving_agency_code,
            transferred.dossier.handling_agency_code) == (VY_DA, VY_DA, THUAN_HOA)

    refused = service.refused("assign_dossier", leader, code=code, assignee="nobody")
    assert (refused.exc_type, refused.value.split(":")[0]) == ("FailedPrecondition", "assignee")
    assert service.call("assign_dossier", leader, code=code, assignee=specialist.subject)["assignee"] == \
        specialist.subject
    service.call("record_step", specialist, code=code, step="Thẩm định", note="Đủ điều kiện", done=True)
    service.call("approve_dossier", leader, code=code, note="Quyết định trợ cấp")
    done = service.call("issue_result", desk, code=code, result_document_number="15/QĐ-UBND")
    assert done["status"] == "DOSSIER_STATUS_COMPLETED"

    # the commune desk's queue: three dossiers, two per page, the token bound to the query
    first = service.rpc.procedures.list_dossiers(request={"receiving_agency_code": VY_DA, "page_size": 2},
                                                 caller=desk.to_wire())
    assert [d["code"] for d in first["dossiers"]] == [codes[1], codes[2]]    # waiting at the desk first
    second = service.rpc.procedures.list_dossiers(request={"receiving_agency_code": VY_DA, "page_size": 2,
                                                           "page_token": first["next_page_token"]},
                                                  caller=desk.to_wire())
    assert [d["code"] for d in second["dossiers"]] == [code] and not second.get("next_page_token")
    other = service.refused("list_dossiers", desk, status="DOSSIER_STATUS_COMPLETED",
                            page_token=first["next_page_token"])
    assert (other.exc_type, other.value.split(":")[0]) == ("InvalidArgument", "page_token")
    outsider = service.rpc.procedures.list_dossiers(request={}, caller=clerk("000.00.32.H57").to_wire())
    assert outsider.get("dossiers", []) == []

    status = service.rpc.procedures.lookup_dossier_status(
        request={"code": code, "id_last4": citizen.subject[-4:]}, caller={})
    assert status["status"] == "DOSSIER_STATUS_COMPLETED"
    wrong = service.refused("lookup_dossier_status", desk, code=code, id_last4="0000")
    unknown = service.refused("lookup_dossier_status", desk, code=f"{VY_DA}-000101-0001", id_last4="0000")
    assert (wrong.exc_type, wrong.value) == (unknown.exc_type, unknown.value.replace(f"{VY_DA}-000101-0001", code))
    for _ in range(4):    # guessing the digits: five failures, then the code is closed for a while
        service.refused("lookup_dossier_status", desk, code=code, id_last4="0000")
    closed = service.refused("lookup_dossier_status", desk, code=code, id_last4=citizen.subject[-4:])
    assert (closed.exc_type, closed.value.split(":")[0]) == ("ResourceExhausted", "code")

    # the applicant's own list; a supervisor of the district sees the commune's dossiers, another does not
    mine = service.rpc.procedures.list_my_dossiers(request={}, caller=citizen.to_wire())
    assert sorted(d["code"] for d in mine["dossiers"]) == sorted(codes)
    assert service.rpc.procedures.list_my_dossiers(request={}, caller=new_citizen().to_wire()).get("dossiers",
                                                                                                    []) == []
    supervised = service.rpc.procedures.list_dossiers(
        request={"overdue": False}, caller=clerk(THUAN_HOA, Role.SUPERVISOR).to_wire())
    assert sorted(d["code"] for d in supervised["dossiers"]) == sorted(codes)
    other_district = service.refused("list_dossiers", clerk("000.00.32.H57", Role.SUPERVISOR),
                                     receiving_agency_code=VY_DA)
    assert (other_district.exc_type, other_district.value.split(":")[0]) == ("PermissionDenied",
                                                                             "receiving_agency_code")

    slip = service.rpc.procedures.get_slip(request={"code": code, "form": "SLIP_FORM_RECEIPT"},
                                           caller=citizen.to_wire())
    text = PdfReader(io.BytesIO(base64.b64decode(slip["pdf"]))).pages[0].extract_text()   # bytes travel as base64
    assert code in text and "GIẤY TIẾP NHẬN HỒ SƠ" in text


def test_a_configured_service_centre_receives_for_every_agency(procedures: tuple[Procedures, EventWatch]) -> None:
    """The city's public administration service centre, configured by an operator to receive for any
    agency (Decree 118/2025): its code starts the dossier codes; a foreigner files there by passport."""
    service, _ = procedures
    centre = "000.00.00.H57"
    desk = {"agency_code": centre, "name": "Trung tâm Phục vụ hành chính công thành phố Huế", "unit_code": "46",
            "accepts": ["*"]}
    refused = service.refused("configure_desk", clerk(centre), **desk)
    assert refused.exc_type == "PermissionDenied"
    unknown = service.refused("configure_desk", OPERATOR, **{**desk, "accepts": ["000.99.99.H57"]})
    assert (unknown.exc_type, unknown.value.split(":")[0]) == ("InvalidArgument", "accepts[0]")
    configured = service.rpc.procedures.configure_desk(request=desk, caller=OPERATOR.to_wire())
    assert configured["desk"]["accepts"] == ["*"]

    receiver = clerk(centre, Role.RECEIVER)
    foreigner = {"kind": "APPLICANT_KIND_FOREIGNER", "id_number": "M12345678", "full_name": "KIM MIN JUN",
                 "nationality": "KOR"}
    dossier = service.call("submit_dossier", receiver, procedure_code="2.000488", applicant=foreigner,
                           documents=[document("TK01"), document("CCCD")], payment_method="PAYMENT_METHOD_AT_COUNTER",
                           delivery={"method": "DELIVERY_METHOD_PICKUP"})
    assert dossier["code"].startswith(f"{centre}-")
    assert (dossier["receiving_agency_code"], dossier["competent_agency_code"]) == (centre, "000.00.15.H57")
    assert (dossier["applicant"]["verified"], dossier.get("applicant_citizen_id", "")) == ("passport_seen", "")
    proxy_without_paper = service.refused(
        "submit_dossier", receiver, procedure_code="2.000488", applicant=foreigner,
        proxy={"citizen_id": "046190000456", "full_name": "Trần Thị Bình"},
        documents=[document("TK01"), document("CCCD")], payment_method="PAYMENT_METHOD_AT_COUNTER",
        delivery={"method": "DELIVERY_METHOD_PICKUP"})
    assert (proxy_without_paper.exc_type, proxy_without_paper.value.split(":")[0]) == (
        "InvalidArgument", "proxy.authorisation")
