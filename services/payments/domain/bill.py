"""A dossier's fee bill and its life: ISSUED -> PAID -> REFUNDED, or ISSUED -> CANCELLED.

One bill per dossier, its id derived from the dossier code, so an event delivered twice (even
under two event ids) can never bill the citizen twice.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.common.caller import Caller, CallerKind
from services.common.citizen_id import check_citizen_id
from services.common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.payments.domain.notice import PaymentNotice

DOSSIER_CODE_MAX_LEN = 64


class BillStatus(StrEnum):
    ISSUED = "BILL_STATUS_ISSUED"
    PAID = "BILL_STATUS_PAID"
    REFUNDED = "BILL_STATUS_REFUNDED"
    CANCELLED = "BILL_STATUS_CANCELLED"


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

    @classmethod
    def issue(cls, dossier_code: str, citizen_id: str, amount_vnd: int, at: datetime) -> "Bill":
        check_citizen_id(citizen_id, "applicant_citizen_id")
        if amount_vnd <= 0:
            raise InvalidArgument("amount_vnd", "a bill is issued only for a positive fee")
        return cls(bill_id_for(dossier_code), dossier_code, citizen_id, amount_vnd, BillStatus.ISSUED, at)

    def check_readable_by(self, caller: Caller) -> None:
        if caller.kind is CallerKind.CITIZEN:
            self._check_owner(caller)
        elif caller.kind not in (CallerKind.CIVIL_SERVANT, CallerKind.AGENCY, CallerKind.OPERATOR):
            raise PermissionDenied("caller", f"{caller.kind.value} may not read bills")

    def check_payable_by(self, caller: Caller) -> None:
        caller.require(CallerKind.CITIZEN)
        self._check_owner(caller)
        if self.status is not BillStatus.ISSUED:
            raise FailedPrecondition("dossier_code", f"the bill is {self.status.value}, not open for payment")

    def attach_transaction(self, intermediary: str, transaction_id: str) -> bool:
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
        return True

    def settle(self, notice: PaymentNotice) -> bool:
        """Apply the intermediary's payment notice; False for a notice already applied."""
        if notice.merchant_ref != self.bill_id:
            raise InvalidArgument("merchant_ref", f"the notice pays {notice.merchant_ref}")
        if not self.intermediary_transaction_id or notice.transaction_id != self.intermediary_transaction_id:
            raise FailedPrecondition("transaction_id", "does not match the transaction opened for this bill")
        if notice.amount_vnd != self.amount_vnd:
            raise FailedPrecondition("amount_vnd",
                                     f"paid {notice.amount_vnd} VND; the bill is {self.amount_vnd} VND")
        if self.status in (BillStatus.PAID, BillStatus.REFUNDED):
            return False
        if self.status is not BillStatus.ISSUED:
            raise FailedPrecondition("merchant_ref", f"the bill is {self.status.value}")
        self.status = BillStatus.PAID
        self.paid_at = notice.paid_at
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
