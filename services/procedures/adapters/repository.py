"""The procedures database: dossiers keyed by code, the day counters that number them, and the read
model of registered citizens. Documents in and out; the rules live in the domain."""

from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.common.mongo_store import Transaction
from services.procedures.domain.dossier import (
    Address,
    Channel,
    Delivery,
    DeliveryMethod,
    Dossier,
    DossierStatus,
    HistoryEntry,
    PaymentMethod,
    SubmittedDocument,
    Timeliness,
)

DOSSIERS = "dossiers"
DAY_COUNTERS = "dossier_day_counters"
CITIZENS = "citizens"


def ensure_indexes(db: Database[Any]) -> None:
    # Every dossier has a request key (the caller's idempotency key, or its own code), so a plain
    # unique index makes a retried submission find the first dossier.
    db[DOSSIERS].create_index([("request_key", ASCENDING)], unique=True)
    db[DOSSIERS].create_index([("applicant_citizen_id", ASCENDING), ("submitted_at", ASCENDING)])
    db[DOSSIERS].create_index([("agency_code", ASCENDING), ("status", ASCENDING)])


class DossierRepository:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    @classmethod
    def within(cls, tx: Transaction) -> "DossierRepository":
        return cls(tx.db, tx.session)

    def get(self, code: str) -> Dossier | None:
        doc = self._db[DOSSIERS].find_one({"_id": code}, session=self._session)
        return dossier_from_document(doc) if doc else None

    def find_by_request_key(self, request_key: str) -> Dossier | None:
        doc = self._db[DOSSIERS].find_one({"request_key": request_key}, session=self._session)
        return dossier_from_document(doc) if doc else None

    def add(self, dossier: Dossier, request_key: str = "") -> None:
        doc = dossier_to_document(dossier)
        doc["request_key"] = request_key or f"dossier:{dossier.code}"
        self._db[DOSSIERS].insert_one(doc, session=self._session)

    def save(self, dossier: Dossier) -> None:
        # $set leaves request_key as it was written by add()
        self._db[DOSSIERS].update_one({"_id": dossier.code}, {"$set": dossier_to_document(dossier)},
                                      session=self._session)

    def next_sequence(self, agency_code: str, day: date) -> int:
        """The agency's next dossier number of the day. Concurrent submissions to one agency write
        the same counter, so their transactions conflict and one is retried: no number is used twice."""
        key = f"{agency_code}:{day.isoformat()}"
        counters = self._db[DAY_COUNTERS]
        counters.update_one({"_id": key}, {"$inc": {"sequence": 1}}, upsert=True, session=self._session)
        doc = counters.find_one({"_id": key}, session=self._session)
        return int(doc["sequence"]) if doc else 1


class CitizenRegistry:
    """Citizens identity has registered, as told by its CitizenRegistered events."""

    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    @classmethod
    def within(cls, tx: Transaction) -> "CitizenRegistry":
        return cls(tx.db, tx.session)

    def record(self, citizen_id: str, full_name: str, registered_at: datetime) -> None:
        self._db[CITIZENS].update_one(
            {"_id": citizen_id},
            {"$set": {"full_name": full_name, "registered_at": registered_at}},
            upsert=True, session=self._session)

    def is_registered(self, citizen_id: str) -> bool:
        return self._db[CITIZENS].find_one({"_id": citizen_id}, {"_id": 1}, session=self._session) is not None


# -- documents -------------------------------------------------------------------------------------
def dossier_to_document(d: Dossier) -> dict[str, Any]:
    address = d.delivery.address
    return {
        "_id": d.code,
        "procedure_code": d.procedure_code,
        "procedure_name": d.procedure_name,
        "agency_code": d.agency_code,
        "applicant_citizen_id": d.applicant_citizen_id,
        "channel": d.channel.value,
        "payment_method": d.payment_method.value,
        "delivery": {
            "method": d.delivery.method.value,
            "address": None if address is None else {
                "street": address.street, "commune": address.commune, "district": address.district,
                "province": address.province},
            "recipient_name": d.delivery.recipient_name,
            "recipient_phone": d.delivery.recipient_phone,
        },
        "fee_vnd": d.fee_vnd,
        "legal_deadline_working_days": d.legal_deadline_working_days,
        "documents": [{"document_code": x.document_code, "file_name": x.file_name, "sha256": x.sha256,
                       "size_bytes": x.size_bytes} for x in d.documents],
        "submitted_at": d.submitted_at,
        "status": d.status.value,
        "accepted_at": d.accepted_at,
        "due_date": d.due_date.isoformat() if d.due_date else None,
        "paused_working_days": d.paused_working_days,
        "supplement_requested_at": d.supplement_requested_at,
        "missing_document_codes": list(d.missing_document_codes),
        "result_issued_at": d.result_issued_at,
        "result_document_number": d.result_document_number,
        "completed_at": d.completed_at,
        "timeliness": d.timeliness.value,
        "rejection_reason": d.rejection_reason,
        "history": [{"at": h.at, "status": h.status.value, "actor": h.actor, "note": h.note}
                    for h in d.history],
    }


def dossier_from_document(doc: dict[str, Any]) -> Dossier:
    delivery = doc["delivery"]
    address = delivery.get("address")
    return Dossier(
        code=doc["_id"],
        procedure_code=doc["procedure_code"],
        procedure_name=doc["procedure_name"],
        agency_code=doc["agency_code"],
        applicant_citizen_id=doc["applicant_citizen_id"],
        channel=Channel(doc["channel"]),
        payment_method=PaymentMethod(doc["payment_method"]),
        delivery=Delivery(
            method=DeliveryMethod(delivery["method"]),
            address=Address(**address) if address else None,
            recipient_name=delivery.get("recipient_name", ""),
            recipient_phone=delivery.get("recipient_phone", ""),
        ),
        fee_vnd=int(doc["fee_vnd"]),
        legal_deadline_working_days=int(doc["legal_deadline_working_days"]),
        documents=tuple(SubmittedDocument(**x) for x in doc.get("documents", [])),
        submitted_at=doc["submitted_at"],
        status=DossierStatus(doc["status"]),
        accepted_at=doc.get("accepted_at"),
        due_date=date.fromisoformat(doc["due_date"]) if doc.get("due_date") else None,
        paused_working_days=int(doc.get("paused_working_days", 0)),
        supplement_requested_at=doc.get("supplement_requested_at"),
        missing_document_codes=tuple(doc.get("missing_document_codes", [])),
        result_issued_at=doc.get("result_issued_at"),
        result_document_number=doc.get("result_document_number", ""),
        completed_at=doc.get("completed_at"),
        timeliness=Timeliness(doc.get("timeliness", Timeliness.UNSETTLED.value)),
        rejection_reason=doc.get("rejection_reason", ""),
        history=[HistoryEntry(at=h["at"], status=DossierStatus(h["status"]), actor=h["actor"],
                              note=h.get("note", "")) for h in doc.get("history", [])],
    )
