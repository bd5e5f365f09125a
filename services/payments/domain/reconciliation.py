"""Reconciliation: our bills against the intermediary's books, and what to do where they differ.

Which bills are checked: every open bill whose transaction was started more than a grace period ago
and never settled (its payment notice may have been lost: the intermediary gives up after its
retries), and every closed bill whose open transaction was not confirmed void. The intermediary is
asked for the transaction under the bill's merchant reference; `assess` says what that answer
means. Money found paid goes through the same judgement as a payment notice (bill.judge): settled,
or refunded. What cannot be put right automatically is reported for a person to look at.

A refunded bill needs no check: its refund id is the intermediary's answer to the refund call, made
before the bill was marked. So money is unaccounted only while a bill is open with a payment the
intermediary holds (paid without notice), or closed with a transaction still payable or paid
(closed not voided, paid and closed); "settled twice" is found in our own ledger.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.payments.domain.bill import Bill, BillStatus
from services.payments.domain.notice import PaymentNotice

PAID_STATUSES = ("SUCCESS", "REFUNDED")


@dataclass(frozen=True)
class IntermediaryTransaction:
    """A transaction as the intermediary's query answers it: PENDING, SUCCESS, VOIDED or REFUNDED."""

    transaction_id: str
    merchant_ref: str
    status: str
    amount_vnd: int
    paid_at: str
    refunded_vnd: int

    @property
    def paid(self) -> bool:
        return self.status in PAID_STATUSES

    def as_payment(self) -> PaymentNotice:
        return PaymentNotice(self.transaction_id, self.merchant_ref, self.amount_vnd, self.paid_at)


class Step(StrEnum):
    """What reconciliation does about one bill."""

    NOTHING = "nothing"               # consistent, or not paid yet
    RECORD_PAYMENT = "record_payment"  # paid there, no record here: settle or refund (bill.judge)
    VOID = "void"                     # closed here, still payable there
    MARK_VOIDED = "mark_voided"       # closed here, void (or never opened) there
    REPORT = "report"                 # a difference no automatic step may resolve


class Finding(StrEnum):
    """A difference reconciliation found (the names operators see)."""

    PAID_WITHOUT_NOTICE = "paid_without_notice"
    PAID_AND_CLOSED = "paid_and_closed"
    CLOSED_NOT_VOIDED = "closed_not_voided"
    SETTLED_TWICE = "settled_twice"
    UNKNOWN_AT_INTERMEDIARY = "unknown_at_intermediary"
    VOIDED_BUT_OPEN = "voided_but_open"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Assessment:
    step: Step
    finding: Finding | None = None
    detail: str = ""


def due_for_check(bill: Bill, now: datetime, grace: timedelta) -> bool:
    """An open bill past its grace period with a started transaction, or a closed one not voided."""
    if bill.needs_void:
        return True
    started = bill.transaction_started_at or bill.issued_at
    return bill.status is BillStatus.ISSUED and bool(bill.intermediary_transaction_id) and started <= now - grace


def assess(bill: Bill, there: IntermediaryTransaction | None) -> Assessment:
    closed = bill.status is BillStatus.CANCELLED
    if there is None:
        if closed:
            return Assessment(Step.MARK_VOIDED)
        return Assessment(Step.REPORT, Finding.UNKNOWN_AT_INTERMEDIARY,
                          f"the intermediary has no transaction {bill.merchant_ref}")
    if there.paid:
        finding = Finding.PAID_AND_CLOSED if closed else Finding.PAID_WITHOUT_NOTICE
        return Assessment(Step.RECORD_PAYMENT, finding,
                          f"{there.transaction_id} {there.status}, {there.amount_vnd} VND at {there.paid_at}")
    if there.status == "PENDING":
        return Assessment(Step.VOID, Finding.CLOSED_NOT_VOIDED, there.transaction_id) if closed \
            else Assessment(Step.NOTHING)
    if there.status == "VOIDED":
        if closed:
            return Assessment(Step.MARK_VOIDED)
        return Assessment(Step.REPORT, Finding.VOIDED_BUT_OPEN,
                          f"{there.transaction_id} is void at the intermediary but the bill is open")
    return Assessment(Step.REPORT, Finding.UNKNOWN_AT_INTERMEDIARY, f"status {there.status!r}")

