"""Bills in MongoDB: one document per bill, `_id` = bill id. Documents in and out, no rules."""

from datetime import datetime
from typing import Any

from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.payments.domain.bill import Bill, BillStatus

BILLS = "bills"


class BillRepository:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._bills = db[BILLS]
        self._session = session

    def get(self, bill_id: str) -> Bill | None:
        doc = self._bills.find_one({"_id": bill_id}, session=self._session)
        return None if doc is None else _from_document(doc)

    def issued(self, bill_id: str) -> Bill | None:
        """The bill issued under this id, for readers and payers: None if there is none, or only the
        tombstone of a dossier rejected before its bill (a tombstone is no bill to show or pay)."""
        doc = self._bills.find_one({"_id": bill_id, "tombstone": {"$ne": True}}, session=self._session)
        return None if doc is None else _from_document(doc)

    def add(self, bill: Bill) -> None:
        self._bills.insert_one(_to_document(bill), session=self._session)

    def save(self, bill: Bill) -> None:
        self._bills.replace_one({"_id": bill.bill_id}, _to_document(bill), session=self._session)

    def due_for_check(self, started_before: datetime) -> list[Bill]:
        """Open bills with a transaction started before the cutoff; closed ones with a transaction
        not confirmed void (domain/reconciliation.py: due_for_check decides on each)."""
        opened = {"$ne": ""}
        docs = self._bills.find({"$or": [
            {"status": BillStatus.ISSUED.value, "intermediary_transaction_id": opened,
             "$or": [{"transaction_started_at": {"$lte": started_before}},
                     {"transaction_started_at": None, "issued_at": {"$lte": started_before}}]},
            {"status": BillStatus.CANCELLED.value, "intermediary_transaction_id": opened, "voided_at": None},
        ]}, session=self._session)
        return [_from_document(doc) for doc in docs]


def _to_document(bill: Bill) -> dict[str, Any]:
    return {
        "_id": bill.bill_id,
        "dossier_code": bill.dossier_code,
        "citizen_id": bill.citizen_id,
        "amount_vnd": bill.amount_vnd,
        "status": bill.status.value,
        "issued_at": bill.issued_at,
        "intermediary": bill.intermediary,
        "intermediary_transaction_id": bill.intermediary_transaction_id,
        "paid_at": bill.paid_at,
        "refund_id": bill.refund_id,
        "refunded_at": bill.refunded_at,
        "cancelled_at": bill.cancelled_at,
        "attempt": bill.attempt,
        "transaction_started_at": bill.transaction_started_at,
        "voided_at": bill.voided_at,
        "tombstone": bill.tombstone,
    }


def _from_document(doc: dict[str, Any]) -> Bill:
    return Bill(
        bill_id=doc["_id"],
        dossier_code=doc["dossier_code"],
        citizen_id=doc["citizen_id"],
        amount_vnd=int(doc["amount_vnd"]),
        status=BillStatus(doc["status"]),
        issued_at=doc["issued_at"],
        intermediary=doc.get("intermediary", ""),
        intermediary_transaction_id=doc.get("intermediary_transaction_id", ""),
        paid_at=doc.get("paid_at", ""),
        refund_id=doc.get("refund_id", ""),
        refunded_at=doc.get("refunded_at"),
        cancelled_at=doc.get("cancelled_at"),
        attempt=int(doc.get("attempt", 1)),
        transaction_started_at=doc.get("transaction_started_at"),
        voided_at=doc.get("voided_at"),
        tombstone=bool(doc.get("tombstone", False)),
    )
