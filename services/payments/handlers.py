"""The service layer: one function per command, event or callback.

State changes run inside a `Transaction` with the events they cause. Calls to the intermediary
are made before the transaction, under the bill id as idempotency key, so a retry (a redelivered
event, a repeated RPC) reuses the first call's result.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.payments.v1 import events_pb2, payments_pb2
from egov.procedures.v1 import events_pb2 as procedures_events
from egov.procedures.v1 import procedures_pb2
from services.common.caller import Caller
from services.common.errors import NotFound
from services.common.events.envelope import event_type
from services.common.mongo_store import Cause, Transaction
from services.payments.adapters.bill_repository import BillRepository
from services.payments.adapters.notice_log import NoticeLog
from services.payments.adapters.paygate import INTERMEDIARY, PaygateClient
from services.payments.domain.bill import Bill, BillStatus, Closing, bill_id_for, check_dossier_code
from services.payments.domain.notice import SignedCallback, authenticate, is_first_use

T = TypeVar("T")
EventHandler = Callable[[Transaction, Any, CloudEvent], None]

DOSSIER_SUBMITTED = event_type(procedures_events.DossierSubmitted)
DOSSIER_REJECTED = event_type(procedures_events.DossierRejected)


class UnitOfWork(Protocol):
    """What handlers need of the store: reads through `db`, writes through `transaction`."""

    db: Database[Any]

    def transaction(self, fn: Callable[[Transaction], T], cause: Cause | None = None) -> T: ...

    def handle_event(self, event: CloudEvent, handlers: Mapping[str, EventHandler]) -> bool: ...


def now() -> datetime:
    return datetime.now(UTC)


# -- events ----------------------------------------------------------------------------------------

def issue_bill(tx: Transaction, submitted: procedures_events.DossierSubmitted, event: CloudEvent) -> None:
    if submitted.payment_method != procedures_pb2.PAYMENT_METHOD_ONLINE or submitted.fee_vnd <= 0:
        return
    bills = BillRepository(tx.db, tx.session)
    code = submitted.dossier.code
    if bills.get(bill_id_for(code)) is not None:
        return   # the same submission delivered again under another event id
    bill = Bill.issue(code, submitted.dossier.applicant_citizen_id, submitted.fee_vnd, now())
    bills.add(bill)
    tx.remember_trace(code)
    tx.emit(events_pb2.BillIssued(bill_id=bill.bill_id, dossier_code=code, citizen_id=bill.citizen_id,
                                  amount_vnd=bill.amount_vnd), subject=code)


def close_bill(refund_id: str | None) -> EventHandler:
    """DossierRejected, once the refund (if the bill was paid) was made at the intermediary."""

    def apply(tx: Transaction, rejected: procedures_events.DossierRejected, event: CloudEvent) -> None:
        bills = BillRepository(tx.db, tx.session)
        bill = bills.get(bill_id_for(rejected.dossier.code))
        if bill is None:
            return
        # Raises if the bill was paid after refund_if_paid looked: the event is then redelivered.
        closing = bill.close_for_rejected_dossier(refund_id, now())
        if closing is Closing.UNCHANGED:
            return
        bills.save(bill)
        if closing is Closing.REFUNDED:
            tx.emit(events_pb2.PaymentRefunded(bill_id=bill.bill_id, dossier_code=bill.dossier_code,
                                               citizen_id=bill.citizen_id, amount_vnd=bill.amount_vnd,
                                               refund_id=bill.refund_id), subject=bill.dossier_code)

    return apply


def event_handlers(refund_id: str | None = None) -> dict[str, EventHandler]:
    return {DOSSIER_SUBMITTED: issue_bill, DOSSIER_REJECTED: close_bill(refund_id)}


EVENT_HANDLERS = event_handlers()


def refund_if_paid(db: Database[Any], paygate: PaygateClient,
                   rejected: procedures_events.DossierRejected) -> str | None:
    """The refund id for a paid bill, made at the intermediary outside any transaction."""
    bill = BillRepository(db).get(bill_id_for(rejected.dossier.code))
    if bill is None or bill.status is not BillStatus.PAID:
        return None
    return paygate.refund(bill.bill_id, bill.amount_vnd, idempotency_key=bill.bill_id)


def handle_event(store: UnitOfWork, paygate: PaygateClient, event: CloudEvent) -> bool:
    refund_id = None
    if event.type == DOSSIER_REJECTED:
        rejected = procedures_events.DossierRejected()
        if not event.data.Unpack(rejected):
            raise ValueError(f"event {event.id}: data is not a {event.type}")
        refund_id = refund_if_paid(store.db, paygate, rejected)
    return store.handle_event(event, event_handlers(refund_id))


# -- commands --------------------------------------------------------------------------------------

def get_bill(db: Database[Any], request: payments_pb2.GetBillRequest,
             caller: Caller) -> payments_pb2.GetBillResponse:
    bill = _existing_bill(db, request.dossier_code)
    bill.check_readable_by(caller)
    return payments_pb2.GetBillResponse(bill=bill_message(bill))


def start_payment(store: UnitOfWork, paygate: PaygateClient, request: payments_pb2.StartPaymentRequest,
                  caller: Caller) -> payments_pb2.StartPaymentResponse:
    bill = _existing_bill(store.db, request.dossier_code)
    bill.check_payable_by(caller)
    opened = paygate.open_transaction(bill.bill_id, bill.amount_vnd, f"Phí, lệ phí hồ sơ {bill.dossier_code}")

    def record(tx: Transaction) -> None:
        bills = BillRepository(tx.db, tx.session)
        current = bills.get(bill.bill_id)
        if current is not None and current.attach_transaction(INTERMEDIARY, opened.transaction_id):
            bills.save(current)

    store.transaction(record)
    return payments_pb2.StartPaymentResponse(transaction_id=opened.transaction_id,
                                             payment_url=opened.payment_url, amount_vnd=opened.amount_vnd)


def receive_payment_notice(store: UnitOfWork, secret: str, callback: SignedCallback) -> bool:
    """Settle the bill a signed notice pays; False for a notice already applied (a duplicate)."""
    received_at = now()
    notice = authenticate(callback, secret, received_at)

    def apply(tx: Transaction) -> bool:
        notices = NoticeLog(tx.db, tx.session)
        if not is_first_use(callback, notices.digest_for(callback.nonce)):
            return False
        bills = BillRepository(tx.db, tx.session)
        bill = bills.get(notice.merchant_ref)
        if bill is None:
            raise NotFound("merchant_ref", f"no bill {notice.merchant_ref}")
        if not bill.settle(notice):
            return False
        tx.resume_trace(bill.dossier_code)
        bills.save(bill)
        notices.record(callback.nonce, callback.digest, bill.bill_id, notice.transaction_id, received_at)
        tx.emit(events_pb2.PaymentSettled(
            bill_id=bill.bill_id, dossier_code=bill.dossier_code, citizen_id=bill.citizen_id,
            amount_vnd=bill.amount_vnd, intermediary=bill.intermediary,
            intermediary_transaction_id=bill.intermediary_transaction_id, paid_at=bill.paid_at,
        ), subject=bill.dossier_code, correlation_id=bill.dossier_code)
        return True

    try:
        return store.transaction(apply)
    except DuplicateKeyError:
        # The same nonce was recorded by a concurrent delivery: decide again against what it wrote.
        return store.transaction(apply)


def _existing_bill(db: Database[Any], dossier_code: str) -> Bill:
    bill = BillRepository(db).get(bill_id_for(check_dossier_code(dossier_code)))
    if bill is None:
        raise NotFound("dossier_code", "no bill for this dossier")
    return bill


def bill_message(bill: Bill) -> payments_pb2.Bill:
    return payments_pb2.Bill(
        bill_id=bill.bill_id, dossier_code=bill.dossier_code, citizen_id=bill.citizen_id,
        amount_vnd=bill.amount_vnd, status=payments_pb2.BillStatus.Value(bill.status.value),
        issued_at=bill.issued_at.isoformat(), paid_at=bill.paid_at, intermediary=bill.intermediary,
        intermediary_transaction_id=bill.intermediary_transaction_id,
        refunded_at=bill.refunded_at.isoformat() if bill.refunded_at else "",
    )
