"""One contract per payments repository, held by the MongoDB adapter and its in-memory twin
(services/payments/fakes.py) alike: bills, the payment ledger, the notice log."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.payments.adapters.bill_repository import BillRepository
from services.payments.adapters.notice_log import NoticeLog
from services.payments.adapters.payment_ledger import REFUNDED, SETTLED, PaymentLedger
from services.payments.domain.bill import Bill, BillStatus
from services.payments.domain.notice import PaymentNotice
from services.payments.fakes import InMemoryBills, InMemoryLedger, InMemoryNoticeLog
from tests.contract.scratch import scratch_database

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)   # whole seconds: MongoDB keeps milliseconds
CITIZEN = "046090001234"


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[Database[Any]]:
    with scratch_database(request.getfixturevalue("mongo_uri")) as db:
        yield db


def adapter(request: pytest.FixtureRequest, fake: Callable[[], Any], real: Callable[[Database[Any]], Any]) -> Any:
    if request.param == "memory":
        return fake()
    return real(request.getfixturevalue("database"))


@pytest.fixture(params=["memory", "mongo"])
def bills(request: pytest.FixtureRequest) -> BillRepository:
    return adapter(request, InMemoryBills, BillRepository)  # type: ignore[no-any-return]


@pytest.fixture(params=["memory", "mongo"])
def ledger(request: pytest.FixtureRequest) -> PaymentLedger:
    return adapter(request, InMemoryLedger, PaymentLedger)  # type: ignore[no-any-return]


@pytest.fixture(params=["memory", "mongo"])
def notices(request: pytest.FixtureRequest) -> NoticeLog:
    return adapter(request, InMemoryNoticeLog, NoticeLog)  # type: ignore[no-any-return]


def bill(n: int, at: datetime = NOW) -> Bill:
    return Bill.issue(f"000.00.01.H57-260302-{n:04d}", CITIZEN, 50_000, at)


def test_a_bill_is_added_once_and_read_back_whole(bills: BillRepository) -> None:
    first = bill(1)
    assert bills.get(first.bill_id) is None
    bills.add(first)
    assert bills.get(first.bill_id) == first
    with pytest.raises(DuplicateKeyError):
        bills.add(bill(1))
    first.attach_transaction("paygate", "PG-1", NOW)
    assert bills.get(first.bill_id) != first           # what was read is a copy, not the stored bill
    bills.save(first)
    assert bills.get(first.bill_id) == first
    tombstone = Bill.closed_before_issue("000.00.01.H57-260302-0002", CITIZEN, NOW)
    bills.add(tombstone)
    assert bills.get(tombstone.bill_id) == tombstone


def test_an_issued_bill_is_read_for_its_readers_and_a_tombstone_is_none(bills: BillRepository) -> None:
    first = bill(1)
    assert bills.issued(first.bill_id) is None
    bills.add(first)
    assert bills.issued(first.bill_id) == first
    first.attach_transaction("paygate", "PG-1", NOW)
    assert bills.issued(first.bill_id) != first        # what was read is a copy, not the stored bill
    bills.save(first)
    assert bills.issued(first.bill_id) == first
    tombstone = Bill.closed_before_issue("000.00.01.H57-260302-0002", CITIZEN, NOW)
    bills.add(tombstone)
    assert bills.issued(tombstone.bill_id) is None       # held, but no bill to show or pay
    assert bills.get(tombstone.bill_id) == tombstone


def test_saving_a_bill_never_added_stores_nothing(bills: BillRepository) -> None:
    bills.save(bill(3))
    assert bills.get(bill(3).bill_id) is None


def test_bills_due_for_check_are_open_transactions_started_before_the_cutoff_and_unvoided_closed_ones(
        bills: BillRepository) -> None:
    no_transaction = bill(1)
    early, late, issued_early = bill(2), bill(3), bill(4, NOW - timedelta(hours=2))
    early.attach_transaction("paygate", "PG-2", NOW - timedelta(hours=1))
    late.attach_transaction("paygate", "PG-3", NOW + timedelta(hours=1))
    issued_early.attach_transaction("paygate", "PG-4")            # started at unknown: the issue time counts
    closed, voided = bill(5), bill(6)
    for b in (closed, voided):
        b.attach_transaction("paygate", f"PG-{b.bill_id}", NOW + timedelta(hours=1))
        b.close_for_rejected_dossier(None, NOW)
    voided.mark_voided(NOW)
    for b in (no_transaction, early, late, issued_early, closed, voided):
        bills.add(b)
    due = bills.due_for_check(NOW)
    assert sorted(b.bill_id for b in due) == sorted([early.bill_id, issued_early.bill_id, closed.bill_id])
    assert {b.bill_id: b.status for b in due}[closed.bill_id] is BillStatus.CANCELLED


def payment(transaction_id: str, merchant_ref: str = "BILL-1") -> PaymentNotice:
    return PaymentNotice(transaction_id, merchant_ref, 50_000, "2026-03-02T09:31:00+00:00")


def test_the_ledger_records_each_payment_once(ledger: PaymentLedger) -> None:
    assert ledger.get("PG-1") is None
    ledger.record(payment("PG-1"), "BILL-1", SETTLED, source="notice", at=NOW)
    assert ledger.get("PG-1") == {
        "_id": "PG-1", "bill_id": "BILL-1", "merchant_ref": "BILL-1", "amount_vnd": 50_000,
        "paid_at": "2026-03-02T09:31:00+00:00", "outcome": SETTLED, "reason": "", "refund_id": "",
        "source": "notice", "recorded_at": NOW}
    with pytest.raises(DuplicateKeyError):
        ledger.record(payment("PG-1"), "BILL-1", SETTLED, source="reconciliation", at=NOW)
    ledger.mark_refunded("PG-1", "RF-1", "DOSSIER_REJECTED", NOW)
    assert ledger.get("PG-1") == {
        "_id": "PG-1", "bill_id": "BILL-1", "merchant_ref": "BILL-1", "amount_vnd": 50_000,
        "paid_at": "2026-03-02T09:31:00+00:00", "outcome": SETTLED, "reason": "DOSSIER_REJECTED",
        "refund_id": "RF-1", "source": "notice", "recorded_at": NOW, "refunded_at": NOW}
    ledger.mark_refunded("PG-none", "RF-2", "DOSSIER_REJECTED", NOW)
    assert ledger.get("PG-none") is None


def test_the_ledger_finds_bills_settled_more_than_once(ledger: PaymentLedger) -> None:
    ledger.record(payment("PG-1"), "BILL-1", SETTLED, source="notice", at=NOW)
    ledger.record(payment("PG-2"), "BILL-1", SETTLED, source="reconciliation", at=NOW)
    ledger.record(payment("PG-3", "BILL-2"), "BILL-2", SETTLED, source="notice", at=NOW)
    ledger.record(payment("PG-4", "BILL-2"), "BILL-2", REFUNDED, reason="SUPERSEDED", source="notice", at=NOW)
    twice = ledger.settled_more_than_once()
    assert [(bill_id, sorted(transactions)) for bill_id, transactions in twice] == [("BILL-1", ["PG-1", "PG-2"])]


def test_a_nonce_is_recorded_once_with_its_digest(notices: NoticeLog) -> None:
    assert notices.digest_for("n-1") is None
    notices.record("n-1", "digest-1", "BILL-1", "PG-1", NOW)
    assert notices.digest_for("n-1") == "digest-1"
    with pytest.raises(DuplicateKeyError):
        notices.record("n-1", "digest-2", "BILL-1", "PG-2", NOW)
    assert notices.digest_for("n-1") == "digest-1"
