"""The service layer: one function per command (domain/commands.py), event or callback, answering
in domain values; the entrypoints translate both ways (translation.py).

State changes run inside a `Transaction` with the events they cause. Calls to the intermediary
are made outside it, keyed on our own reference (the bill's merchant reference, a refund key), so
a retry (a redelivered event, a repeated RPC) reuses the first call's result. Payments reported by
the intermediary are recorded in settlement.py; reconciliation against its books is reconcile.py.
"""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.payments.v1 import events_pb2
from egov.procedures.v1 import events_pb2 as procedures_events
from egov.procedures.v1 import procedures_pb2
from services.common import reactions
from services.common.caller import Caller, CallerKind
from services.common.errors import DomainError, FailedPrecondition, NotFound
from services.common.events.envelope import event_type
from services.common.mongo_store import Transaction
from services.common.reactions import Reaction, react
from services.payments.adapters.bill_repository import BillRepository
from services.payments.adapters.paygate import INTERMEDIARY, OpenedTransaction, PaygateClient
from services.payments.adapters.payment_ledger import PaymentLedger
from services.payments.domain import commands
from services.payments.domain.bill import Bill, BillStatus, Closing, RefundReason, bill_id_for, check_dossier_code
from services.payments.domain.notice import SignedCallback, authenticate
from services.payments.reconcile import Intermediary, Report, reconcile
from services.payments.settlement import Recorded, UnitOfWork, mark_voided, record_payment

log = logging.getLogger(__name__)

DOSSIER_SUBMITTED = event_type(procedures_events.DossierSubmitted)
DOSSIER_REJECTED = event_type(procedures_events.DossierRejected)


class EventStore(UnitOfWork, reactions.EventStore, Protocol):
    """The worker's store as the event handlers need it: reads, transactions, exactly-once events."""


def now() -> datetime:
    return datetime.now(UTC)


# -- events ----------------------------------------------------------------------------------------

def issue_bill(tx: Transaction, submitted: procedures_events.DossierSubmitted, event: CloudEvent) -> None:
    if submitted.payment_method != procedures_pb2.PAYMENT_METHOD_ONLINE or submitted.fee_vnd <= 0:
        return
    bills = tx.repository(BillRepository)
    code = submitted.dossier.code
    if bills.get(bill_id_for(code)) is not None:
        return   # the same submission delivered again under another event id
    bill = Bill.issue(code, submitted.dossier.applicant_citizen_id, submitted.fee_vnd, now())
    bills.add(bill)
    tx.remember_trace(code)
    tx.emit(events_pb2.BillIssued(bill_id=bill.bill_id, dossier_code=code, citizen_id=bill.citizen_id,
                                  amount_vnd=bill.amount_vnd), subject=code)


def refund_if_paid(store: UnitOfWork, paygate: PaygateClient,
                   rejected: procedures_events.DossierRejected) -> str | None:
    """Before the transaction: the refund id for a paid bill, made at the intermediary under the
    bill's id, so a redelivery after a crash gets the same refund back, never a second one."""
    bill = store.repository(BillRepository).get(bill_id_for(rejected.dossier.code))
    if bill is None or bill.status is not BillStatus.PAID:
        return None
    return paygate.refund(bill.merchant_ref, bill.amount_vnd, idempotency_key=bill.bill_id)


def close_bill(tx: Transaction, rejected: procedures_events.DossierRejected, event: CloudEvent,
               refund_id: str | None) -> None:
    """DossierRejected, once the refund (if the bill was paid) was made at the intermediary."""
    bills = tx.repository(BillRepository)
    bill = bills.get(bill_id_for(rejected.dossier.code))
    if bill is None:
        if rejected.payment_method == procedures_pb2.PAYMENT_METHOD_ONLINE:
            # Rejected before its bill: a tombstone, so a submission handled later (a concurrent
            # worker, a re-driven dead letter, a replay) issues none. Same _id as the bill would
            # have: a concurrent issue_bill conflicts with it instead of slipping past.
            bills.add(Bill.closed_before_issue(rejected.dossier.code, rejected.dossier.applicant_citizen_id,
                                               now()))
        return
    # Raises if the bill was paid after refund_if_paid looked: the event is then redelivered.
    closing = bill.close_for_rejected_dossier(refund_id, now())
    if closing is Closing.UNCHANGED:
        return
    bills.save(bill)
    if closing is Closing.REFUNDED:
        reason = RefundReason.DOSSIER_REJECTED
        tx.repository(PaymentLedger).mark_refunded(bill.intermediary_transaction_id, bill.refund_id,
                                                   reason.value, now())
        tx.emit(events_pb2.PaymentRefunded(bill_id=bill.bill_id, dossier_code=bill.dossier_code,
                                           citizen_id=bill.citizen_id, amount_vnd=bill.amount_vnd,
                                           refund_id=bill.refund_id,
                                           reason=events_pb2.RefundReason.Value(reason.value),
                                           intermediary_transaction_id=bill.intermediary_transaction_id),
                subject=bill.dossier_code)


