"""A dossier (hồ sơ) and the rules of its life, from the desk to the result (docs/ONE_STOP.md).

AWAITING_PAYMENT (fee paid online, not yet paid) or SUBMITTED (waiting for the receiving unit)
  ⇄ SUPPLEMENT_REQUESTED before acceptance: returned once with everything missing (Mẫu 02)
  → REJECTED before acceptance: refused with reasons (Mẫu 03)
  → IN_PROGRESS when a receiver accepts it: the clock starts (receipt and appointment, Mẫu 01)
  ⇄ SUPPLEMENT_REQUESTED: the clock pauses, and the due date moves by the working days paused
  → APPROVED → RESULT_ISSUED (result sent by post) → COMPLETED on delivery
                             → AWAITING_PICKUP when the post fails → COMPLETED when collected at the desk
               → COMPLETED at once when the result is collected at the desk
While the clock runs the handling agency's leader may apologise and re-appoint (Mẫu 04, once) or take
the extension the procedure allows (domain/deadlines.py has the rules).
REJECTED from any state before the result is issued. Payment never accepts a dossier by itself.
Longer than 300 lines: one state machine, each transition beside the others it excludes.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from services.common.errors import FailedPrecondition, InvalidArgument
from services.common.roles import Role
from services.procedures.domain import deadlines
from services.procedures.domain.applicants import Applicant, Proxy, parties
from services.procedures.domain.application import (
    VIETNAM_TIME,
    Application,
    Channel,
    Delivery,
    DeliveryMethod,
    PaymentMethod,
    SubmittedDocument,
    check_application,
    check_documents,
    dossier_code,
    local_date,
    open_for_filing,
)
from services.procedures.domain.desks import Desk, check_receives
from services.procedures.domain.procedure import (
    CatalogueEntry,
    Deadline,
    DeadlineKind,
    Procedure,
    ProcessStep,
)
from services.procedures.domain.units import UnitTree
from services.procedures.domain.working_days import add_working_days, is_working_day, working_days_between

__all__ = ["open_for_filing"]   # filing rules live in application.py; catalogue tests import it from here

# (receiving agency code, local day) -> that unit's next number of the day, from 1
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
    AWAITING_PICKUP = "DOSSIER_STATUS_AWAITING_PICKUP"


BEFORE_RESULT = (DossierStatus.AWAITING_PAYMENT, DossierStatus.SUBMITTED, DossierStatus.IN_PROGRESS,
                 DossierStatus.SUPPLEMENT_REQUESTED, DossierStatus.APPROVED)
AT_RECEPTION = (DossierStatus.AWAITING_PAYMENT, DossierStatus.SUBMITTED)
OPEN = (*BEFORE_RESULT, DossierStatus.RESULT_ISSUED, DossierStatus.AWAITING_PICKUP)
CLOCK_RUNNING = (DossierStatus.IN_PROGRESS, DossierStatus.APPROVED)


class Timeliness(StrEnum):
    UNSETTLED = "TIMELINESS_UNSPECIFIED"
    EARLY = "TIMELINESS_EARLY"
    ON_TIME = "TIMELINESS_ON_TIME"
    LATE = "TIMELINESS_LATE"


class SlipForm(StrEnum):
    """Circular 01/2018/TT-VPCP forms the one-stop desk issues."""

    RECEIPT = "MAU_01"       # Giấy tiếp nhận hồ sơ và hẹn trả kết quả
    SUPPLEMENT = "MAU_02"    # Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ
    REFUSAL = "MAU_03"       # Phiếu từ chối tiếp nhận giải quyết hồ sơ
    APOLOGY = "MAU_04"       # Phiếu xin lỗi và hẹn lại ngày trả kết quả


@dataclass(frozen=True)
class Slip:
    form: SlipForm
    issued_at: datetime
    issued_by: str
    items: tuple[str, ...] = ()        # Mẫu 02: what is missing; Mẫu 03: the reasons
    due_date: date | None = None       # Mẫu 01: the appointment


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    status: DossierStatus
    actor: str
    note: str = ""


@dataclass(frozen=True)
class Assignment:
    at: datetime
    actor: str
    assignee: str
    previous: str


@dataclass(frozen=True)
class Transfer:
    at: datetime
    actor: str
    from_agency_code: str
    to_agency_code: str
    reason: str


@dataclass(frozen=True)
class Apology:
    """Mẫu 04: the reason and the new appointment, signed by the handling agency's leader."""

    at: datetime
    actor: str
    agency_code: str
    reason: str
    previous_due_date: date
    new_due_date: date
    letter_number: str


