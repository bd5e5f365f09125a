"""Reconciliation's rules: which bills are checked, and what each answer of the intermediary means."""

from datetime import UTC, datetime, timedelta

import pytest

from services.payments.domain.bill import Bill
from services.payments.domain.reconciliation import (
    Finding,
    IntermediaryTransaction,
    Step,
    assess,
    due_for_check,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
GRACE = timedelta(minutes=10)


def started(minutes_ago: int) -> Bill:
    bill = Bill.issue("000.00.01.H57-260302-0001", "046090001234", 50_000, NOW - timedelta(hours=1))
    bill.attach_transaction("paygate", "PG1", NOW - timedelta(minutes=minutes_ago))
    return bill


def closed() -> Bill:
    bill = started(1)
    bill.close_for_rejected_dossier(None, NOW)
    return bill


def there(status: str) -> IntermediaryTransaction:
    return IntermediaryTransaction("PG1", "BILL-000.00.01.H57-260302-0001", status, 50_000,
                                   "2026-03-02T09:55:00+00:00" if status in ("SUCCESS", "REFUNDED") else "", 0)


def test_an_open_bill_is_left_to_its_notice_for_the_grace_period_and_a_closed_one_is_checked_at_once() -> None:
    assert not due_for_check(started(minutes_ago=5), NOW, GRACE)
    assert due_for_check(started(minutes_ago=15), NOW, GRACE)
    assert due_for_check(closed(), NOW, GRACE)
    never_started = Bill.issue("000.00.01.H57-260302-0002", "046090001234", 50_000, NOW - timedelta(hours=1))
    assert not due_for_check(never_started, NOW, GRACE)


@pytest.mark.parametrize("make_bill, status, step, finding", [
    (lambda: started(15), "SUCCESS", Step.RECORD_PAYMENT, Finding.PAID_WITHOUT_NOTICE),
    (lambda: started(15), "PENDING", Step.NOTHING, None),
    (lambda: started(15), "VOIDED", Step.REPORT, Finding.VOIDED_BUT_OPEN),
    (closed, "SUCCESS", Step.RECORD_PAYMENT, Finding.PAID_AND_CLOSED),
    (closed, "PENDING", Step.VOID, Finding.CLOSED_NOT_VOIDED),
    (closed, "VOIDED", Step.MARK_VOIDED, None),
], ids=["paid, no notice", "not paid yet", "void but open", "paid and closed", "closed, still payable",
        "closed and void"])
def test_each_answer_of_the_intermediary_leads_to_one_step(make_bill, status, step, finding) -> None:  # type: ignore[no-untyped-def]
    assessment = assess(make_bill(), there(status))
    assert (assessment.step, assessment.finding) == (step, finding)


def test_a_transaction_the_intermediary_never_heard_of_is_reported_unless_the_bill_is_closed() -> None:
    assert assess(started(15), None).finding is Finding.UNKNOWN_AT_INTERMEDIARY
    assert assess(closed(), None).step is Step.MARK_VOIDED