def void_closed_bill(store: UnitOfWork, paygate: PaygateClient,
                     rejected: procedures_events.DossierRejected) -> None:
    """After the transaction, on every delivery (a redelivery after a crash too): the closed bill's
    transaction is voided."""
    void_if_closed(store, paygate, bill_id_for(rejected.dossier.code))


# The refund is made before the transaction that records it and emits PaymentRefunded (an event
# never announces money that has not moved); the void comes after the transaction that closes the
# bill, because it is owed by the closed state (services/common/reactions.py explains each step and
# why no crash leaves anything half written or done twice).
EVENT_HANDLERS: Mapping[str, Reaction] = {
    DOSSIER_SUBMITTED: Reaction.in_transaction(issue_bill),
    DOSSIER_REJECTED: Reaction(prepare=refund_if_paid, apply=close_bill, follow_up=void_closed_bill),
}


def handle_event(store: EventStore, paygate: PaygateClient, event: CloudEvent) -> bool:
    """Process one incoming event exactly once; False if it was a duplicate or not ours."""
    return react(store, paygate, event, EVENT_HANDLERS)


def void_if_closed(store: UnitOfWork, paygate: PaygateClient, bill_id: str) -> str:
    """Void the open transaction of a closed bill, so it can no longer be paid; if the citizen paid
    first, that payment is refunded. What was done: voided, refunded, nothing or deferred
    (the intermediary did not answer: reconciliation voids it later)."""
    bill = store.repository(BillRepository).get(bill_id)
    if bill is None or not bill.needs_void:
        return "nothing"
    try:
        there = paygate.void(bill.merchant_ref)
        if there is not None and there.paid:
            return record_payment(store, paygate, there.as_payment(), source="void").outcome
    except DomainError as exc:
        log.warning("voiding %s deferred to reconciliation: %s", bill.merchant_ref, exc)
        return "deferred"
    mark_voided(store, bill_id)
    return "voided"


# -- commands (domain/commands.py; the entrypoints translate requests and answers, translation.py) -------

def get_bill(store: UnitOfWork, command: commands.GetBill, caller: Caller) -> Bill:
    bill = _existing_bill(store.repository(BillRepository), command.dossier_code)
    bill.check_readable_by(caller)
    return bill


def start_payment(store: UnitOfWork, paygate: PaygateClient, command: commands.StartPayment,
                  caller: Caller) -> OpenedTransaction:
    bill = _existing_bill(store.repository(BillRepository), command.dossier_code)
    bill.check_payable_by(caller)
    opened = paygate.open_transaction(bill.merchant_ref, bill.amount_vnd, f"Phí, lệ phí hồ sơ {bill.dossier_code}")

    def record(tx: Transaction) -> None:
        bills = tx.repository(BillRepository)
        current = bills.get(bill.bill_id)
        if current is not None and current.merchant_ref != bill.merchant_ref:
            raise FailedPrecondition("dossier_code", "the bill changed while the payment was opened; try again")
        if current is not None and current.attach_transaction(INTERMEDIARY, opened.transaction_id, now()):
            bills.save(current)

    try:
        store.transaction(record)
    except FailedPrecondition:
        # Closed meanwhile: the transaction just opened must never be payable.
        try:
            paygate.void(bill.merchant_ref)
        except DomainError as exc:
            log.warning("voiding %s after a refused start failed: %s", bill.merchant_ref, exc)
        raise
    return opened


def reconcile_now(store: UnitOfWork, paygate: Intermediary, command: commands.Reconcile,
                  caller: Caller, default_grace: timedelta) -> Report:
    """The operator's `egov-payments reconcile`: what the service's timer does, now, leaving bills
    whose payment started within `grace_seconds` (the service's own grace when 0) to their notice."""
    caller.require(CallerKind.OPERATOR)
    grace = timedelta(seconds=command.grace_seconds) if command.grace_seconds > 0 else default_grace
    return reconcile(store, paygate, grace)


def receive_payment_notice(store: UnitOfWork, paygate: PaygateClient, callback: SignedCallback) -> Recorded:
    """Record the payment a signed notice reports: settled, refunded (a closed bill, another amount),
    or a duplicate of one recorded before. Acknowledged in each case: the money is accounted for."""
    notice = authenticate(callback, paygate.notice_secret, now())
    return record_payment(store, paygate, notice, source="notice", callback=callback)


def _existing_bill(bills: BillRepository, dossier_code: str) -> Bill:
    bill = bills.issued(bill_id_for(check_dossier_code(dossier_code)))
    if bill is None:
        raise NotFound("dossier_code", "no bill for this dossier")
    return bill

