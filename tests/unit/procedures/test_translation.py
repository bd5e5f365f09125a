"""procedures' translation at the entrypoint (services/procedures/translation.py): each dossier request
becomes its domain command with the values as sent, and an enum value the domain does not know
reaches the rules, which refuse it naming the field, in the words the service has always used."""

from datetime import UTC, datetime
from typing import Any

import pytest

from egov.identity.v1.events_pb2 import CitizenRegistered
from egov.procedures.v1 import procedures_pb2 as pb
from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument
from services.common.events.envelope import new_event
from services.common.protowire import parse
from services.procedures import handlers
from services.procedures import translation as tr
from services.procedures.domain import commands
from services.procedures.domain.applicants import Authorisation, Proxy
from services.procedures.domain.application import Address, SubmittedDocument
from services.procedures.fakes import KnownApplicants, in_memory_store
from tests.unit.procedures.factories import CATALOGUE, CITIZEN

SHA = "0f" * 32
ADDRESS = {"street": "12 Lê Lợi", "commune": "Phú Hội", "district": "Thuận Hóa", "province": "Huế"}
DOCUMENT = {"document_code": "TK01", "file_name": "tk01.pdf", "sha256": SHA, "size_bytes": 4096}
TK01 = SubmittedDocument(document_code="TK01", file_name="tk01.pdf", sha256=SHA, size_bytes=4096)


def submission(**fields: Any) -> pb.SubmitDossierRequest:
    return parse(pb.SubmitDossierRequest, {
        "procedure_code": "2.000488", "documents": [DOCUMENT], "payment_method": "PAYMENT_METHOD_ONLINE",
        "delivery": {"method": "DELIVERY_METHOD_POST", "address": ADDRESS, "recipient_name": " Nguyễn Văn An ",
                     "recipient_phone": "0912345678"}, **fields})


def test_a_submission_becomes_its_command_with_the_values_as_sent() -> None:
    command = tr.submit_dossier_command(submission(
        unit_code="46", receiving_agency_code="000.01.31.H57", client_request_id="req-1", fee_category=" student ",
        applicant={"kind": "APPLICANT_KIND_ORGANISATION", "id_number": " 3300101234 ", "full_name": " Công ty A ",
                   "representative_id": CITIZEN, "phone": "0912345678", "email": "a@example.vn",
                   "verified": "business_registry"},
        proxy={"citizen_id": "046190000456", "full_name": " Trần Thị Bình ",
               "authorisation": {"number": "12/UQ", "file_name": "uq.pdf", "sha256": SHA, "size_bytes": 100}}))
    assert command == commands.SubmitDossier(
        procedure_code="2.000488", unit_code="46", receiving_agency_code="000.01.31.H57", applicant_citizen_id="",
        applicant=commands.ApplicantDetails(
            kind="APPLICANT_KIND_ORGANISATION", id_number=" 3300101234 ", full_name=" Công ty A ", birth_date="",
            nationality="", representative_id=CITIZEN, phone="0912345678", email="a@example.vn"),
        proxy=Proxy(citizen_id="046190000456", full_name=" Trần Thị Bình ",
                    authorisation=Authorisation(number="12/UQ", file_name="uq.pdf", sha256=SHA, size_bytes=100)),
        payment_method="PAYMENT_METHOD_ONLINE", fee_category=" student ",
        delivery=commands.DeliveryDetails(method="DELIVERY_METHOD_POST",
                                          address=Address("12 Lê Lợi", "Phú Hội", "Thuận Hóa", "Huế"),
                                          recipient_name=" Nguyễn Văn An ", recipient_phone="0912345678"),
        documents=(TK01,), client_request_id="req-1")


def test_what_a_submission_leaves_out_is_absent_from_its_command() -> None:
    command = tr.submit_dossier_command(parse(pb.SubmitDossierRequest, {"procedure_code": "2.000488",
                                                                        "applicant_citizen_id": CITIZEN}))
    assert (command.applicant, command.proxy, command.applicant_citizen_id) == (None, None, CITIZEN)
    assert command.payment_method == "PAYMENT_METHOD_UNSPECIFIED" and command.documents == ()
    assert command.delivery == commands.DeliveryDetails("DELIVERY_METHOD_UNSPECIFIED", None, "", "")
    proxy = tr.submit_dossier_command(submission(proxy={"citizen_id": CITIZEN, "full_name": "An"})).proxy
    assert proxy == Proxy(citizen_id=CITIZEN, full_name="An", authorisation=None)


def refusal(request: pb.SubmitDossierRequest) -> tuple[str, str]:
    caller = Caller(CallerKind.CITIZEN, subject=CITIZEN)
    store = in_memory_store()
    handlers.handle_event(store, new_event(CitizenRegistered(citizen_id=CITIZEN, full_name="Nguyễn Văn An"),
                                           source="/egov/test", subject=CITIZEN))
    with pytest.raises(InvalidArgument) as refused:
        store.transaction(lambda tx: handlers.submit_dossier(tx, CATALOGUE, KnownApplicants({}),
                                                             tr.submit_dossier_command(request), caller,
                                                             datetime.now(UTC)))
    return refused.value.field, refused.value.message


