"""The payments service layer on its in-memory repositories (services/payments/fakes.py), against the
intermediary simulator (simulators/paygate.py) served in-process (conftest.py): every event, command and callback
handler, without nameko, RabbitMQ or MongoDB."""

import time
from datetime import timedelta

import pytest

from egov.payments.v1 import events_pb2
from egov.procedures.v1 import procedures_pb2
from services.common.callback_signature import sign
from services.common.caller import OPERATOR, Caller, CallerKind
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from services.common.memory_store import InMemoryStore
from services.common.roles import Appointment, Role
from services.payments import handlers
from services.payments.adapters.paygate import PaygateClient
from services.payments.adapters.payment_ledger import PaymentLedger
from services.payments.domain import commands
from services.payments.domain.bill import Bill, BillStatus, bill_id_for
from services.payments.domain.notice import SignedCallback
from services.payments.reconcile import reconcile
from simulators.paygate_books import Paygate
from tests.unit.payments.factories import CITIZEN, CODE, OWNER, Notices, bill_of, paid_bill, rejected, submitted

# -- events --------------------------------------------------------------------------------------------

def test_an_online_dossier_with_a_fee_gets_one_bill_however_often_it_is_announced(
        store: InMemoryStore, paygate: PaygateClient) -> None:
    assert handlers.handle_event(store, paygate, submitted())
    assert handlers.handle_event(store, paygate, submitted())          # announced again, another event id
    issued = store.events(events_pb2.BillIssued)
    assert [(e.dossier_code, e.citizen_id, e.amount_vnd) for e in issued] == [(CODE, CITIZEN, 50_000)]
    assert bill_of(store).status is BillStatus.ISSUED


@pytest.mark.parametrize("fee, method", [(0, procedures_pb2.PAYMENT_METHOD_ONLINE),
                                         (50_000, procedures_pb2.PAYMENT_METHOD_AT_COUNTER)])
def test_no_bill_without_a_fee_or_for_payment_at_the_counter(store: InMemoryStore, paygate: PaygateClient,
                                                             fee: int, method: int) -> None:
    handlers.handle_event(store, paygate, submitted(fee, method))
    assert bill_of(store) is None and store.published == []


def test_the_same_event_delivered_twice_is_processed_once(store: InMemoryStore, paygate: PaygateClient) -> None:
    once = submitted()
    assert handlers.handle_event(store, paygate, once)
    assert not handlers.handle_event(store, paygate, once)
    assert len(store.events(events_pb2.BillIssued)) == 1


def test_a_dossier_rejected_before_its_bill_leaves_a_tombstone_so_no_bill_is_issued_later(
        store: InMemoryStore, paygate: PaygateClient) -> None:
    handlers.handle_event(store, paygate, rejected())
    handlers.handle_event(store, paygate, submitted())
    assert bill_of(store).tombstone and store.events(events_pb2.BillIssued) == []
    with pytest.raises(NotFound):
        handlers.start_payment(store, paygate, commands.StartPayment(CODE), OWNER)


def test_an_unpaid_bill_of_a_rejected_dossier_is_cancelled_and_its_open_transaction_voided(
        store: InMemoryStore, paygate: PaygateClient) -> None:
    handlers.handle_event(store, paygate, submitted())
    handlers.start_payment(store, paygate, commands.StartPayment(CODE), OWNER)
    handlers.handle_event(store, paygate, rejected())
    bill = bill_of(store)
    assert bill.status is BillStatus.CANCELLED and bill.voided_at is not None
    assert store.events(events_pb2.PaymentRefunded) == []


