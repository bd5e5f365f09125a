"""In-memory twins of the payments repositories (adapters/), with the MongoDB adapters' rules: an id
used twice raises DuplicateKeyError, as the unique `_id` does, and what is read is a copy.
tests/contract/test_payments_ports.py holds each twin and its adapter to the same contract; the
handler tests (tests/unit/payments/test_handlers*.py) run the service layer on them."""

import copy
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.common.memory_store import InMemoryStore
from services.payments.adapters.bill_repository import BillRepository
from services.payments.adapters.notice_log import NoticeLog
from services.payments.adapters.payment_ledger import SETTLED, PaymentLedger
from services.payments.domain.bill import Bill, BillStatus
from services.payments.domain.notice import PaymentNotice


class InMemoryBills:
    def __init__(self) -> None:
        self.bills: dict[str, Bill] = {}

    def get(self, bill_id: str) -> Bill | None:
        return copy.deepcopy(self.bills.get(bill_id))

    def issued(self, bill_id: str) -> Bill | None:
        bill = self.bills.get(bill_id)
        return None if bill is None or bill.tombstone else copy.deepcopy(bill)

    def add(self, bill: Bill) -> None:
        if bill.bill_id in self.bills:
            raise DuplicateKeyError(f"bill {bill.bill_id} exists")
        self.bills[bill.bill_id] = copy.deepcopy(bill)

    def save(self, bill: Bill) -> None:
        if bill.bill_id in self.bills:        # replace_one without upsert: an unknown bill stays unknown
            self.bills[bill.bill_id] = copy.deepcopy(bill)

    def due_for_check(self, started_before: datetime) -> list[Bill]:
        def due(b: Bill) -> bool:
            if not b.intermediary_transaction_id:
                return False
            if b.status is BillStatus.ISSUED:
                started = b.transaction_started_at if b.transaction_started_at is not None else b.issued_at
                return started <= started_before
            return b.status is BillStatus.CANCELLED and b.voided_at is None

        return [copy.deepcopy(b) for b in self.bills.values() if due(b)]


class InMemoryLedger:
    def __init__(self) -> None:
        self.payments: dict[str, dict[str, Any]] = {}

    def get(self, transaction_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.payments.get(transaction_id))

    def record(self, payment: PaymentNotice, bill_id: str, outcome: str, *, reason: str = "", refund_id: str = "",
               source: str, at: datetime) -> None:
        if payment.transaction_id in self.payments:
            raise DuplicateKeyError(f"payment {payment.transaction_id} recorded")
        self.payments[payment.transaction_id] = {
            "_id": payment.transaction_id, "bill_id": bill_id, "merchant_ref": payment.merchant_ref,
            "amount_vnd": payment.amount_vnd, "paid_at": payment.paid_at, "outcome": outcome, "reason": reason,
            "refund_id": refund_id, "source": source, "recorded_at": at}

    def mark_refunded(self, transaction_id: str, refund_id: str, reason: str, at: datetime) -> None:
        if transaction_id in self.payments:
            self.payments[transaction_id].update(refund_id=refund_id, reason=reason, refunded_at=at)

    def settled_more_than_once(self) -> list[tuple[str, list[str]]]:
        by_bill: dict[str, list[str]] = {}
        for doc in self.payments.values():
            if doc["outcome"] == SETTLED:
                by_bill.setdefault(doc["bill_id"], []).append(doc["_id"])
        return [(bill_id, transactions) for bill_id, transactions in by_bill.items() if len(transactions) > 1]


class InMemoryNoticeLog:
    def __init__(self) -> None:
        self.notices: dict[str, dict[str, Any]] = {}

    def digest_for(self, nonce: str) -> str | None:
        doc = self.notices.get(nonce)
        return None if doc is None else str(doc["digest"])

    def record(self, nonce: str, digest: str, bill_id: str, transaction_id: str, at: datetime) -> None:
        if nonce in self.notices:
            raise DuplicateKeyError(f"nonce {nonce} used")
        self.notices[nonce] = {"digest": digest, "bill_id": bill_id, "transaction_id": transaction_id, "at": at}


def in_memory_store() -> InMemoryStore:
    """The payments service's store with every repository in memory."""
    return InMemoryStore("payments", {BillRepository: InMemoryBills(), PaymentLedger: InMemoryLedger(),
                                      NoticeLog: InMemoryNoticeLog()})
