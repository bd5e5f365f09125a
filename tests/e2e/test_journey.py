"""The level-4 journey through the gateway's gRPC API only, with the five services and the gateway
as separate processes on the real broker and SecantusDB."""

import grpc
import pytest

from deploy.local.agency_demo import DESK, read_as_desk, register_desk
from deploy.local.journey import read_mailbox, residents
from deploy.registrations import GET_DOSSIER
from egov.identity.v1 import identity_pb2
from egov.payments.v1 import payments_pb2
from egov.postal.v1 import postal_pb2
from egov.procedures.v1 import procedures_pb2 as pp
from services.common.events.envelope import unpack
from tests.e2e.conftest import Platform
from tests.support import EventTap, eventually

pytestmark = pytest.mark.e2e


def vietnamese(text: str) -> bool:
    return any(ch in text for ch in "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


def test_level4_dossier_paid_online_and_returned_by_post(platform: Platform) -> None:
    journey = platform.journey
    tap = EventTap(platform.stack.amqp_uri)
    citizen = journey.register_citizen(residents()[1])
    procedure = journey.pick_procedure(level=4, with_fee=True)

    dossier = journey.submit(citizen, procedure)
    assert dossier.code.startswith(f"{procedure.agency_code}-")   # no desk configured: its own desk
    assert dossier.status == pp.DOSSIER_STATUS_AWAITING_PAYMENT

    journey.pay(citizen, dossier.code)
    paid = journey.wait_status(citizen.token, dossier.code, pp.DOSSIER_STATUS_SUBMITTED)
    assert paid.fee_paid and not paid.accepted_at          # payment alone does not accept it
    officer = platform.civil_servant(procedure.agency_code)
    accepted = journey.receive(officer, dossier.code)
    assert accepted.due_date and accepted.accepted_at
    assert [s.form for s in accepted.slips] == [pp.SLIP_FORM_RECEIPT]

    issued = journey.work(officer, dossier.code)
    assert issued.status == pp.DOSSIER_STATUS_RESULT_ISSUED

    done = journey.wait_status(citizen.token, dossier.code, pp.DOSSIER_STATUS_COMPLETED)
    assert done.timeliness == pp.TIMELINESS_EARLY   # the same day: before the due date (Decision 766)

    bill = journey.bill(citizen.token, dossier.code)
    assert bill.status == payments_pb2.BILL_STATUS_PAID and bill.amount_vnd == procedure.fee_vnd
    assert len(tap.of_type("egov.payments.v1.PaymentSettled")) == 1

    shipment = journey.shipment(citizen.token, dossier.code)
    assert shipment.status == postal_pb2.SHIPMENT_STATUS_DELIVERED and shipment.tracking_number

    email = f"{citizen.citizen_id}@example.vn"
    mails = eventually(lambda: [m for m in read_mailbox(platform.mailbox_url, email)
                                if dossier.code in m["subject"] + m["body"]], "e-mails about the dossier")
    assert all(vietnamese(m["subject"] + m["body"]) for m in mails)
    completed_mail = eventually(
        lambda: [m for m in read_mailbox(platform.mailbox_url, email) if "hoàn" in (m["subject"] + m["body"]).lower()
                 and dossier.code in m["subject"] + m["body"]], "the completion e-mail")
    assert completed_mail
    tap.close()


def test_rejected_dossier_is_refunded_and_the_citizen_told(platform: Platform) -> None:
    journey = platform.journey
    citizen = journey.register_citizen(residents()[2])
    procedure = journey.pick_procedure(level=4, with_fee=True)
    dossier = journey.submit(citizen, procedure)
    journey.pay(citizen, dossier.code)
    officer = platform.civil_servant(procedure.agency_code)
    journey.receive(officer, dossier.code)

    journey.api.procedures.RejectDossier(
        pp.RejectDossierRequest(code=dossier.code, reason="Giấy tờ không hợp lệ"),
        metadata=[("authorization", f"Bearer {officer}")], timeout=10)

    assert journey.dossier(citizen.token, dossier.code).status == pp.DOSSIER_STATUS_REJECTED
    eventually(lambda: journey.bill(citizen.token, dossier.code).status == payments_pb2.BILL_STATUS_REFUNDED,
               "the refund")
    email = f"{citizen.citizen_id}@example.vn"
    eventually(lambda: [m for m in read_mailbox(platform.mailbox_url, email)
                        if "Giấy tờ không hợp lệ" in m["body"]], "the rejection e-mail with its reason")


def test_supplement_pauses_the_clock(platform: Platform) -> None:
    journey = platform.journey
    citizen = journey.register_citizen(residents()[3])
    procedure = journey.pick_procedure(level=4, with_fee=True)
    dossier = journey.submit(citizen, procedure)
    journey.pay(citizen, dossier.code)
    officer = platform.civil_servant(procedure.agency_code)
    accepted = journey.receive(officer, dossier.code)
    meta = [("authorization", f"Bearer {officer}")]
    first_document = procedure.required_documents[0].code

    paused = journey.api.procedures.RequestSupplement(pp.RequestSupplementRequest(
        code=dossier.code, reason="Bổ sung bản sao có chứng thực", missing_document_codes=[first_document]),
        metadata=meta, timeout=10).dossier
    assert paused.status == pp.DOSSIER_STATUS_SUPPLEMENT_REQUESTED
    with pytest.raises(grpc.RpcError) as refused:   # nobody can approve while the clock is paused
        journey.api.procedures.ApproveDossier(pp.ApproveDossierRequest(code=dossier.code), metadata=meta,
                                              timeout=10)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    resumed = journey.api.procedures.ProvideSupplement(pp.ProvideSupplementRequest(
        code=dossier.code, documents=[journey_document(procedure, first_document)]),
        metadata=[("authorization", f"Bearer {citizen.token}")], timeout=10).dossier
    assert resumed.status == pp.DOSSIER_STATUS_IN_PROGRESS
    assert resumed.due_date >= accepted.due_date
    assert [h.status for h in resumed.history].count(pp.DOSSIER_STATUS_SUPPLEMENT_REQUESTED) == 1


def journey_document(procedure: pp.Procedure, code: str) -> pp.SubmittedDocument:
    from deploy.local.journey import document_for

    return document_for(code, next(d.name for d in procedure.required_documents if d.code == code))


def count_dossiers(platform: Platform) -> int:
    return int(platform.mongo["egov_procedures"]["dossiers"].count_documents({}))


def refused(call: object, code: grpc.StatusCode, field: str) -> None:
    assert isinstance(call, grpc.RpcError)
    assert call.code() == code, call.details()
    assert field in (call.details() or ""), call.details()


def test_bad_requests_are_refused_naming_the_field_and_change_nothing(platform: Platform) -> None:
    journey = platform.journey
    citizen = journey.register_citizen(residents()[4])
    level4 = journey.pick_procedure(level=4, with_fee=True)
    level3 = journey.pick_procedure(level=3, with_fee=True)
    tap = EventTap(platform.stack.amqp_uri)
    before = count_dossiers(platform)

    with pytest.raises(grpc.RpcError) as bad_id:
        journey.api.identity.RegisterCitizen(identity_pb2.RegisterCitizenRequest(
            citizen_id="04620000123", full_name="Lê Văn Tám", birth_date="2000-01-01", phone="0905123456",
            password="mat-khau-an-toan-2026", address=residents_address()), timeout=10)
    refused(bad_id.value, grpc.StatusCode.INVALID_ARGUMENT, "citizen_id")

    with pytest.raises(grpc.RpcError) as unknown:
        journey.submit(citizen, pp.Procedure(code="9.999999", required_documents=level4.required_documents))
    refused(unknown.value, grpc.StatusCode.INVALID_ARGUMENT, "procedure_code")

    with pytest.raises(grpc.RpcError) as missing:
        journey.submit(citizen, level4, skip_document=next(d.code for d in level4.required_documents if d.mandatory))
    refused(missing.value, grpc.StatusCode.INVALID_ARGUMENT, "documents")

    with pytest.raises(grpc.RpcError) as online_level3:
        journey.submit(citizen, level3, payment=pp.PAYMENT_METHOD_ONLINE)
    refused(online_level3.value, grpc.StatusCode.FAILED_PRECONDITION, "payment_method")

    assert count_dossiers(platform) == before
    published = [unpack(e) for e in tap.drain() if e.type in (
        "egov.procedures.v1.DossierSubmitted", "egov.identity.v1.CitizenRegistered")]
    assert published == []
    tap.close()


def residents_address():  # type: ignore[no-untyped-def]
    from egov.common.v1 import caller_pb2

    return caller_pb2.Address(commune="Phường Phú Hội", district="Thành phố Huế", province="Thừa Thiên Huế")


def test_an_agency_system_reads_the_dossier_through_the_agency_front(platform: Platform) -> None:
    """What `make run` shows: the one-stop desk, registered and granted GetDossier, reads a citizen's
    dossier with its client certificate; the same call without one is refused and both are logged."""
    journey = platform.journey
    citizen = journey.register_citizen(residents()[5])
    # A dossier of the desk's own agency: an agency system reads only those (issue 12 item 7).
    member_code = str(DESK).split("/")[2]
    dossier = journey.submit(citizen, journey.pick_procedure(level=4, with_fee=True, agency_code=member_code))
    register_desk(platform.stack)
    read = read_as_desk(platform.stack, dossier.code)
    assert (read.dossier.code, read.dossier.applicant_citizen_id) == (dossier.code, citizen.citizen_id)
    assert read.refused == grpc.StatusCode.UNAUTHENTICATED
    assert read.refusal.startswith("certificate: no client certificate was presented")
    log = platform.mongo["egov_gateway"]["message_log"]
    assert eventually(lambda: log.find_one({"client": str(DESK), "method": GET_DOSSIER, "status": "OK"}),
                      "the desk's exchange in the message log")
