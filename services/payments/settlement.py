"""Money the intermediary reports: a payment notice, the answer to a void that came too late, or a
reconciliation query. Each payment is judged against its bill (domain/bill.py) and recorded once,
by its transaction id, as settled or refunded; a refund is made at the intermediary first, outside
the database transaction, under a key derived from the payment, so a retry refunds nothing twice.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from egov.payments.v1 import events_pb2
from services.common.errors import NotFound, Unavailable
from services.common.mongo_store import Cause, Transaction
from services.payments.adapters.bill_repository import BillRepository
from services.payments.adapters.notice_log import NoticeLog
from services.payments.adapters.payment_ledger import REFUNDED, SETTLED, PaymentLedger
from services.payments.domain.bill import Bill, Judgement, RefundReason, Verdict, bill_id_of
from services.payments.domain.notice import PaymentNotice, SignedCallback, is_first_use

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
ATTEMPTS = 5


class UnitOfWork(Protocol):
    """What the service layer needs of the store: reads through `repository`, writes through `transaction`."""

    def repository(self, kind: Callable[[Database[Any]], R]) -> R: ...

    def transaction(self, fn: Callable[[Transaction], T], cause: Cause | None = None) -> T: ...


class Refunds(Protocol):
    def refund(self, merchant_ref: str, amount_vnd: int, idempotency_key: str) -> str: ...


@dataclass(frozen=True)
class Recorded:
    """What became of a payment: settled, refunded (and why) or duplicate (recorded before)."""

    outcome: str
    reason: RefundReason | None = None
    refund_id: str = ""


DUPLICATE = Recorded("duplicate")


class _Changed(Exception):
    """The bill changed between the judgement and the transaction: judge again."""


def refund_key(payment: PaymentNotice) -> str:
    return f"refund:{payment.transaction_id}"


def record_payment(store: UnitOfWork, paygate: Refunds, payment: PaymentNotice, *, source: str,
                   callback: SignedCallback | None = None) -> Recorded:
    """Settle or refund one payment the intermediary took, exactly once."""
    for _ in range(ATTEMPTS):
        judgement = _judge(store, payment)
        refund_id = ""
        if judgement.verdict is Verdict.REFUND:
            refund_id = paygate.refund(payment.merchant_ref, payment.amount_vnd, idempotency_key=refund_key(payment))
        try:
            return store.transaction(partial(_apply, payment=payment, judged=judgement, refund_id=refund_id,
                                             source=source, callback=callback))
        except (_Changed, DuplicateKeyError):
            continue   # a concurrent notice, query or rejection got there first: decide again
    raise Unavailable("merchant_ref", f"bill for {payment.merchant_ref} kept changing; try again")


def _judge(store: UnitOfWork, payment: PaymentNotice) -> Judgement:
    if store.repository(PaymentLedger).get(payment.transaction_id) is not None:
        return Judgement(Verdict.DUPLICATE)
    return _bill(store.repository(BillRepository), payment).judge(payment)


def _bill(bills: BillRepository, payment: PaymentNotice) -> Bill:
    bill = bills.get(bill_id_of(payment.merchant_ref)[0])
    if bill is None:
        raise NotFound("merchant_ref", f"no bill {payment.merchant_ref}")
    return bill


def _apply(tx: Transaction, *, payment: PaymentNotice, judged: Judgement, refund_id: str, source: str,
           callback: SignedCallback | None) -> Recorded:
    at = datetime.now(UTC)
    notices = tx.repository(NoticeLog)
    if callback is not None and not is_first_use(callback, notices.digest_for(callback.nonce)):
        return DUPLICATE
    ledger = tx.repository(PaymentLedger)
    if ledger.get(payment.transaction_id) is not None:
        return DUPLICATE
    bills = tx.repository(BillRepository)
    bill = _bill(bills, payment)
    now_judged = bill.judge(payment)
    if now_judged != judged:
        raise _Changed(payment.transaction_id)
    if judged.verdict is Verdict.DUPLICATE:
        return DUPLICATE
    tx.resume_trace(bill.dossier_code)
    if callback is not None:
        notices.record(callback.nonce, callback.digest, bill.bill_id, payment.transaction_id, at)
    if judged.verdict is Verdict.SETTLE:
        bill.settle(payment)
        bills.save(bill)
        ledger.record(payment, bill.bill_id, SETTLED, source=source, at=at)
        tx.emit(events_pb2.PaymentSettled(
            bill_id=bill.bill_id, dossier_code=bill.dossier_code, citizen_id=bill.citizen_id,
            amount_vnd=bill.amount_vnd, intermediary=bill.intermediary,
            intermediary_transaction_id=bill.intermediary_transaction_id, paid_at=bill.paid_at,
        ), subject=bill.dossier_code, correlation_id=bill.dossier_code)
        return Recorded(SETTLED)
    reason = judged.reason or RefundReason.BILL_CLOSED
    bill.refunded(payment, reason, refund_id, at)
    bills.save(bill)
    ledger.record(payment, bill.bill_id, REFUNDED, reason=reason.value, refund_id=refund_id, source=source, at=at)
    log.warning("payment %s for %s refunded (%s): %s", payment.transaction_id, payment.merchant_ref,
                reason.value, refund_id)
    tx.emit(events_pb2.PaymentRefunded(
        bill_id=bill.bill_id, dossier_code=bill.dossier_code, citizen_id=bill.citizen_id,
        amount_vnd=payment.amount_vnd, refund_id=refund_id,
        reason=events_pb2.RefundReason.Value(reason.value), intermediary_transaction_id=payment.transaction_id,
    ), subject=bill.dossier_code, correlation_id=bill.dossier_code)
    return Recorded(REFUNDED, reason, refund_id)


def mark_voided(store: UnitOfWork, bill_id: str) -> None:
    """Record that the intermediary confirmed a closed bill's transaction void (or never opened)."""
    def mark(tx: Transaction) -> None:
        bills = tx.repository(BillRepository)
        current = bills.get(bill_id)
        if current is not None and current.mark_voided(datetime.now(UTC)):
            bills.save(current)

    store.transaction(mark)
