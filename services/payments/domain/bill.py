"""A dossier's fee bill and its life: ISSUED -> PAID -> REFUNDED, or ISSUED -> CANCELLED (-> REFUNDED
if money arrives for it after all, and goes back).

One bill per dossier, its id derived from the dossier code, so an event delivered twice (even
under two event ids) can never bill the citizen twice. A dossier closed before its bill was issued
gets a tombstone: a cancelled bill of nothing, so the submission handled late issues no bill.

Money the intermediary reports (a payment notice, or its answer to a query) is judged here: it
settles an open bill it matches; it is refunded when the bill is closed, when it pays another amount
(the bill then opens a new transaction, under the next merchant reference), or when it pays a
transaction the bill has moved past. Nothing paid is ever kept without a settled or refunded record.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.common.caller import Caller, CallerKind
from services.common.citizen_id import check_citizen_id
from services.common.dossier_scope import check_can_read_desk_record
from services.common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.payments.domain.notice import PaymentNotice

DOSSIER_CODE_MAX_LEN = 64


class BillStatus(StrEnum):
    ISSUED = "BILL_STATUS_ISSUED"
    PAID = "BILL_STATUS_PAID"
    REFUNDED = "BILL_STATUS_REFUNDED"
    CANCELLED = "BILL_STATUS_CANCELLED"


class Verdict(StrEnum):
    SETTLE = "settle"
    REFUND = "refund"
    DUPLICATE = "duplicate"


class RefundReason(StrEnum):
    """Why money went back (the values are egov.payments.v1.RefundReason's)."""

    DOSSIER_REJECTED = "REFUND_REASON_DOSSIER_REJECTED"
    BILL_CLOSED = "REFUND_REASON_BILL_CLOSED"
    AMOUNT_MISMATCH = "REFUND_REASON_AMOUNT_MISMATCH"
    SUPERSEDED = "REFUND_REASON_SUPERSEDED"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: RefundReason | None = None


class Closing(StrEnum):
    """What a dossier's rejection did to its bill."""

    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    UNCHANGED = "unchanged"


def check_dossier_code(code: str) -> str:
    if not code:
        raise InvalidArgument("dossier_code", "is required")
    if len(code) > DOSSIER_CODE_MAX_LEN:
        raise InvalidArgument("dossier_code", f"must be at most {DOSSIER_CODE_MAX_LEN} characters")
    return code


def bill_id_for(dossier_code: str) -> str:
    return "BILL-" + check_dossier_code(dossier_code)


def bill_id_of(merchant_ref: str) -> tuple[str, int]:
    """The bill and the payment attempt a merchant reference names: `<bill id>` is attempt 1,
    `<bill id>/<n>` attempt n."""
    bill_id, slash, attempt = merchant_ref.rpartition("/")
    if slash and attempt.isdigit() and int(attempt) > 1:
        return bill_id, int(attempt)
    return merchant_ref, 1


@dataclass
class Bill:
    bill_id: str
    dossier_code: str
    citizen_id: str
    amount_vnd: int
    status: BillStatus
    issued_at: datetime
    intermediary: str = ""
    intermediary_transaction_id: str = ""
    paid_at: str = ""             # as the intermediary reported it
    refund_id: str = ""
    refunded_at: datetime | None = None
    cancelled_at: datetime | None = None
    attempt: int = 1                          # a new transaction (and merchant reference) per attempt
    transaction_started_at: datetime | None = None
    voided_at: datetime | None = None         # the intermediary confirmed the open transaction is void
    tombstone: bool = False                   # closed before it was ever issued

    @classmethod
    def issue(cls, dossier_code: str, citizen_id: str, amount_vnd: int, at: datetime) -> "Bill":
        check_citizen_id(citizen_id, "applicant_citizen_id")
        if amount_vnd <= 0:
            raise InvalidArgument("amount_vnd", "a bill is issued only for a positive fee")
        return cls(bill_id_for(dossier_code), dossier_code, citizen_id, amount_vnd, BillStatus.ISSUED, at)

    @classmethod
    def closed_before_issue(cls, dossier_code: str, citizen_id: str, at: datetime) -> "Bill":
        """The tombstone of a dossier rejected before its bill was issued: no bill is issued after it."""
        return cls(bill_id_for(dossier_code), dossier_code, citizen_id, 0, BillStatus.CANCELLED, at,
                   cancelled_at=at, tombstone=True)

    @property
    def merchant_ref(self) -> str:
        """Our reference for the current attempt's transaction at the intermediary."""
        return self.bill_id if self.attempt == 1 else f"{self.bill_id}/{self.attempt}"

    @property
    def needs_void(self) -> bool:
        """Closed while a transaction was open at the intermediary, and no void confirmed yet."""
        return (self.status is BillStatus.CANCELLED and bool(self.intermediary_transaction_id)
                and self.voided_at is None)

    def check_readable_by(self, caller: Caller) -> None:
        """The citizen billed; the receiving unit's receiver or result desk; its member's system."""
        check_can_read_desk_record(caller, record="the bill", dossier_code=self.dossier_code,
                                   citizen_id=self.citizen_id)

    def check_payable_by(self, caller: Caller) -> None:
        caller.require(CallerKind.CITIZEN)
        self._check_owner(caller)
        if self.status is not BillStatus.ISSUED:
            raise FailedPrecondition("dossier_code", f"the bill is {self.status.value}, not open for payment")

    def attach_transaction(self, intermediary: str, transaction_id: str, at: datetime | None = None) -> bool:
        """Record where the citizen pays; False if it was already recorded."""
        if not transaction_id:
            raise InvalidArgument("transaction_id", "is required")
        if self.status is not BillStatus.ISSUED:
            raise FailedPrecondition("dossier_code", f"the bill is {self.status.value}, not open for payment")
        if self.intermediary_transaction_id == transaction_id and self.intermediary == intermediary:
            return False
        if self.intermediary_transaction_id:
            raise FailedPrecondition("transaction_id", "the bill already has another transaction open")
        self.intermediary = intermediary
        self.intermediary_transaction_id = transaction_id
        self.transaction_started_at = at
        return True

    def judge(self, payment: PaymentNotice) -> Judgement:
        """What a payment the intermediary reports (and so has taken) does to this bill. Raises only
        for a payment that is not this bill's: another bill's, or a transaction never opened for it."""
        bill_id, attempt = bill_id_of(payment.merchant_ref)
        if bill_id != self.bill_id:
            raise InvalidArgument("merchant_ref", f"the notice pays {payment.merchant_ref}")
        if attempt > self.attempt or self.tombstone:
            raise FailedPrecondition("merchant_ref", f"no transaction was opened as {payment.merchant_ref}")
        if attempt < self.attempt:
            return Judgement(Verdict.REFUND, RefundReason.SUPERSEDED)
        if not self.intermediary_transaction_id or payment.transaction_id != self.intermediary_transaction_id:
            raise FailedPrecondition("transaction_id", "does not match the transaction opened for this bill")
        if self.status is BillStatus.CANCELLED:
            return Judgement(Verdict.REFUND, RefundReason.BILL_CLOSED)
        if self.status in (BillStatus.PAID, BillStatus.REFUNDED):
            return Judgement(Verdict.DUPLICATE)
        if payment.amount_vnd != self.amount_vnd:
            return Judgement(Verdict.REFUND, RefundReason.AMOUNT_MISMATCH)
        return Judgement(Verdict.SETTLE)

    def settle(self, payment: PaymentNotice) -> None:
        if self.judge(payment).verdict is not Verdict.SETTLE:
            raise FailedPrecondition("merchant_ref", f"the bill is {self.status.value}, not open for this payment")
        self.status = BillStatus.PAID
        self.paid_at = payment.paid_at

    def refunded(self, payment: PaymentNotice, reason: RefundReason, refund_id: str, at: datetime) -> None:
        """Record that a payment judged REFUND was refunded at the intermediary under refund_id."""
        if not refund_id:
            raise FailedPrecondition("refund_id", "the refund must be made first")
        if reason is RefundReason.BILL_CLOSED:
            self.status = BillStatus.REFUNDED
            self.refund_id = refund_id
            self.refunded_at = at
            self.voided_at = self.voided_at or at   # paid, so there is nothing left to void
        elif reason is RefundReason.AMOUNT_MISMATCH:
            # That transaction is spent: the next StartPayment opens another, under the next reference.
            self.attempt += 1
            self.intermediary_transaction_id = ""
            self.transaction_started_at = None

    def mark_voided(self, at: datetime) -> bool:
        if not self.needs_void:
            return False
        self.voided_at = at
        return True

    def close_for_rejected_dossier(self, refund_id: str | None, at: datetime) -> Closing:
        """A rejected dossier's fee goes back: refunded if paid (the intermediary already did it,
        under refund_id), cancelled if still unpaid."""
        if self.status is BillStatus.PAID:
            if not refund_id:
                raise FailedPrecondition("refund_id", "the bill is paid; the refund must be made first")
            self.status = BillStatus.REFUNDED
            self.refund_id = refund_id
            self.refunded_at = at
            return Closing.REFUNDED
        if self.status is BillStatus.ISSUED:
            self.status = BillStatus.CANCELLED
            self.cancelled_at = at
            return Closing.CANCELLED
        return Closing.UNCHANGED

    def _check_owner(self, caller: Caller) -> None:
        if caller.subject != self.citizen_id:
            raise PermissionDenied("dossier_code", "the bill belongs to another citizen")
