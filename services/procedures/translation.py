"""Translation of procedures' dossier requests (protos) into domain commands: nothing else.

The entrypoints (service.py) use it once per call: a request becomes its command
(domain/commands.py) for the service layer. What the service layer returns (a Dossier, a Desk)
becomes the response through messages.py, which also writes the events the service layer emits.
Nothing here checks a value: an enum value the domain does not know is passed on by name (a number
the contract does not name, as its digits) for the rules to refuse, naming the field.
"""

from collections.abc import Iterable

from egov.common.v1 import caller_pb2
from egov.procedures.v1 import procedures_pb2 as pb
from services.procedures.domain import commands
from services.procedures.domain.applicants import Authorisation, Proxy
from services.procedures.domain.application import Address, SubmittedDocument

_PAYMENT_METHOD_NAMES: dict[int, str] = {value: name for name, value in pb.PaymentMethod.items()}
_DELIVERY_METHOD_NAMES: dict[int, str] = {value: name for name, value in pb.DeliveryMethod.items()}
_APPLICANT_KIND_NAMES: dict[int, str] = {value: name for name, value in pb.ApplicantKind.items()}


def _name(names: dict[int, str], value: int) -> str:
    return names.get(value, str(value))


def address(message: caller_pb2.Address) -> Address:
    return Address(street=message.street, commune=message.commune, district=message.district,
                   province=message.province)


def documents(messages: Iterable[pb.SubmittedDocument]) -> tuple[SubmittedDocument, ...]:
    return tuple(SubmittedDocument(document_code=m.document_code, file_name=m.file_name, sha256=m.sha256,
                                   size_bytes=m.size_bytes) for m in messages)


def applicant(message: pb.Applicant) -> commands.ApplicantDetails:
    return commands.ApplicantDetails(
        kind=_name(_APPLICANT_KIND_NAMES, message.kind), id_number=message.id_number, full_name=message.full_name,
        birth_date=message.birth_date, nationality=message.nationality, representative_id=message.representative_id,
        phone=message.phone, email=message.email)


def proxy(message: pb.Proxy) -> Proxy:
    paper = None
    if message.HasField("authorisation"):
        a = message.authorisation
        paper = Authorisation(number=a.number, file_name=a.file_name, sha256=a.sha256, size_bytes=a.size_bytes)
    return Proxy(citizen_id=message.citizen_id, full_name=message.full_name, authorisation=paper)


def delivery(message: pb.Delivery) -> commands.DeliveryDetails:
    return commands.DeliveryDetails(
        method=_name(_DELIVERY_METHOD_NAMES, message.method),
        address=address(message.address) if message.HasField("address") else None,
        recipient_name=message.recipient_name, recipient_phone=message.recipient_phone)


# -- requests in: one command per RPC ------------------------------------------------------------------
def submit_dossier_command(message: pb.SubmitDossierRequest) -> commands.SubmitDossier:
    return commands.SubmitDossier(
        procedure_code=message.procedure_code, unit_code=message.unit_code,
        receiving_agency_code=message.receiving_agency_code, applicant_citizen_id=message.applicant_citizen_id,
        applicant=applicant(message.applicant) if message.HasField("applicant") else None,
        proxy=proxy(message.proxy) if message.HasField("proxy") else None,
        payment_method=_name(_PAYMENT_METHOD_NAMES, message.payment_method), fee_category=message.fee_category,
        delivery=delivery(message.delivery), documents=documents(message.documents),
        client_request_id=message.client_request_id)


def accept_dossier_command(message: pb.AcceptDossierRequest) -> commands.AcceptDossier:
    return commands.AcceptDossier(code=message.code)


def return_dossier_command(message: pb.ReturnDossierRequest) -> commands.ReturnDossier:
    return commands.ReturnDossier(code=message.code, missing_document_codes=tuple(message.missing_document_codes),
                                  guidance=message.guidance)


def record_step_command(message: pb.RecordStepRequest) -> commands.RecordStep:
    return commands.RecordStep(code=message.code, step=message.step, note=message.note, done=message.done)


def request_supplement_command(message: pb.RequestSupplementRequest) -> commands.RequestSupplement:
    return commands.RequestSupplement(code=message.code, reason=message.reason,
                                      missing_document_codes=tuple(message.missing_document_codes))


def provide_supplement_command(message: pb.ProvideSupplementRequest) -> commands.ProvideSupplement:
    return commands.ProvideSupplement(code=message.code, documents=documents(message.documents))


def assign_dossier_command(message: pb.AssignDossierRequest) -> commands.AssignDossier:
    return commands.AssignDossier(code=message.code, assignee=message.assignee)


def transfer_dossier_command(message: pb.TransferDossierRequest) -> commands.TransferDossier:
    return commands.TransferDossier(code=message.code, to_agency_code=message.to_agency_code, reason=message.reason)


def approve_dossier_command(message: pb.ApproveDossierRequest) -> commands.ApproveDossier:
    return commands.ApproveDossier(code=message.code, note=message.note)


def reject_dossier_command(message: pb.RejectDossierRequest) -> commands.RejectDossier:
    return commands.RejectDossier(code=message.code, reason=message.reason)


def issue_result_command(message: pb.IssueResultRequest) -> commands.IssueResult:
    return commands.IssueResult(code=message.code, result_document_number=message.result_document_number)


def issue_apology_command(message: pb.IssueApologyRequest) -> commands.IssueApology:
    return commands.IssueApology(code=message.code, reason=message.reason, new_due_date=message.new_due_date)


def extend_dossier_command(message: pb.ExtendDossierRequest) -> commands.ExtendDossier:
    return commands.ExtendDossier(code=message.code, working_days=message.working_days, reason=message.reason)


def collect_result_command(message: pb.CollectResultRequest) -> commands.CollectResult:
    return commands.CollectResult(code=message.code)


def configure_desk_command(message: pb.ConfigureDeskRequest) -> commands.ConfigureDesk:
    return commands.ConfigureDesk(agency_code=message.agency_code, name=message.name, unit_code=message.unit_code,
                                  accepts=tuple(message.accepts))
