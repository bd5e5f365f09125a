"""Reconciliation, the operator function: the service's timer and `egov-payments reconcile` run it.

For every bill due for a check (domain/reconciliation.py) the intermediary is queried under the
bill's merchant reference and each difference is put right where a rule allows it: a payment whose
notice never came is settled (or refunded if the bill closed), a closed bill's transaction still
payable is voided. Every difference found is reported, with what was done; "settled twice" is read
from the payment ledger. Safe to run anywhere, any number of times at once: every step is keyed.
"""

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from services.common.errors import DomainError
from services.payments.adapters.bill_repository import BillRepository
from services.payments.adapters.payment_ledger import PaymentLedger
from services.payments.domain.bill import Bill
from services.payments.domain.reconciliation import (
    Finding,
    IntermediaryTransaction,
    Step,
    assess,
    due_for_check,
)
from services.payments.settlement import Recorded, Refunds, UnitOfWork, mark_voided, record_payment

log = logging.getLogger(__name__)


class Intermediary(Refunds, Protocol):
    def query(self, merchant_ref: str) -> IntermediaryTransaction | None: ...

    def void(self, merchant_ref: str) -> IntermediaryTransaction | None: ...


@dataclass(frozen=True)
class Row:
    bill_id: str
    dossier_code: str
    finding: str
    action: str       # settled, refunded, voided, none
    resolved: bool
    detail: str = ""


@dataclass
class Report:
    bills_checked: int = 0
    findings: list[Row] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"bills_checked": self.bills_checked, "findings": [asdict(row) for row in self.findings]}


def reconcile(store: UnitOfWork, paygate: Intermediary, grace: timedelta, now: datetime | None = None) -> Report:
    now = now or datetime.now(UTC)
    due = store.repository(BillRepository).due_for_check(now - grace)
    candidates = [b for b in due if due_for_check(b, now, grace)]
    report = Report(bills_checked=len(candidates))
    for bill in candidates:
        try:
            row = _reconcile_bill(store, paygate, bill)
        except DomainError as exc:   # the intermediary away, or refusing: tried again next time
            row = Row(bill.bill_id, bill.dossier_code, Finding.UNREACHABLE.value, "none", False, str(exc))
        if row is not None:
            report.findings.append(row)
    for bill_id, transactions in store.repository(PaymentLedger).settled_more_than_once():
        settled = store.repository(BillRepository).get(bill_id)
        report.findings.append(Row(bill_id, settled.dossier_code if settled else "", Finding.SETTLED_TWICE.value,
                                   "none", False, "settled by " + ", ".join(sorted(transactions))))
    for row in report.findings:
        log.warning("reconciliation: %s %s -> %s%s (%s)", row.bill_id, row.finding, row.action,
                    "" if row.resolved else ", unresolved", row.detail)
    return report


def _reconcile_bill(store: UnitOfWork, paygate: Intermediary, bill: Bill) -> Row | None:
    there = paygate.query(bill.merchant_ref)
    assessment = assess(bill, there)

    def row(action: str, resolved: bool = True) -> Row:
        finding = assessment.finding.value if assessment.finding else ""
        return Row(bill.bill_id, bill.dossier_code, finding, action, resolved, assessment.detail)

    if assessment.step is Step.NOTHING:
        return None
    if assessment.step is Step.REPORT:
        return row("none", resolved=False)
    if assessment.step is Step.RECORD_PAYMENT and there is not None:
        recorded = record_payment(store, paygate, there.as_payment(), source="reconciliation")
        return None if recorded.outcome == "duplicate" else row(recorded.outcome)
    if assessment.step is Step.VOID:
        voided = paygate.void(bill.merchant_ref)
        if voided is not None and voided.paid:         # paid between the query and the void
            return row(record_payment(store, paygate, voided.as_payment(), source="reconciliation").outcome)
        mark_voided(store, bill.bill_id)
        return row("voided")
    mark_voided(store, bill.bill_id)                  # Step.MARK_VOIDED: bookkeeping only
    return None


__all__ = ["Recorded", "Report", "Row", "reconcile"]
