"""A dossier (hồ sơ) filed under a procedure, and the rules of its life from submission to completion.

AWAITING_PAYMENT (online fee) or SUBMITTED (fee at the counter, or none)
  → IN_PROGRESS when accepted: the legal clock starts; due date = acceptance day + deadline in working days
  ⇄ SUPPLEMENT_REQUESTED: the clock pauses, and the due date moves by the working days paused
  → APPROVED → RESULT_ISSUED (result sent by post) → COMPLETED on delivery
               → COMPLETED at once when the result is collected at the desk
REJECTED from any state before the result is issued.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from services.common.citizen_id import check_citizen_id
from services.common.errors import FailedPrecondition, InvalidArgument
from services.procedures.domain.catalogue import Catalogue, Procedure
from services.procedures.domain.working_days import add_working_days, working_days_between

# Asia/Ho_Chi_Minh has kept UTC+7 without daylight saving since 1975, so a fixed offset is exact
# for every date a dossier can carry, and images need no tzdata.
VIETNAM_TIME = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")

# (agency code, local day) -> the next number of that agency's dossiers for the day, from 1
DaySequence = Callable[[str, date], int]


class DossierStatus(StrEnum):
    AWAITING_PAYMENT = "DOSSIER_STATUS_AWAITING_PAYMENT"
    SUBMITTED = "DOSSIER_STATUS_SUBMITTED"
    IN_PROGRESS = "DOSSIER_STATUS_IN_PROGRESS"
    SUPPLEMENT_REQUESTED = "DOSSIER_STATUS_SUPPLEMENT_REQUESTED"
    APPROVED = "DOSSIER_STATUS_APPROVED"
    REJECTED = "DOSSIER_STATUS_REJECTED"
    RESULT_ISSUED = "DOSSIER_STATUS_RESULT_ISSUED"
    COMPLETED = "DOSSIER_STATUS_COMPLETED"


# A dossier can still be rejected in these states; once a result is issued it cannot.
BEFORE_RESULT = (DossierStatus.AWAITING_PAYMENT, DossierStatus.SUBMITTED, DossierStatus.IN_PROGRESS,
                 DossierStatus.SUPPLEMENT_REQUESTED, DossierStatus.APPROVED)


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


class Timeliness(StrEnum):
    UNSETTLED = "TIMELINESS_UNSPECIFIED"
    ON_TIME = "TIMELINESS_ON_TIME"
    LATE = "TIMELINESS_LATE"


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
class HistoryEntry:
    at: datetime
    status: DossierStatus
    actor: str
    note: str = ""


@dataclass(frozen=True)
class Application:
    """What an applicant files; `Dossier.submit` checks it against the procedure."""

    applicant_citizen_id: str
    channel: Channel
    payment_method: PaymentMethod
    delivery: Delivery
    documents: tuple[SubmittedDocument, ...]


def local_date(moment: datetime) -> date:
    return moment.astimezone(VIETNAM_TIME).date()


def dossier_code(agency_code: str, day: date, sequence: int) -> str:
    """`<agency code>-YYMMDD-XXXX`, XXXX the agency's sequence of the day (Circular 01/2018/TT-VPCP)."""
    if not 1 <= sequence <= 9999:
        raise FailedPrecondition("code",
                                 f"agency {agency_code} has no dossier number left for {day.isoformat()}")
    return f"{agency_code}-{day:%y%m%d}-{sequence:04d}"


def procedure_for_submission(catalogue: Catalogue, code: str) -> Procedure:
    procedure = catalogue.find(code)
    if procedure is None:
        raise InvalidArgument("procedure_code", f"no procedure {code!r} in the catalogue")
    return procedure


def check_application(procedure: Procedure, application: Application) -> None:
    check_citizen_id(application.applicant_citizen_id, "applicant_citizen_id")
    if application.channel is Channel.ONLINE and procedure.service_level < 3:
        raise FailedPrecondition(
            "procedure_code",
            f"procedure {procedure.code} is a level-{procedure.service_level} service: "
            "it is filed at the counter, not online")
    _check_payment(procedure, application.payment_method)
    check_documents(procedure, application.documents, tuple(d.code for d in procedure.mandatory_documents))
    if application.delivery.method is DeliveryMethod.POST and application.delivery.address is None:
        raise InvalidArgument("delivery.address", "an address is required to return the result by post")


