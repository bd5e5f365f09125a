"""What an applicant files, and the checks it passes before it gets a dossier code.

The code is `<receiving unit's agency code>-YYMMDD-XXXX` (Circular 01/2018/TT-VPCP, art. 26: the
code of the agency or unit that received it, the day, and the day's sequence there), so a dossier a
commune desk received for the district keeps the commune's code through every transfer.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from services.common.errors import FailedPrecondition, InvalidArgument
from services.procedures.domain.applicants import Applicant, Proxy, check_applicant
from services.procedures.domain.procedure import CatalogueEntry, OnlineMode, Procedure, SubmissionChannel

# Asia/Ho_Chi_Minh has kept UTC+7 without daylight saving since 1975, so a fixed offset is exact
# for every date a dossier can carry, and images need no tzdata.
VIETNAM_TIME = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PaymentMethod(StrEnum):
    ONLINE = "PAYMENT_METHOD_ONLINE"
    AT_COUNTER = "PAYMENT_METHOD_AT_COUNTER"
    NO_FEE = "PAYMENT_METHOD_NO_FEE"


class DeliveryMethod(StrEnum):
    PICKUP = "DELIVERY_METHOD_PICKUP"
    POST = "DELIVERY_METHOD_POST"


class Channel(StrEnum):
    ONLINE = "CHANNEL_ONLINE"
    COUNTER = "CHANNEL_COUNTER"
    POST_OFFICE = "CHANNEL_POST_OFFICE"


_SUBMISSION_CHANNEL = {Channel.ONLINE: SubmissionChannel.ONLINE, Channel.COUNTER: SubmissionChannel.DESK,
                       Channel.POST_OFFICE: SubmissionChannel.POST}


@dataclass(frozen=True)
class Address:
    street: str
    commune: str
    district: str
    province: str


@dataclass(frozen=True)
class Delivery:
    method: DeliveryMethod
    address: Address | None = None
    recipient_name: str = ""
    recipient_phone: str = ""


@dataclass(frozen=True)
class SubmittedDocument:
    document_code: str
    file_name: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class Application:
    applicant: Applicant
    proxy: Proxy | None
    channel: Channel
    payment_method: PaymentMethod
    fee_category: str               # "" the general case; else one of the procedure's fee categories
    delivery: Delivery
    documents: tuple[SubmittedDocument, ...]


def local_date(moment: datetime) -> date:
    return moment.astimezone(VIETNAM_TIME).date()


def dossier_code(receiving_agency_code: str, day: date, sequence: int) -> str:
    if not 1 <= sequence <= 9999:
        raise FailedPrecondition("code", f"receiving unit {receiving_agency_code} has no dossier number left "
                                         f"for {day.isoformat()}")
    return f"{receiving_agency_code}-{day:%y%m%d}-{sequence:04d}"


def open_for_filing(entry: CatalogueEntry) -> CatalogueEntry:
    if entry.procedure.withdrawn:
        raise FailedPrecondition("procedure_code", f"procedure {entry.procedure.code} was withdrawn by decision "
                                                   f"{entry.procedure.withdrawn_by}: it takes no new dossiers")
    return entry


def check_application(entry: CatalogueEntry, application: Application) -> int:
    """Every rule an application must pass; returns the fee it owes."""
    procedure = open_for_filing(entry).procedure
    wanted = _SUBMISSION_CHANNEL[application.channel]
    if wanted not in procedure.channels:
        ways = ", ".join(c.value for c in procedure.channels)
        raise FailedPrecondition("procedure_code", f"procedure {procedure.code} is not filed {wanted.value} "
                                                   f"(it is filed: {ways})")
    check_applicant(application.applicant, application.proxy, procedure)
    fee = procedure.fee.fee_for(application.fee_category)
    _check_payment(procedure, fee, application.payment_method)
    check_documents(procedure, application.documents, tuple(d.code for d in procedure.mandatory_documents))
    if application.delivery.method is DeliveryMethod.POST and application.delivery.address is None:
        raise InvalidArgument("delivery.address", "an address is required to return the result by post")
    return fee


def _check_payment(procedure: Procedure, fee: int, method: PaymentMethod) -> None:
    if fee == 0 and method is not PaymentMethod.NO_FEE:
        raise InvalidArgument("payment_method", f"the fee is 0 for this applicant under procedure "
                                                f"{procedure.code}: use PAYMENT_METHOD_NO_FEE")
    if fee > 0 and method is PaymentMethod.NO_FEE:
        raise InvalidArgument("payment_method",
                              f"the fee is {fee} VND for this applicant: pay online or at the counter")
    if method is PaymentMethod.ONLINE and procedure.online is not OnlineMode.FULL:
        raise FailedPrecondition("payment_method", f"procedure {procedure.code} is a partly online service "
                                                   "(Decree 42/2022/NĐ-CP): its fee is paid at the counter")


def check_documents(procedure: Procedure, documents: tuple[SubmittedDocument, ...],
                    required_codes: tuple[str, ...]) -> None:
    """Every document must be one the procedure lists, and every required code among them."""
    for doc in documents:
        if procedure.document(doc.document_code) is None:
            raise InvalidArgument(
                "documents", f"document {doc.document_code!r} is not one procedure {procedure.code} asks for")
        if not doc.file_name.strip():
            raise InvalidArgument("documents", f"document {doc.document_code}: file_name is required")
        if not _SHA256.fullmatch(doc.sha256):
            raise InvalidArgument("documents", f"document {doc.document_code}: sha256 must be 64 hex digits")
        if not 1 <= doc.size_bytes <= MAX_DOCUMENT_BYTES:
            raise InvalidArgument(
                "documents", f"document {doc.document_code}: size must be 1 to {MAX_DOCUMENT_BYTES} bytes")
    given = {doc.document_code for doc in documents}
    missing = [code for code in required_codes if code not in given]
    if missing:
        names = "; ".join(f"{code} ({document_name(procedure, code)})" for code in missing)
        raise InvalidArgument("documents", f"missing mandatory document: {names}")


def document_name(procedure: Procedure, code: str) -> str:
    doc = procedure.document(code)
    return doc.name if doc else code
