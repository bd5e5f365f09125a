from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from services.common.caller import Caller, CallerKind
from services.common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.common.roles import Appointment, Role
from services.payments.domain.bill import (
    Bill,
    BillStatus,
    Closing,
    Judgement,
    RefundReason,
    Verdict,
    bill_id_for,
    bill_id_of,
)
from services.payments.domain.notice import PaymentNotice

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CITIZEN_ID = "046090001234"
OWNER = Caller(CallerKind.CITIZEN, subject=CITIZEN_ID)


def issued(amount: int = 50_000) -> Bill:
    return Bill.issue("000.00.01.H57-260302-0001", CITIZEN_ID, amount, NOW)


def with_transaction(transaction_id: str = "PG1") -> Bill:
    bill = issued()
    bill.attach_transaction("paygate", transaction_id)
    return bill


def notice_for(bill: Bill, amount: int | None = None, transaction_id: str = "PG1") -> PaymentNotice:
    return PaymentNotice(transaction_id, bill.bill_id, bill.amount_vnd if amount is None else amount,
                         "2026-03-02T09:31:00+00:00")


def paid() -> Bill:
    bill = with_transaction()
    bill.settle(notice_for(bill))
    return bill


def test_a_bill_is_issued_once_per_dossier_under_an_id_derived_from_its_code() -> None:
    bill = issued()
    assert bill.status is BillStatus.ISSUED
    assert bill.bill_id == bill_id_for("000.00.01.H57-260302-0001") == "BILL-000.00.01.H57-260302-0001"


@pytest.mark.parametrize("amount", [0, -1])
def test_no_bill_for_a_fee_that_is_not_positive(amount: int) -> None:
    with pytest.raises(InvalidArgument) as err:
        issued(amount)
    assert err.value.field == "amount_vnd"


def test_no_bill_for_a_malformed_citizen_id() -> None:
    with pytest.raises(InvalidArgument) as err:
        Bill.issue("X-1", "12345", 50_000, NOW)
    assert err.value.field == "applicant_citizen_id"


