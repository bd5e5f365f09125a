"""Deadlines, apologies and pickup through the gateway's gRPC API, every service a process: the
leader apologises with a new appointment (Mẫu 04 as a PDF, the citizen told), a second apology and a
bad request are refused naming the rule or field; the post cannot deliver the result, it waits at the
desk, the citizen is told, and the result desk hands it over."""

import io
from datetime import date

import grpc
import pytest
from pypdf import PdfReader

from deploy.local.journey import bearer, residents, wait_until
from egov.postal.v1 import postal_pb2
from egov.procedures.v1 import procedures_pb2 as pp
from services.procedures.domain.working_days import add_working_days
from tests.e2e.conftest import Platform

pytestmark = pytest.mark.e2e


def test_apology_then_a_failed_delivery_collected_at_the_desk(platform: Platform) -> None:
    journey = platform.journey
    api = journey.api.procedures
    citizen = journey.register_citizen(residents()[9])
    procedure = journey.pick_procedure(level=4, with_fee=True)
    dossier = journey.submit(citizen, procedure, street="12 Lê Lợi (không có người nhận)")
    journey.pay(citizen, dossier.code)
    officer = platform.civil_servant(procedure.agency_code)
    meta = bearer(officer)
    accepted = journey.receive(officer, dossier.code)
    due = accepted.due_date
    new_due = add_working_days(pp_date(due), 3).isoformat()

    # Refused at the gateway (required field) and by the rules (not after the due date): nothing changes.
    for request, status, field in [
        (pp.IssueApologyRequest(code=dossier.code, new_due_date=new_due), grpc.StatusCode.INVALID_ARGUMENT, "reason"),
        (pp.IssueApologyRequest(code=dossier.code, reason="Chờ xác minh", new_due_date=due),
         grpc.StatusCode.INVALID_ARGUMENT, "new_due_date"),
    ]:
        with pytest.raises(grpc.RpcError) as refused:
            api.IssueApology(request, metadata=meta, timeout=10)
        assert refused.value.code() == status and field in (refused.value.details() or ""), refused.value.details()
    with pytest.raises(grpc.RpcError) as citizen_may_not:
        api.IssueApology(pp.IssueApologyRequest(code=dossier.code, reason="x", new_due_date=new_due),
                         metadata=bearer(citizen.token), timeout=10)
    assert citizen_may_not.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert journey.dossier(officer, dossier.code) == accepted

    apologised = api.IssueApology(pp.IssueApologyRequest(code=dossier.code, reason="Chờ kết quả xác minh",
                                                         new_due_date=new_due), metadata=meta, timeout=10).dossier
    assert (apologised.due_date, apologised.legal_due_date, apologised.reappointments) == (new_due, due, 1)
    with pytest.raises(grpc.RpcError) as twice:
        api.IssueApology(pp.IssueApologyRequest(code=dossier.code, reason="Lại chậm",
                                                new_due_date=add_working_days(pp_date(new_due), 2).isoformat()),
                         metadata=meta, timeout=10)
    assert twice.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "reappointment" in (twice.value.details() or "") and "Decree 118/2025" in (twice.value.details() or "")
    slip = api.GetSlip(pp.GetSlipRequest(code=dossier.code, form=pp.SLIP_FORM_APOLOGY), metadata=bearer(citizen.token),
                       timeout=10)
    text = PdfReader(_bytes(slip.pdf)).pages[0].extract_text()
    assert "PHIẾU XIN LỖI" in text and "Chờ kết quả xác minh" in text
    told = wait_until(lambda: [n for n in journey.notifications(citizen.token, dossier.code)
                               if n.template == "dossier_apology_issued"], "the apology notification")
    assert "hẹn lại ngày trả kết quả" in told[0].body

    # The post cannot deliver: back at the desk, the citizen told, collected there.
    journey.work(officer, dossier.code)
    waiting = journey.wait_status(citizen.token, dossier.code, pp.DOSSIER_STATUS_AWAITING_PICKUP)
    assert journey.shipment(citizen.token, dossier.code).status == postal_pb2.SHIPMENT_STATUS_FAILED
    assert not waiting.completed_at
    wait_until(lambda: [n for n in journey.notifications(citizen.token, dossier.code)
                        if n.template == "dossier_returned_to_desk"], "the notice to collect at the desk")
    with pytest.raises(grpc.RpcError) as not_the_citizen:
        api.CollectResult(pp.CollectResultRequest(code=dossier.code), metadata=bearer(citizen.token), timeout=10)
    assert not_the_citizen.value.code() == grpc.StatusCode.PERMISSION_DENIED
    done = api.CollectResult(pp.CollectResultRequest(code=dossier.code), metadata=meta, timeout=10).dossier
    assert done.status == pp.DOSSIER_STATUS_COMPLETED
    assert done.timeliness == pp.TIMELINESS_EARLY       # judged by the legal date, not by the new appointment



def pp_date(value: str) -> date:
    return date.fromisoformat(value)


def _bytes(pdf: bytes) -> io.BytesIO:
    return io.BytesIO(pdf)
