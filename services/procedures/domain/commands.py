"""The dossier commands procedures accepts, one per RPC, as plain values: what the sender asked, not
yet checked.

The entrypoint translates each request once (translation.py) and the service layer (handlers.py,
reception.py) takes these, so no handler sees a wire dict or a proto. Field names are the protos'.
Values stay as they were sent (untrimmed strings, enum members by their proto value name, a number
the contract does not name as its digits) because checking them is the rules' work, in the order the
rules check them: a refusal names the same field, in the same words, as before the translation moved.
Who sends a command (the Caller) travels beside it, not in it. The catalogue's RPCs and the reads
(queries.py) are not commands and keep their requests.
"""

from dataclasses import dataclass

from services.procedures.domain.applicants import Proxy
from services.procedures.domain.application import Address, SubmittedDocument


@dataclass(frozen=True)
class ApplicantDetails:
    """procedures.v1.Applicant as sent; `verified` is the platform's to set, so it is not taken."""

    kind: str                        # an ApplicantKind value name (APPLICANT_KIND_CITIZEN, ...)
    id_number: str
    full_name: str
    birth_date: str
    nationality: str
    representative_id: str
    phone: str
    email: str


@dataclass(frozen=True)
class DeliveryDetails:
    method: str                      # a DeliveryMethod value name (DELIVERY_METHOD_POST, ...)
    address: Address | None          # None when the request carries no address
    recipient_name: str
    recipient_phone: str


@dataclass(frozen=True)
class SubmitDossier:
    procedure_code: str
    unit_code: str
    receiving_agency_code: str
    applicant_citizen_id: str
    applicant: ApplicantDetails | None   # None: the single-agency form, by applicant_citizen_id
    proxy: Proxy | None                  # full_name as sent
    payment_method: str                  # a PaymentMethod value name (PAYMENT_METHOD_ONLINE, ...)
    fee_category: str
    delivery: DeliveryDetails
    documents: tuple[SubmittedDocument, ...]
    client_request_id: str


@dataclass(frozen=True)
class AcceptDossier:
    code: str


@dataclass(frozen=True)
class ReturnDossier:
    code: str
    missing_document_codes: tuple[str, ...]
    guidance: str


@dataclass(frozen=True)
class RecordStep:
    code: str
    step: str
    note: str
    done: bool                       # the current step of the internal process is finished


@dataclass(frozen=True)
class RequestSupplement:
    code: str
    reason: str
    missing_document_codes: tuple[str, ...]


@dataclass(frozen=True)
class ProvideSupplement:
    code: str
    documents: tuple[SubmittedDocument, ...]


@dataclass(frozen=True)
class AssignDossier:
    code: str
    assignee: str                    # a civil servant ID


@dataclass(frozen=True)
class TransferDossier:
    code: str
    to_agency_code: str
    reason: str


@dataclass(frozen=True)
class ApproveDossier:
    code: str
    note: str


@dataclass(frozen=True)
class RejectDossier:
    code: str
    reason: str


@dataclass(frozen=True)
class IssueResult:
    code: str
    result_document_number: str


@dataclass(frozen=True)
class IssueApology:
    code: str
    reason: str
    new_due_date: str                # YYYY-MM-DD as sent; anything else is refused, naming `new_due_date`


@dataclass(frozen=True)
class ExtendDossier:
    code: str
    working_days: int
    reason: str


@dataclass(frozen=True)
class CollectResult:
    code: str


@dataclass(frozen=True)
class ConfigureDesk:
    agency_code: str
    name: str
    unit_code: str
    accepts: tuple[str, ...]         # agency codes, as sent
