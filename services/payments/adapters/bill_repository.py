"""Bills in MongoDB: one document per bill, `_id` = bill id. Documents in and out, no rules."""

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

    def add(self, bill: Bill) -> None:
        self._bills.insert_one(_to_document(bill), session=self._session)

    def save(self, bill: Bill) -> None:
        self._bills.replace_one({"_id": bill.bill_id}, _to_document(bill), session=self._session)


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
    )