def test_a_paid_bill_of_a_rejected_dossier_is_refunded_at_the_intermediary(
        store: InMemoryStore, intermediary: tuple[PaygateClient, Paygate, Notices]) -> None:
    transaction_id = paid_bill(store, intermediary)
    handlers.handle_event(store, intermediary[0], rejected())
    bill = bill_of(store)
    assert bill.status is BillStatus.REFUNDED and bill.refund_id
    [refunded] = store.events(events_pb2.PaymentRefunded)
    assert (refunded.refund_id, refunded.intermediary_transaction_id) == (bill.refund_id, transaction_id)
    assert refunded.reason == events_pb2.REFUND_REASON_DOSSIER_REJECTED
    assert store.repository(PaymentLedger).get(transaction_id)["refund_id"] == bill.refund_id  # type: ignore[index]


# -- commands and the intermediary's callback ------------------------------------------------------------

def test_the_owner_starts_a_payment_once_and_the_signed_notice_settles_the_bill(
        store: InMemoryStore, intermediary: tuple[PaygateClient, Paygate, Notices]) -> None:
    paygate, books, notices = intermediary
    handlers.handle_event(store, paygate, submitted())
    request = commands.StartPayment(CODE)
    first = handlers.start_payment(store, paygate, request, OWNER)
    assert handlers.start_payment(store, paygate, request, OWNER).transaction_id == first.transaction_id
    assert first.amount_vnd == 50_000 and first.payment_url
    books.pay(first.transaction_id)
    notice = notices.received.get(timeout=30)
    assert handlers.receive_payment_notice(store, paygate, notice).outcome == "settled"
    assert handlers.receive_payment_notice(store, paygate, notice).outcome == "duplicate"
    [settled] = store.events(events_pb2.PaymentSettled)
    assert (settled.dossier_code, settled.intermediary_transaction_id) == (CODE, first.transaction_id)
    assert bill_of(store).status is BillStatus.PAID
    with pytest.raises(FailedPrecondition):
        handlers.start_payment(store, paygate, request, OWNER)


def test_only_the_owner_may_pay_and_a_forged_notice_changes_nothing(
        store: InMemoryStore, paygate: PaygateClient) -> None:
    handlers.handle_event(store, paygate, submitted())
    with pytest.raises(PermissionDenied):
        handlers.start_payment(store, paygate, commands.StartPayment(CODE),
                               Caller(CallerKind.CITIZEN, subject="046090009999"))
    body = (b'{"transaction_id": "PG-x", "merchant_ref": "%s", "amount_vnd": 50000, "status": "SUCCESS",'
            b' "paid_at": "2026-03-02T09:31:00+00:00"}' % bill_id_for(CODE).encode())
    timestamp = str(int(time.time()))
    forged = SignedCallback(body, timestamp, "nonce-1", sign("another-secret", body, timestamp, "nonce-1"))
    with pytest.raises(Unauthenticated):
        handlers.receive_payment_notice(store, paygate, forged)
    assert bill_of(store).status is BillStatus.ISSUED and store.events(events_pb2.PaymentSettled) == []


def test_reconciliation_records_a_payment_whose_notice_never_came(
        store: InMemoryStore, intermediary: tuple[PaygateClient, Paygate, Notices]) -> None:
    paygate, books, _ = intermediary
    handlers.handle_event(store, paygate, submitted())
    started = handlers.start_payment(store, paygate, commands.StartPayment(CODE), OWNER)
    books.pay(started.transaction_id)          # its notice is lost: never handed to the service
    report = reconcile(store, paygate, grace=handlers.now() - handlers.now())
    assert [(row.bill_id, row.action) for row in report.findings] == [(bill_id_for(CODE), "settled")]
    assert bill_of(store).status is BillStatus.PAID and len(store.events(events_pb2.PaymentSettled)) == 1