def _check_payment(procedure: Procedure, method: PaymentMethod) -> None:
    if procedure.fee_vnd == 0 and method is not PaymentMethod.NO_FEE:
        raise InvalidArgument("payment_method",
                              f"procedure {procedure.code} has no fee: use PAYMENT_METHOD_NO_FEE")
    if procedure.fee_vnd > 0 and method is PaymentMethod.NO_FEE:
        raise InvalidArgument("payment_method",
                              f"procedure {procedure.code} has a fee of {procedure.fee_vnd} VND: "
                              "pay online or at the counter")
    if method is PaymentMethod.ONLINE and procedure.service_level < 4:
        raise FailedPrecondition("payment_method",
                                 f"online payment needs a level-4 procedure; {procedure.code} is "
                                 f"level {procedure.service_level}: pay at the counter")


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
        names = "; ".join(f"{code} ({_document_name(procedure, code)})" for code in missing)
        raise InvalidArgument("documents", f"missing mandatory document: {names}")


def _document_name(procedure: Procedure, code: str) -> str:
    doc = procedure.document(code)
    return doc.name if doc else code


@dataclass
class Dossier:
    code: str
    procedure_code: str
    procedure_name: str
    agency_code: str
    applicant_citizen_id: str
    channel: Channel
    payment_method: PaymentMethod
    delivery: Delivery
    fee_vnd: int
    legal_deadline_working_days: int    # as the catalogue said at submission
    documents: tuple[SubmittedDocument, ...]
    submitted_at: datetime
    status: DossierStatus
    accepted_at: datetime | None = None
    due_date: date | None = None
    paused_working_days: int = 0
    supplement_requested_at: datetime | None = None
    missing_document_codes: tuple[str, ...] = ()
    result_issued_at: datetime | None = None
    result_document_number: str = ""
    completed_at: datetime | None = None
    timeliness: Timeliness = Timeliness.UNSETTLED
    rejection_reason: str = ""
    history: list[HistoryEntry] = field(default_factory=list)

    @classmethod
    def submit(cls, procedure: Procedure, application: Application, next_sequence: DaySequence,
               at: datetime, actor: str) -> "Dossier":
        """A new dossier; its number is drawn only once the application is found valid."""
        check_application(procedure, application)
        day = local_date(at)
        code = dossier_code(procedure.agency_code, day, next_sequence(procedure.agency_code, day))
        status = (DossierStatus.AWAITING_PAYMENT if application.payment_method is PaymentMethod.ONLINE
                  else DossierStatus.SUBMITTED)
        dossier = cls(
            code=code, procedure_code=procedure.code, procedure_name=procedure.name,
            agency_code=procedure.agency_code, applicant_citizen_id=application.applicant_citizen_id,
            channel=application.channel, payment_method=application.payment_method,
            delivery=application.delivery, fee_vnd=procedure.fee_vnd,
            legal_deadline_working_days=procedure.legal_deadline_working_days,
            documents=application.documents, submitted_at=at, status=status,
        )
        dossier._record(at, actor, "Nộp hồ sơ")
        return dossier

    @property
    def is_accepted(self) -> bool:
        return self.accepted_at is not None

    # -- acceptance: the legal clock starts ------------------------------------------------------
    def accept_at_desk(self, at: datetime, actor: str) -> None:
        if self.status is DossierStatus.AWAITING_PAYMENT:
            raise FailedPrecondition("status",
                                     f"dossier {self.code} is accepted when its online payment settles")
        self._require("accept", DossierStatus.SUBMITTED)
        self._start_clock(at, actor, "Tiếp nhận hồ sơ")

    def accept_on_payment(self, at: datetime, actor: str) -> None:
        self._require("accept on payment", DossierStatus.AWAITING_PAYMENT)
        self._start_clock(at, actor, "Đã thanh toán phí trực tuyến; tiếp nhận hồ sơ")

    def _start_clock(self, at: datetime, actor: str, note: str) -> None:
        self.accepted_at = at
        self.due_date = add_working_days(local_date(at), self.legal_deadline_working_days)
        self.status = DossierStatus.IN_PROGRESS
        self._record(at, actor, f"{note}; hạn trả kết quả {self.due_date.isoformat()}")

    # -- processing ------------------------------------------------------------------------------
    def record_step(self, step: str, note: str, at: datetime, actor: str) -> None:
        if not step.strip():
            raise InvalidArgument("step", "is required")
        self._require("record a step on", DossierStatus.IN_PROGRESS)
        self._record(at, actor, f"{step}: {note}" if note else step)

    def request_supplement(self, procedure: Procedure, reason: str, missing_document_codes: tuple[str, ...],
                           at: datetime, actor: str) -> None:
        if not reason.strip():
            raise InvalidArgument("reason", "is required")
        unknown = [c for c in missing_document_codes if procedure.document(c) is None]
        if unknown:
            raise InvalidArgument(
                "missing_document_codes",
                f"{', '.join(unknown)} not among the documents of procedure {procedure.code}")
        self._require("request a supplement to", DossierStatus.IN_PROGRESS)
        self.status = DossierStatus.SUPPLEMENT_REQUESTED
        self.supplement_requested_at = at
        self.missing_document_codes = tuple(dict.fromkeys(missing_document_codes))
        self._record(at, actor, f"Yêu cầu bổ sung hồ sơ: {reason}")

    def provide_supplement(self, procedure: Procedure, documents: tuple[SubmittedDocument, ...],
                           at: datetime, actor: str) -> int:
        """Resume the clock; the due date moves by the working days the dossier waited. Returns them."""
        self._require("supplement", DossierStatus.SUPPLEMENT_REQUESTED)
        if not documents:
            raise InvalidArgument("documents", "a supplement needs at least one document")
        check_documents(procedure, documents, self.missing_document_codes)
        if self.supplement_requested_at is None or self.due_date is None:
            raise FailedPrecondition("status", f"dossier {self.code} has no running clock to resume")
        paused = working_days_between(local_date(self.supplement_requested_at), local_date(at))
        self.paused_working_days += paused
        self.due_date = add_working_days(self.due_date, paused)
        self.documents = self.documents + documents
        self.status = DossierStatus.IN_PROGRESS
        self.supplement_requested_at = None
        self.missing_document_codes = ()
        self._record(at, actor, f"Đã bổ sung hồ sơ; tạm dừng {paused} ngày làm việc; "
                                f"hạn trả kết quả {self.due_date.isoformat()}")
        return paused

    def approve(self, note: str, at: datetime, actor: str) -> None:
        self._require("approve", DossierStatus.IN_PROGRESS)
        self.status = DossierStatus.APPROVED
        self._record(at, actor, note or "Phê duyệt hồ sơ")

    def reject(self, reason: str, at: datetime, actor: str) -> None:
        if not reason.strip():
            raise InvalidArgument("reason", "is required")
        self._require("reject", *BEFORE_RESULT)
        self.status = DossierStatus.REJECTED
        self.rejection_reason = reason
        self._record(at, actor, f"Từ chối hồ sơ: {reason}")

    # -- result ----------------------------------------------------------------------------------
    def issue_result(self, result_document_number: str, at: datetime, actor: str) -> None:
        """Timeliness is settled here: the legal deadline covers the agency's work up to the issued
        result, so days the result spends in postal transit never make a dossier late."""
        if not result_document_number.strip():
            raise InvalidArgument("result_document_number", "is required")
        self._require("issue the result of", DossierStatus.APPROVED)
        if self.due_date is None:
            raise FailedPrecondition("status", f"dossier {self.code} was never accepted")
        self.result_issued_at = at
        self.result_document_number = result_document_number
        self.timeliness = Timeliness.ON_TIME if local_date(at) <= self.due_date else Timeliness.LATE
        if self.delivery.method is DeliveryMethod.POST:
            self.status = DossierStatus.RESULT_ISSUED
            self._record(at, actor, f"Trả kết quả số {result_document_number} qua bưu chính")
        else:
            self.status = DossierStatus.COMPLETED
            self.completed_at = at
            self._record(at, actor, f"Trả kết quả số {result_document_number} tại bộ phận một cửa")

    def complete_delivery(self, at: datetime, actor: str) -> None:
        self._require("complete", DossierStatus.RESULT_ISSUED)
        self.status = DossierStatus.COMPLETED
        self.completed_at = at
        self._record(at, actor, "Bưu chính đã giao kết quả cho người nhận")

    # -- helpers ---------------------------------------------------------------------------------
    def _require(self, action: str, *statuses: DossierStatus) -> None:
        if self.status not in statuses:
            raise FailedPrecondition("status",
                                     f"cannot {action} dossier {self.code}: it is {self.status.value}")

    def _record(self, at: datetime, actor: str, note: str) -> None:
        self.history.append(HistoryEntry(at=at, status=self.status, actor=actor, note=note))

