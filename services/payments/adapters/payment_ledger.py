"""Every payment the intermediary reported, once: `_id` = its transaction id (the notice's identity),
so a notice delivered again, or the same payment found by reconciliation, is recorded once.
Documents in and out, no rules."""

from datetime import datetime
from typing import Any

from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.payments.domain.notice import PaymentNotice

PAYMENTS_RECEIVED = "payments_received"
SETTLED, REFUNDED = "settled", "refunded"


class PaymentLedger:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._payments = db[PAYMENTS_RECEIVED]
        self._session = session

    def get(self, transaction_id: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = self._payments.find_one({"_id": transaction_id}, session=self._session)
        return doc

    def record(self, payment: PaymentNotice, bill_id: str, outcome: str, *, reason: str = "", refund_id: str = "",
               source: str, at: datetime) -> None:
        self._payments.insert_one({
            "_id": payment.transaction_id, "bill_id": bill_id, "merchant_ref": payment.merchant_ref,
            "amount_vnd": payment.amount_vnd, "paid_at": payment.paid_at, "outcome": outcome, "reason": reason,
            "refund_id": refund_id, "source": source, "recorded_at": at,
        }, session=self._session)

    def mark_refunded(self, transaction_id: str, refund_id: str, reason: str, at: datetime) -> None:
        """A settled payment given back later (its dossier rejected)."""
        self._payments.update_one({"_id": transaction_id},
                                  {"$set": {"refund_id": refund_id, "reason": reason, "refunded_at": at}},
                                  session=self._session)

    def settled_more_than_once(self) -> list[tuple[str, list[str]]]:
        """Bills with more than one payment settled against them, and those payments."""
        rows = self._payments.aggregate([
            {"$match": {"outcome": SETTLED}},
            {"$group": {"_id": "$bill_id", "transactions": {"$push": "$_id"}, "count": {"$sum": 1}}},
            {"$match": {"count": {"$gt": 1}}},
        ], session=self._session)
        return [(str(row["_id"]), [str(t) for t in row["transactions"]]) for row in rows]