def test_only_the_operator_reconciles_on_request_leaving_recent_payments_the_grace_asked_for(
        store: InMemoryStore, intermediary: tuple[PaygateClient, Paygate, Notices]) -> None:
    paygate, books, _ = intermediary
    handlers.handle_event(store, paygate, submitted())
    started = handlers.start_payment(store, paygate, commands.StartPayment(CODE), OWNER)
    books.pay(started.transaction_id)          # its notice is lost
    with pytest.raises(PermissionDenied, match="may not do this"):
        handlers.reconcile_now(store, paygate, commands.Reconcile(grace_seconds=0), OWNER, timedelta(0))
    within_default = handlers.reconcile_now(store, paygate, commands.Reconcile(grace_seconds=0), OPERATOR,
                                            timedelta(hours=1))
    within_asked = handlers.reconcile_now(store, paygate, commands.Reconcile(grace_seconds=3600),
                                          OPERATOR, timedelta(0))
    assert (within_default.bills_checked, within_asked.bills_checked) == (0, 0)
    assert bill_of(store).status is BillStatus.ISSUED
    done = handlers.reconcile_now(store, paygate, commands.Reconcile(grace_seconds=0), OPERATOR, timedelta(0))
    assert done.bills_checked == 1
    assert [(f.bill_id, f.dossier_code, f.action, f.resolved) for f in done.findings] == [
        (bill_id_for(CODE), CODE, "settled", True)]
    assert bill_of(store).status is BillStatus.PAID

# -- queries -----------------------------------------------------------------------------------------------

DESK = Caller(CallerKind.CIVIL_SERVANT, subject="cb-1", appointments=(Appointment("000.00.01.H57", Role.RECEIVER),))


def read_bill(store: InMemoryStore, caller: Caller, code: str = CODE) -> Bill:
    return handlers.get_bill(store, commands.GetBill(dossier_code=code), caller)


def test_the_citizen_billed_and_the_receiving_desk_read_the_bill_as_it_stands(
        store: InMemoryStore, intermediary: tuple[PaygateClient, Paygate, Notices]) -> None:
    handlers.handle_event(store, intermediary[0], submitted())
    issued = read_bill(store, OWNER)
    assert (issued.bill_id, issued.dossier_code, issued.citizen_id, issued.amount_vnd, issued.status) == (
        bill_id_for(CODE), CODE, CITIZEN, 50_000, BillStatus.ISSUED)
    assert issued.issued_at and not issued.paid_at and not issued.intermediary_transaction_id
    transaction_id = paid_bill(store, intermediary)
    paid = read_bill(store, DESK)
    assert (paid.status, paid.intermediary, paid.intermediary_transaction_id) == (
        BillStatus.PAID, "paygate", transaction_id)
    assert paid.paid_at and not paid.refunded_at


def test_a_bill_is_not_shown_to_another_citizen_nor_to_another_agency_s_desk(
        store: InMemoryStore, paygate: PaygateClient) -> None:
    handlers.handle_event(store, paygate, submitted())
    with pytest.raises(PermissionDenied, match=f"the bill of dossier {CODE} is not yours"):
        read_bill(store, Caller(CallerKind.CITIZEN, subject="046090009999"))
    elsewhere = Caller(CallerKind.CIVIL_SERVANT, subject="cb-2",
                       appointments=(Appointment("000.00.02.H57", Role.RECEIVER),))
    with pytest.raises(PermissionDenied, match="is read with the role"):
        read_bill(store, elsewhere)


def test_no_bill_is_found_for_an_unbilled_dossier_nor_behind_a_tombstone_and_a_bad_code_is_refused(
        store: InMemoryStore, paygate: PaygateClient) -> None:
    with pytest.raises(NotFound, match="no bill for this dossier"):
        read_bill(store, OWNER)
    handlers.handle_event(store, paygate, rejected())           # rejected before its bill: a tombstone
    assert bill_of(store).tombstone
    with pytest.raises(NotFound, match="no bill for this dossier"):
        read_bill(store, OWNER)
    with pytest.raises(InvalidArgument, match="is required"):
        read_bill(store, OWNER, code="")
    with pytest.raises(InvalidArgument, match="at most"):
        read_bill(store, OWNER, code="X" * 65)