@dataclass(frozen=True)
class Extension:
    at: datetime
    actor: str
    working_days: int
    reason: str
    previous_due_date: date
    new_due_date: date


@dataclass
class Dossier:
    code: str
    procedure_code: str
    procedure_name: str
    unit_code: str                    # the implementing unit (GSO code) of the catalogue entry
    units: tuple[str, ...]            # that unit and every unit above it: what supervisors see by
    receiving_agency_code: str        # the desk that received it: the code starts with it
    competent_agency_code: str        # the agency competent for the entry
    handling_agency_code: str         # who works it now: the competent agency, or the one transferred to
    applicant: Applicant
    proxy: Proxy | None
    channel: Channel
    payment_method: PaymentMethod
    fee_category: str
    fee_vnd: int
    delivery: Delivery
    deadline: Deadline
    steps: tuple[ProcessStep, ...]
    documents: tuple[SubmittedDocument, ...]
    submitted_at: datetime
    status: DossierStatus
    fee_paid: bool = False
    accepted_at: datetime | None = None
    due_date: date | None = None
    step_index: int = 0
    paused_working_days: int = 0
    supplement_requested_at: datetime | None = None
    missing_document_codes: tuple[str, ...] = ()
    reception_returns: int = 0
    processing_supplements: int = 0
    assignee: str = ""
    result_issued_at: datetime | None = None
    result_document_number: str = ""
    completed_at: datetime | None = None
    timeliness: Timeliness = Timeliness.UNSETTLED
    rejection_reason: str = ""
    agencies: tuple[str, ...] = ()    # every agency that received, is competent for, or handled it
    history: list[HistoryEntry] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    slips: list[Slip] = field(default_factory=list)
    legal_due_date: date | None = None   # what timeliness is judged by: not moved by an apology
    apologies: list[Apology] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    returned_to_desk_at: datetime | None = None

    @classmethod
    def submit(cls, entry: CatalogueEntry, desk: Desk, application: Application, units: UnitTree,
               next_sequence: DaySequence, at: datetime, actor: str) -> "Dossier":
        """A new dossier; its number is drawn only once the application is found valid."""
        check_receives(desk, entry)
        fee = check_application(entry, application)
        day = local_date(at)
        procedure = entry.procedure
        status = (DossierStatus.AWAITING_PAYMENT if application.payment_method is PaymentMethod.ONLINE
                  else DossierStatus.SUBMITTED)
        competent = entry.competent_agency_code
        dossier = cls(
            code=dossier_code(desk.agency_code, day, next_sequence(desk.agency_code, day)),
            procedure_code=procedure.code, procedure_name=procedure.name, unit_code=entry.unit.code,
            units=(entry.unit.code, *(u.code for u in units.ancestors(entry.unit.code))),
            receiving_agency_code=desk.agency_code, competent_agency_code=competent,
            handling_agency_code=competent, applicant=application.applicant, proxy=application.proxy,
            channel=application.channel, payment_method=application.payment_method,
            fee_category=application.fee_category, fee_vnd=fee, delivery=application.delivery,
            deadline=procedure.deadline, steps=procedure.process or default_process(procedure),
            documents=application.documents, submitted_at=at, status=status,
            agencies=tuple(dict.fromkeys((desk.agency_code, competent))),
        )
        dossier._record(at, actor, "Nộp hồ sơ")
        return dossier

    # -- what it is ------------------------------------------------------------------------------
    @property
    def agency_code(self) -> str:
        """The competent agency: what `agency_code` meant before receiving units existed."""
        return self.competent_agency_code

    @property
    def applicant_citizen_id(self) -> str:
        return self.applicant.contact_citizen_id

    @property
    def parties(self) -> tuple[str, ...]:
        return parties(self.applicant, self.proxy)

    @property
    def is_accepted(self) -> bool:
        return self.accepted_at is not None

    @property
    def legal_deadline_working_days(self) -> int:
        return math.ceil(self.deadline.days) if self.deadline.kind is DeadlineKind.WORKING_DAYS else 0

    @property
    def current_step(self) -> ProcessStep | None:
        return self.steps[self.step_index] if self.step_index < len(self.steps) else None

    def step_due(self) -> date | None:
        """When the current step must be done: acceptance + the working days of the steps up to it
        (rounded up), moved by the days paused; the dossier's due date when the deadline is not in
        working days."""
        if self.accepted_at is None or self.current_step is None or self.due_date is None:
            return None
        if self.deadline.kind is not DeadlineKind.WORKING_DAYS:
            return self.due_date
        days = math.ceil(sum(s.working_days for s in self.steps[:self.step_index + 1]))
        return min(add_working_days(local_date(self.accepted_at), days + self.paused_working_days),
                   self.due_date)

    def overdue_on(self, day: date) -> bool:
        """Overdue as the deadline watch judges it (its DossierOverdue): a deadline it watches, the
        appointment or the current step's earlier due date, has passed while the clock runs. A dossier
        paused for a supplement is not overdue: the days paused will move its dates."""
        return any(deadlines.is_overdue(d, day) for d in self.watched_deadlines())

    def earliest_watched_due(self) -> date | None:
        """The first of the deadlines the watch looks at: the dossier is overdue from the day after."""
        return min((d.due_date for d in self.watched_deadlines()), default=None)

    # -- reception at the desk -------------------------------------------------------------------
    def accept(self, at: datetime, actor: str) -> None:
        if self.status is DossierStatus.AWAITING_PAYMENT:
            raise FailedPrecondition("status", f"dossier {self.code} chose online payment and is not paid yet: "
                                               "accept it once the payment has settled, or refuse it")
        self._require("accept", DossierStatus.SUBMITTED)
        self.accepted_at = at
        self.due_date = self.deadline.due(at.astimezone(VIETNAM_TIME))
        self.legal_due_date = self.due_date
        self.status = DossierStatus.IN_PROGRESS
        self.step_index = next((i for i, s in enumerate(self.steps) if s.owner != "receiving"), 0)
        self.slips.append(Slip(SlipForm.RECEIPT, at, actor, due_date=self.due_date))
        self._record(at, actor, f"Tiếp nhận hồ sơ; hẹn trả kết quả {self.due_date.isoformat()}")

    def record_payment(self, at: datetime, actor: str) -> bool:
        """The online fee settled; True when that changed the dossier (a repeated notice does not)."""
        if self.fee_paid:
            return False
        self.fee_paid = True
        if self.status is DossierStatus.AWAITING_PAYMENT:
            self.status = DossierStatus.SUBMITTED
        self._record(at, actor, "Đã thanh toán phí trực tuyến; chờ tiếp nhận")
        return True

    def return_for_supplement(self, procedure: Procedure, missing: tuple[str, ...], guidance: str,
                              at: datetime, actor: str) -> None:
        """Mẫu 02 at the desk: once, listing everything missing (Decree 61/2018/NĐ-CP, art. 19)."""
        self._require("return for supplement", *AT_RECEPTION)
        if self.reception_returns:
            raise FailedPrecondition("status", f"dossier {self.code} was already returned for supplement once: "
                                               "the desk asks for everything at once; accept or refuse it")
        self._ask_supplement(procedure, missing, guidance, at, actor)
        self.reception_returns += 1

    def request_supplement(self, procedure: Procedure, reason: str, missing: tuple[str, ...],
                           at: datetime, actor: str) -> None:
        """Mẫu 02 while the dossier is worked: once; the clock pauses."""
        self._require("request a supplement to", DossierStatus.IN_PROGRESS)
        if self.processing_supplements:
            raise FailedPrecondition("status", f"dossier {self.code} had its supplement already: a second "
                                               "request is not allowed; decide on what was handed in")
        self._ask_supplement(procedure, missing, reason, at, actor)
        self.processing_supplements += 1

    def _ask_supplement(self, procedure: Procedure, missing: tuple[str, ...], guidance: str, at: datetime,
                        actor: str) -> None:
        if not guidance.strip():
            raise InvalidArgument("reason", "is required: say what must be completed and how")
        unknown = [c for c in missing if procedure.document(c) is None]
        if unknown:
            raise InvalidArgument("missing_document_codes",
                                  f"{', '.join(unknown)} not among the documents of procedure {procedure.code}")
        self.status = DossierStatus.SUPPLEMENT_REQUESTED
        self.supplement_requested_at = at
        self.missing_document_codes = tuple(dict.fromkeys(missing))
        items = tuple(f"{c}: {procedure.document(c).name}"  # type: ignore[union-attr]
                      for c in self.missing_document_codes)
        self.slips.append(Slip(SlipForm.SUPPLEMENT, at, actor, items=(*items, guidance)))
        self._record(at, actor, f"Yêu cầu bổ sung hồ sơ: {guidance}")

    def provide_supplement(self, procedure: Procedure, documents: tuple[SubmittedDocument, ...],
                           at: datetime, actor: str) -> int:
        """Back to the desk (before acceptance) or resume the clock, moving the due date by the
        working days the dossier waited. Returns them."""
        self._require("supplement", DossierStatus.SUPPLEMENT_REQUESTED)
        if not documents:
            raise InvalidArgument("documents", "a supplement needs at least one document")
        check_documents(procedure, documents, self.missing_document_codes)
        paused = 0
        if self.accepted_at is None:
            self.status = (DossierStatus.AWAITING_PAYMENT
                           if self.payment_method is PaymentMethod.ONLINE and not self.fee_paid
                           else DossierStatus.SUBMITTED)
            note = "Đã bổ sung hồ sơ; chờ tiếp nhận"
        else:
            if self.supplement_requested_at is None or self.due_date is None:
                raise FailedPrecondition("status", f"dossier {self.code} has no running clock to resume")
            paused = working_days_between(local_date(self.supplement_requested_at), local_date(at))
            self.paused_working_days += paused
            self.legal_due_date = add_working_days(self.judged_due_date or self.due_date, paused)
            self.due_date = add_working_days(self.due_date, paused)
            self.status = DossierStatus.IN_PROGRESS
            note = f"Đã bổ sung hồ sơ; tạm dừng {paused} ngày làm việc; hạn trả kết quả {self.due_date.isoformat()}"
        self.documents = self.documents + documents
        self.supplement_requested_at = None
        self.missing_document_codes = ()
        self._record(at, actor, note)
        return paused

    # -- processing ------------------------------------------------------------------------------
    def assign(self, assignee: str, at: datetime, actor: str) -> None:
        if not assignee.strip():
            raise InvalidArgument("assignee", "is required")
        self._require("assign", DossierStatus.IN_PROGRESS, DossierStatus.SUPPLEMENT_REQUESTED)
        if not self.is_accepted:
            raise FailedPrecondition("status", f"dossier {self.code} is not accepted yet")
        if assignee == self.assignee:
            raise FailedPrecondition("assignee", f"dossier {self.code} is assigned to {assignee} already")
        self.assignments.append(Assignment(at, actor, assignee, self.assignee))
        verb = "Chuyển xử lý" if self.assignee else "Phân công xử lý"
        self.assignee = assignee
        self._record(at, actor, f"{verb} cho {assignee}")

    def transfer(self, to_agency_code: str, to_tier: str, reason: str, at: datetime, actor: str) -> None:
        """Liên thông: the code stays; the target has been checked to handle the procedure."""
        if not reason.strip():
            raise InvalidArgument("reason", "is required")
        self._require("transfer", DossierStatus.IN_PROGRESS)
        if to_agency_code == self.handling_agency_code:
            raise FailedPrecondition("to_agency_code", f"dossier {self.code} is with {to_agency_code} already")
        self.transfers.append(Transfer(at, actor, self.handling_agency_code, to_agency_code, reason))
        self.handling_agency_code = to_agency_code
        self.agencies = tuple(dict.fromkeys((*self.agencies, to_agency_code)))
        self.assignee = ""
        later = [i for i, s in enumerate(self.steps) if i >= self.step_index and s.owner == to_tier]
        if later:
            self.step_index = later[0]
        self._record(at, actor, f"Chuyển liên thông đến {to_agency_code}: {reason}")

    def record_step(self, step: str, note: str, done: bool, at: datetime, actor: str) -> None:
        if not step.strip():
            raise InvalidArgument("step", "is required")
        self._require("record a step on", DossierStatus.IN_PROGRESS)
        if done and self.step_index < len(self.steps) - 1:
            self.step_index += 1
        self._record(at, actor, f"{step}: {note}" if note else step)

    def approve(self, note: str, at: datetime, actor: str) -> None:
        self._require("approve", DossierStatus.IN_PROGRESS)
        self.status = DossierStatus.APPROVED
        signing = [i for i, s in enumerate(self.steps) if i >= self.step_index and s.role is Role.LEADER]
        if signing and signing[0] + 1 < len(self.steps):
            self.step_index = signing[0] + 1
        self._record(at, actor, note or "Phê duyệt hồ sơ")

    def reject(self, reason: str, at: datetime, actor: str) -> None:
        """Before acceptance this is the desk's refusal (Mẫu 03); after, the leader's decision."""
        if not reason.strip():
            raise InvalidArgument("reason", "is required")
        self._require("reject", *BEFORE_RESULT)
        self.status = DossierStatus.REJECTED
        self.rejection_reason = reason
        if self.accepted_at is None:
            reasons = tuple(r.strip() for r in reason.split("\n") if r.strip())
            self.slips.append(Slip(SlipForm.REFUSAL, at, actor, items=reasons))
            self._record(at, actor, f"Từ chối tiếp nhận hồ sơ: {reason}")
        else:
            self._record(at, actor, f"Từ chối hồ sơ: {reason}")

    # -- result ----------------------------------------------------------------------------------
    def issue_result(self, result_document_number: str, at: datetime, actor: str) -> None:
        """Timeliness is settled here: days the result spends in the post never make a dossier late."""
        if not result_document_number.strip():
            raise InvalidArgument("result_document_number", "is required")
        self._require("issue the result of", DossierStatus.APPROVED)
        if self.due_date is None:
            raise FailedPrecondition("status", f"dossier {self.code} was never accepted")
        self.result_issued_at = at
        self.result_document_number = result_document_number
        self.timeliness = Timeliness(deadlines.settled(local_date(at), self.judged_due_date or self.due_date).value)
        self.step_index = len(self.steps)
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

    def return_to_desk(self, reason: str, at: datetime, actor: str) -> bool:
        """The post could not deliver: the result waits at the receiving desk. False (nothing changes)
        when it is there already."""
        if self.status is DossierStatus.AWAITING_PICKUP:
            return False
        self._require("return the result to the desk for", DossierStatus.RESULT_ISSUED)
        self.status = DossierStatus.AWAITING_PICKUP
        self.returned_to_desk_at = at
        self._record(at, actor, f"Bưu chính không giao được kết quả ({reason or 'không rõ lý do'}); "
                                "kết quả chờ nhận tại Bộ phận tiếp nhận và trả kết quả")
        return True

    def collect(self, at: datetime, actor: str) -> None:
        self._require("hand over the result of", DossierStatus.AWAITING_PICKUP)
        self.status = DossierStatus.COMPLETED
        self.completed_at = at
        self._record(at, actor, "Người nhận đã nhận kết quả tại Bộ phận tiếp nhận và trả kết quả")

    # -- deadlines -------------------------------------------------------------------------------
    @property
    def judged_due_date(self) -> date | None:
        """The legal due date (older records without one: the appointment)."""
        return self.legal_due_date or self.due_date

    def watched_deadlines(self) -> list[deadlines.WatchedDeadline]:
        """What the watch looks at while the clock runs: the appointment, and the current step's due
        date when it falls before it."""
        if self.status not in CLOCK_RUNNING or self.due_date is None:
            return []
        found = [deadlines.WatchedDeadline(deadlines.Watched.DOSSIER, self.due_date)]
        step, step_due = self.current_step, self.step_due()
        if step is not None and step_due is not None and step_due < self.due_date:
            found.append(deadlines.WatchedDeadline(deadlines.Watched.STEP, step_due, step.name))
        return found

    def progress_on(self, day: date) -> deadlines.Progress | None:
        """Decision 766 for a dossier being worked; None before acceptance and once settled."""
        due = self.judged_due_date
        if due is None or self.status not in (*CLOCK_RUNNING, DossierStatus.SUPPLEMENT_REQUESTED):
            return None
        paused = (local_date(self.supplement_requested_at)
                  if self.status is DossierStatus.SUPPLEMENT_REQUESTED and self.supplement_requested_at else None)
        return deadlines.in_progress(day, due, paused)

    def apologise(self, reason: str, new_due_date: date, at: datetime, actor: str) -> Apology:
        """Mẫu 04 by the handling agency's leader: at the latest one day before the due date, with the
        reason and a later working day as the new appointment, no more than once."""
        if not reason.strip():
            raise InvalidArgument("reason", "is required: the apology says why the dossier is late")
        self._require("apologise for", *CLOCK_RUNNING, DossierStatus.SUPPLEMENT_REQUESTED)
        if self.due_date is None:
            raise FailedPrecondition("status", f"dossier {self.code} was never accepted")
        if len(self.apologies) >= deadlines.REAPPOINTMENT_LIMIT:
            raise FailedPrecondition("reappointment", f"dossier {self.code} was re-appointed already "
                                                      f"({deadlines.REAPPOINTMENT_RULE})")
        today = local_date(at)
        if today >= self.due_date:
            raise FailedPrecondition("due_date", f"dossier {self.code} is due {self.due_date.isoformat()} and it "
                                                 f"is {today.isoformat()}: too late for an apology "
                                                 f"({deadlines.APOLOGY_TIMING_RULE})")
        if new_due_date <= self.due_date:
            raise InvalidArgument("new_due_date", f"must be after the current appointment {self.due_date.isoformat()}")
        if not is_working_day(new_due_date):
            raise InvalidArgument("new_due_date", f"{new_due_date.isoformat()} is not a working day")
        apology = Apology(at, actor, self.handling_agency_code, reason.strip(), self.due_date, new_due_date,
                          f"{len(self.apologies) + 1:02d}/PXL-{self.code}")
        self.apologies.append(apology)
        self.due_date = new_due_date
        self.slips.append(Slip(SlipForm.APOLOGY, at, actor, items=(apology.reason,), due_date=new_due_date))
        self._record(at, actor, f"Xin lỗi và hẹn lại ngày trả kết quả {new_due_date.isoformat()}: {apology.reason}")
        return apology

    def extend(self, working_days: int, reason: str, allowed_working_days: int, at: datetime,
               actor: str) -> Extension:
        """The extra time the procedure allows (catalogue `extension`), taken before the due date."""
        if not reason.strip():
            raise InvalidArgument("reason", "is required")
        if allowed_working_days <= 0:
            raise FailedPrecondition("procedure_code", f"procedure {self.procedure_code} allows no extension "
                                                       "(its catalogue entry has no `extension`)")
        left = allowed_working_days - sum(e.working_days for e in self.extensions)
        if working_days < 1 or working_days > left:
            raise InvalidArgument("working_days", f"must be 1 to {left}: procedure {self.procedure_code} allows "
                                                  f"{allowed_working_days} working days of extension in all")
        self._require("extend", *CLOCK_RUNNING)
        if self.due_date is None:
            raise FailedPrecondition("status", f"dossier {self.code} was never accepted")
        if local_date(at) > self.due_date:
            raise FailedPrecondition("due_date", f"dossier {self.code} was due {self.due_date.isoformat()}: "
                                                 "an extension is taken before the due date")
        previous = self.due_date
        self.legal_due_date = add_working_days(self.judged_due_date or previous, working_days)
        self.due_date = add_working_days(previous, working_days)
        extension = Extension(at, actor, working_days, reason.strip(), previous, self.due_date)
        self.extensions.append(extension)
        self._record(at, actor, f"Gia hạn {working_days} ngày làm việc; hạn trả kết quả "
                                f"{self.due_date.isoformat()}: {extension.reason}")
        return extension

    # -- helpers ---------------------------------------------------------------------------------
    def _require(self, action: str, *statuses: DossierStatus) -> None:
        if self.status not in statuses:
            raise FailedPrecondition("status", f"cannot {action} dossier {self.code}: it is {self.status.value}")

    def _record(self, at: datetime, actor: str, note: str) -> None:
        self.history.append(HistoryEntry(at=at, status=self.status, actor=actor, note=note))