@pytest.mark.parametrize("value", [pb.PAYMENT_METHOD_UNSPECIFIED, 42])
def test_a_payment_method_the_domain_does_not_know_is_refused_naming_the_field(value: int) -> None:
    request = submission()
    request.payment_method = value  # type: ignore[assignment]
    assert tr.submit_dossier_command(request).payment_method == ("PAYMENT_METHOD_UNSPECIFIED" if value == 0 else "42")
    assert refusal(request) == ("payment_method", "choose online, at the counter, or no fee")


@pytest.mark.parametrize("value", [pb.DELIVERY_METHOD_UNSPECIFIED, 42])
def test_a_delivery_method_the_domain_does_not_know_is_refused_naming_the_field(value: int) -> None:
    request = submission()
    request.delivery.method = value  # type: ignore[assignment]
    assert refusal(request) == ("delivery.method", "choose pickup or post")


def test_a_delivery_address_without_its_commune_is_refused_naming_the_field() -> None:
    request = submission()
    request.delivery.address.commune = ""
    assert refusal(request) == ("delivery.address", "commune, district and province are required")


@pytest.mark.parametrize("value", [pb.APPLICANT_KIND_UNSPECIFIED, 42])
def test_an_applicant_kind_the_domain_does_not_know_is_refused_naming_the_field(value: int) -> None:
    request = submission(applicant={"id_number": CITIZEN, "full_name": "Nguyễn Văn An"})
    request.applicant.kind = value  # type: ignore[assignment]
    assert refusal(request) == ("applicant.kind", "choose citizen, foreigner or organisation")


def test_each_dossier_request_becomes_its_command() -> None:
    code = "000.01.31.H57-261207-0001"
    cases: list[tuple[Any, object]] = [
        (tr.accept_dossier_command(pb.AcceptDossierRequest(code=code)), commands.AcceptDossier(code)),
        (tr.return_dossier_command(pb.ReturnDossierRequest(code=code, missing_document_codes=["GCS"],
                                                           guidance=" Bản chụp không rõ ")),
         commands.ReturnDossier(code, ("GCS",), " Bản chụp không rõ ")),
        (tr.record_step_command(pb.RecordStepRequest(code=code, step="Thẩm định", note="Đủ", done=True)),
         commands.RecordStep(code, "Thẩm định", "Đủ", True)),
        (tr.request_supplement_command(pb.RequestSupplementRequest(code=code, reason="Thiếu",
                                                                   missing_document_codes=["GUQ", "CCCD"])),
         commands.RequestSupplement(code, "Thiếu", ("GUQ", "CCCD"))),
        (tr.provide_supplement_command(parse(pb.ProvideSupplementRequest, {"code": code, "documents": [DOCUMENT]})),
         commands.ProvideSupplement(code, (TK01,))),
        (tr.assign_dossier_command(pb.AssignDossierRequest(code=code, assignee="cb-1")),
         commands.AssignDossier(code, "cb-1")),
        (tr.transfer_dossier_command(pb.TransferDossierRequest(code=code, to_agency_code="000.00.31.H57",
                                                               reason="liên thông")),
         commands.TransferDossier(code, "000.00.31.H57", "liên thông")),
        (tr.approve_dossier_command(pb.ApproveDossierRequest(code=code, note="Đồng ý")),
         commands.ApproveDossier(code, "Đồng ý")),
        (tr.reject_dossier_command(pb.RejectDossierRequest(code=code, reason="Sai mẫu")),
         commands.RejectDossier(code, "Sai mẫu")),
        (tr.issue_result_command(pb.IssueResultRequest(code=code, result_document_number="56/KS")),
         commands.IssueResult(code, "56/KS")),
        (tr.issue_apology_command(pb.IssueApologyRequest(code=code, reason="Chậm", new_due_date="2026-12-31")),
         commands.IssueApology(code, "Chậm", "2026-12-31")),
        (tr.extend_dossier_command(pb.ExtendDossierRequest(code=code, working_days=5, reason="Xác minh")),
         commands.ExtendDossier(code, 5, "Xác minh")),
        (tr.collect_result_command(pb.CollectResultRequest(code=code)), commands.CollectResult(code)),
        (tr.configure_desk_command(pb.ConfigureDeskRequest(agency_code=" 000.01.31.H57 ", name="Một cửa",
                                                           unit_code="46", accepts=[" 000.00.31.H57"])),
         commands.ConfigureDesk(" 000.01.31.H57 ", "Một cửa", "46", (" 000.00.31.H57",))),
    ]
    for command, expected in cases:
        assert command == expected


def test_an_apology_date_is_passed_on_as_sent() -> None:
    command = tr.issue_apology_command(pb.IssueApologyRequest(code="x", reason="Chậm", new_due_date="31/12/2026"))
    assert command.new_due_date == "31/12/2026"        # as sent; the service layer refuses it, naming the field