@pytest.mark.parametrize("code", ["", "X" * 65])
def test_dossier_code_is_required_and_bounded(code: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        bill_id_for(code)
    assert err.value.field == "dossier_code"


def test_only_the_owner_may_pay() -> None:
    bill = issued()
    bill.check_payable_by(OWNER)
    with pytest.raises(PermissionDenied):
        bill.check_payable_by(Caller(CallerKind.CITIZEN, subject="001099000001"))
    with pytest.raises(PermissionDenied):
        bill.check_payable_by(Caller(CallerKind.CIVIL_SERVANT, subject="CB01", agency_code="H57"))


def test_a_bill_no_longer_issued_cannot_be_paid_again() -> None:
    bill = paid()
    with pytest.raises(FailedPrecondition) as err:
        bill.check_payable_by(OWNER)
    assert err.value.field == "dossier_code"


def test_citizens_read_their_own_bills_and_the_receiving_desk_reads_its_own() -> None:
    bill = issued()
    bill.check_readable_by(OWNER)
    desk = "000.00.01.H57"
    bill.check_readable_by(Caller(CallerKind.CIVIL_SERVANT, subject="CB01",
                                  appointments=(Appointment(desk, Role.RECEIVER),)))
    bill.check_readable_by(Caller(CallerKind.AGENCY, subject=f"VN/GOV/{desk}/one-stop", agency_code=desk))
    for stranger in (Caller(CallerKind.CITIZEN, subject="001099000001"), Caller(CallerKind.ANONYMOUS),
                     Caller(CallerKind.CIVIL_SERVANT, subject="CB02", agency_code=desk),
                     Caller(CallerKind.AGENCY, subject="VN/GOV/H57/one-stop", agency_code="H57")):
        with pytest.raises(PermissionDenied):
            bill.check_readable_by(stranger)


def test_the_transaction_is_recorded_once_and_never_replaced() -> None:
    bill = issued()
    assert bill.attach_transaction("paygate", "PG1") is True
    assert bill.attach_transaction("paygate", "PG1") is False
    with pytest.raises(FailedPrecondition) as err:
        bill.attach_transaction("paygate", "PG2")
    assert err.value.field == "transaction_id"
    assert bill.intermediary_transaction_id == "PG1"


def test_a_matching_notice_pays_the_bill() -> None:
    bill = with_transaction()
    assert bill.judge(notice_for(bill)) == Judgement(Verdict.SETTLE)
    bill.settle(notice_for(bill))
    assert bill.status is BillStatus.PAID
    assert bill.paid_at == "2026-03-02T09:31:00+00:00"


def test_the_same_notice_again_is_a_duplicate_that_changes_nothing() -> None:
    bill = paid()
    before = (bill.status, bill.paid_at)
    assert bill.judge(notice_for(bill)) == Judgement(Verdict.DUPLICATE)
    with pytest.raises(FailedPrecondition):
        bill.settle(notice_for(bill))
    assert (bill.status, bill.paid_at) == before


def test_money_for_another_amount_is_refunded_and_the_bill_opens_a_new_transaction() -> None:
    bill = with_transaction()
    wrong = notice_for(bill, amount=bill.amount_vnd - 1)
    assert bill.judge(wrong) == Judgement(Verdict.REFUND, RefundReason.AMOUNT_MISMATCH)
    bill.refunded(wrong, RefundReason.AMOUNT_MISMATCH, "RF1", NOW)
    assert bill.status is BillStatus.ISSUED
    assert (bill.attempt, bill.merchant_ref, bill.intermediary_transaction_id) == (2, f"{bill.bill_id}/2", "")
    assert bill_id_of(bill.merchant_ref) == (bill.bill_id, 2)
    # A late payment through the first transaction is not this bill's money any more.
    assert bill.judge(wrong) == Judgement(Verdict.REFUND, RefundReason.SUPERSEDED)
    bill.attach_transaction("paygate", "PG2", NOW)
    right = PaymentNotice("PG2", bill.merchant_ref, bill.amount_vnd, "2026-03-02T09:40:00+00:00")
    assert bill.judge(right) == Judgement(Verdict.SETTLE)


@pytest.mark.parametrize("make_bill", [issued, lambda: with_transaction("PG-OTHER")],
                         ids=["none opened", "another opened"])
def test_a_notice_for_another_transaction_is_refused(make_bill: Callable[[], Bill]) -> None:
    bill = make_bill()
    with pytest.raises(FailedPrecondition) as err:
        bill.judge(notice_for(bill, transaction_id="PG1"))
    assert err.value.field == "transaction_id"
    assert bill.status is BillStatus.ISSUED


def test_money_for_a_cancelled_bill_is_refunded_and_the_bill_says_so() -> None:
    bill = with_transaction()
    bill.close_for_rejected_dossier(None, NOW)
    assert bill.needs_void
    late = notice_for(bill)
    assert bill.judge(late) == Judgement(Verdict.REFUND, RefundReason.BILL_CLOSED)
    with pytest.raises(FailedPrecondition):
        bill.settle(late)
    bill.refunded(late, RefundReason.BILL_CLOSED, "RF9", NOW)
    assert (bill.status, bill.refund_id, bill.needs_void) == (BillStatus.REFUNDED, "RF9", False)
    assert bill.judge(late) == Judgement(Verdict.DUPLICATE)


def test_a_closed_bill_is_voided_once() -> None:
    bill = with_transaction()
    bill.close_for_rejected_dossier(None, NOW)
    assert bill.mark_voided(NOW) is True
    assert (bill.needs_void, bill.mark_voided(NOW)) == (False, False)
    assert issued().needs_void is False


def test_a_tombstone_is_a_closed_bill_no_payment_can_reach() -> None:
    tomb = Bill.closed_before_issue("000.00.01.H57-260302-0001", CITIZEN_ID, NOW)
    assert (tomb.bill_id, tomb.status, tomb.amount_vnd, tomb.needs_void) == (
        bill_id_for("000.00.01.H57-260302-0001"), BillStatus.CANCELLED, 0, False)
    assert tomb.close_for_rejected_dossier(None, NOW) is Closing.UNCHANGED
    with pytest.raises(FailedPrecondition):
        tomb.judge(PaymentNotice("PG1", tomb.bill_id, 50_000, "2026-03-02T09:31:00+00:00"))


def test_rejection_refunds_a_paid_bill() -> None:
    bill = paid()
    assert bill.close_for_rejected_dossier("RF1", NOW) is Closing.REFUNDED
    assert (bill.status, bill.refund_id, bill.refunded_at) == (BillStatus.REFUNDED, "RF1", NOW)
    assert bill.close_for_rejected_dossier("RF1", NOW) is Closing.UNCHANGED


def test_a_paid_bill_is_not_marked_refunded_before_the_refund_is_made() -> None:
    bill = paid()
    with pytest.raises(FailedPrecondition) as err:
        bill.close_for_rejected_dossier(None, NOW)
    assert err.value.field == "refund_id"
    assert bill.status is BillStatus.PAID


def test_rejection_cancels_an_unpaid_bill() -> None:
    bill = issued()
    assert bill.close_for_rejected_dossier(None, NOW) is Closing.CANCELLED
    assert bill.status is BillStatus.CANCELLED
    assert bill.close_for_rejected_dossier(None, NOW) is Closing.UNCHANGED