def default_process(procedure: Procedure) -> tuple[ProcessStep, ...]:
    """For an entry published without its internal process: receive, examine, sign, return."""
    days = float(procedure.deadline.days) if procedure.deadline.kind is DeadlineKind.WORKING_DAYS else 0.0
    examine = max(days - 2.0, days / 2)
    return (ProcessStep("Tiếp nhận hồ sơ", "receiving", Role.RECEIVER, 0.5),
            ProcessStep("Thẩm định hồ sơ", "competent", Role.SPECIALIST, examine),
            ProcessStep("Ký duyệt", "competent", Role.LEADER, max(days - examine - 1.0, 0.0)),
            ProcessStep("Trả kết quả", "receiving", Role.RESULT_DESK, 0.5 if days else 0.0))


def check_transfer_target(entry_at_target: CatalogueEntry | None, dossier: Dossier, to_agency_code: str,
                          units: UnitTree) -> str:
    """The tier of the target when it can handle the dossier's procedure: it is the agency competent
    for the procedure at its own unit, and that unit is the dossier's unit or above it."""
    unit = units.unit_of_agency(to_agency_code)
    if unit is None:
        raise InvalidArgument("to_agency_code", f"no agency {to_agency_code} in unit tree {units.version}")
    if entry_at_target is None or entry_at_target.competent_agency_code != to_agency_code:
        raise FailedPrecondition("to_agency_code", f"{to_agency_code} does not handle procedure "
                                                   f"{dossier.procedure_code} (no catalogue entry at {unit.code})")
    if unit.code not in dossier.units:
        raise FailedPrecondition("to_agency_code", f"{to_agency_code} is not above unit {dossier.unit_code}, "
                                                   "where the dossier is implemented")
    return unit.tier

