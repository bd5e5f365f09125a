"""The procedures database: dossiers keyed by code, the day counters that number them, and the read
model of registered citizens. Documents in and out; the rules live in the domain."""

from dataclasses import asdict
from datetime import date, datetime, time
from typing import Any

from pymongo import ASCENDING
from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.common.mongo_store import Transaction
from services.common.roles import Role
from services.procedures.domain.applicants import Applicant, Authorisation, Proxy, Verified
from services.procedures.domain.application import (
    Address,
    Channel,
    Delivery,
    DeliveryMethod,
    PaymentMethod,
    SubmittedDocument,
)
from services.procedures.domain.dossier import (
    CLOCK_RUNNING,
    OPEN,
    Apology,
    Assignment,
    Dossier,
    DossierStatus,
    Extension,
    HistoryEntry,
    Slip,
    SlipForm,
    Timeliness,
    Transfer,
)
from services.procedures.domain.procedure import ApplicantKind, Deadline, DeadlineKind, ProcessStep
from services.procedures.domain.queue import QueueQuery, queue_position

DOSSIERS = "dossiers"
DAY_COUNTERS = "dossier_day_counters"
CITIZENS = "citizens"
DEADLINE_ALERTS = "deadline_alerts"    # one document per alert emitted: its key is the _id


def ensure_indexes(db: Database[Any]) -> None:
    # Every dossier has a request key (the caller's idempotency key, or its own code), so a plain
    # unique index makes a retried submission find the first dossier.
    db[DOSSIERS].create_index([("request_key", ASCENDING)], unique=True)
    db[DOSSIERS].create_index([("parties", ASCENDING), ("queue_key", ASCENDING)])
    db[DOSSIERS].create_index([("agencies", ASCENDING), ("queue_key", ASCENDING)])
    db[DOSSIERS].create_index([("units", ASCENDING), ("queue_key", ASCENDING)])
    db[DOSSIERS].create_index([("status", ASCENDING), ("due_date", ASCENDING)])
    db[DOSSIERS].create_index([("status", ASCENDING), ("watched_due_date", ASCENDING)])


class DossierRepository:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    @classmethod
    def within(cls, tx: Transaction) -> "DossierRepository":
        return tx.repository(cls)

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

    def queue(self, query: QueueQuery, after: str, limit: int) -> list[Dossier]:
        """The dossiers the query matches (QueueQuery.matches), in queue order (queue_position),
        those after the position `after` ("" from the start), at most `limit`."""
        found = _queue_filter(query)
        if after:
            found = {"$and": [found, {"queue_key": {"$gt": after}}]}
        docs = self._db[DOSSIERS].find(found, session=self._session).sort("queue_key", ASCENDING).limit(limit)
        return [dossier_from_document(doc) for doc in docs]

    def codes_to_watch(self, horizon: date, after: str, limit: int) -> list[str]:
        """Codes of dossiers whose clock runs with a watched deadline on or before `horizon`, in code
        order after `after`. The earliest watched deadline is often the current step's, weeks before
        the appointment; a dossier not saved since that date was stored is found by its appointment."""
        day = horizon.isoformat()
        query: dict[str, Any] = {"status": {"$in": [s.value for s in CLOCK_RUNNING]},
                                 "$or": [{"watched_due_date": {"$ne": None, "$lte": day}},
                                         {"due_date": {"$ne": None, "$lte": day}}]}
        if after:
            query["_id"] = {"$gt": after}
        docs = self._db[DOSSIERS].find(query, {"_id": 1}, session=self._session).sort("_id", ASCENDING).limit(limit)
        return [str(doc["_id"]) for doc in docs]

    def next_sequence(self, agency_code: str, day: date) -> int:
        """The receiving unit's next dossier number of the day. Concurrent submissions to one unit write
        the same counter, so their transactions conflict and one is retried: no number is used twice."""
        key = f"{agency_code}:{day.isoformat()}"
        counters = self._db[DAY_COUNTERS]
        counters.update_one({"_id": key}, {"$inc": {"sequence": 1}}, upsert=True, session=self._session)
        doc = counters.find_one({"_id": key}, session=self._session)
        return int(doc["sequence"]) if doc else 1


class DeadlineAlerts:
    """The alerts the watch has emitted. Written in the transaction that writes the event to the outbox;
    the key is unique, so two replicas or a restarted sweep never emit one alert twice."""

    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    @classmethod
    def within(cls, tx: Transaction) -> "DeadlineAlerts":
        return cls(tx.db, tx.session)

    def emitted(self, key: str) -> bool:
        return self._db[DEADLINE_ALERTS].find_one({"_id": key}, {"_id": 1}, session=self._session) is not None

    def record(self, key: str, dossier_code: str, at: datetime) -> None:
        """Raises DuplicateKeyError when another transaction recorded it first."""
        self._db[DEADLINE_ALERTS].insert_one({"_id": key, "dossier_code": dossier_code, "at": at},
                                             session=self._session)


class CitizenRegistry:
    """Citizens identity has registered, as told by its CitizenRegistered events."""

    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    @classmethod
    def within(cls, tx: Transaction) -> "CitizenRegistry":
        return tx.repository(cls)

    def record(self, citizen_id: str, full_name: str, registered_at: datetime) -> None:
        self._db[CITIZENS].update_one(
            {"_id": citizen_id},
            {"$set": {"full_name": full_name, "registered_at": registered_at}},
            upsert=True, session=self._session)

    def is_registered(self, citizen_id: str) -> bool:
        return self._db[CITIZENS].find_one({"_id": citizen_id}, {"_id": 1}, session=self._session) is not None

    def full_name(self, citizen_id: str) -> str | None:
        doc = self._db[CITIZENS].find_one({"_id": citizen_id}, {"full_name": 1}, session=self._session)
        return str(doc["full_name"]) if doc else None


def _queue_filter(query: QueueQuery) -> dict[str, Any]:
    """QueueQuery.matches as a MongoDB filter on the dossier documents."""
    seen: list[dict[str, Any]] = []
    if query.parties:
        seen.append({"parties": {"$in": list(query.parties)}})
    if query.visible_agencies:
        seen.append({"agencies": {"$in": list(query.visible_agencies)}})
    if query.supervised_units:
        seen.append({"units": {"$in": list(query.supervised_units)}})
    clauses: list[dict[str, Any]] = [{"$or": seen} if seen else {"_id": {"$exists": False}}]
    for field in ("receiving_agency_code", "competent_agency_code", "handling_agency_code", "assignee"):
        value = getattr(query, field)
        if value:
            clauses.append({field: value})
    if query.status is not None:
        clauses.append({"status": query.status.value})
    if query.applicant_id:
        clauses.append({"parties": query.applicant_id})
    if query.due_before is not None:
        clauses.append({"due_date": {"$ne": None, "$lt": query.due_before.isoformat()}})
    if query.overdue_on is not None:
        # Dossier.overdue_on as a filter: the earliest deadline the watch looks at has passed. A dossier
        # not saved since that date was stored is judged by its appointment, as the watch was then.
        day = query.overdue_on.isoformat()
        clauses.append({"$or": [
            {"watched_due_date": {"$ne": None, "$lt": day}},
            {"watched_due_date": {"$exists": False}, "due_date": {"$ne": None, "$lt": day},
             "status": {"$in": [s.value for s in CLOCK_RUNNING]}}]})
    return {"$and": clauses}


# -- documents -------------------------------------------------------------------------------------
def _steps_doc(steps: tuple[ProcessStep, ...]) -> list[dict[str, Any]]:
    return [{"name": s.name, "owner": s.owner, "role": s.role.value, "working_days": s.working_days} for s in steps]


def dossier_to_document(d: Dossier) -> dict[str, Any]:
    address = d.delivery.address
    a, p = d.applicant, d.proxy
    return {
        "_id": d.code,
        "procedure_code": d.procedure_code,
        "procedure_name": d.procedure_name,
        "unit_code": d.unit_code,
        "units": list(d.units),
        "receiving_agency_code": d.receiving_agency_code,
        "competent_agency_code": d.competent_agency_code,
        "handling_agency_code": d.handling_agency_code,
        "agency_code": d.agency_code,
        "agencies": list(d.agencies),
        "applicant": {"kind": a.kind.value, "id_number": a.id_number, "full_name": a.full_name,
                      "birth_date": a.birth_date, "nationality": a.nationality,
                      "representative_id": a.representative_id, "phone": a.phone, "email": a.email,
                      "verified": a.verified.value},
        "proxy": None if p is None else {
            "citizen_id": p.citizen_id, "full_name": p.full_name,
            "authorisation": None if p.authorisation is None else asdict(p.authorisation)},
        "parties": list(d.parties),
        "applicant_citizen_id": d.applicant_citizen_id,
        "channel": d.channel.value,
        "payment_method": d.payment_method.value,
        "fee_category": d.fee_category,
        "fee_vnd": d.fee_vnd,
        "fee_paid": d.fee_paid,
        "delivery": {
            "method": d.delivery.method.value,
            "address": None if address is None else asdict(address),
            "recipient_name": d.delivery.recipient_name,
            "recipient_phone": d.delivery.recipient_phone,
        },
        "deadline": {"kind": d.deadline.kind.value, "days": d.deadline.days,
                     "cutoff": d.deadline.cutoff.isoformat() if d.deadline.cutoff else None},
        "steps": _steps_doc(d.steps),
        "step_index": d.step_index,
        "documents": [asdict(x) for x in d.documents],
        "submitted_at": d.submitted_at,
        "status": d.status.value,
        "accepted_at": d.accepted_at,
        "due_date": d.due_date.isoformat() if d.due_date else None,
        # The queue's order: dossiers waiting at the desk (no due date yet) first, then by due date.
        "queue_key": queue_position(d),
        "open": d.status in OPEN,
        # The work queue's overdue filter: the deadline watch's earliest date (None when the clock stands).
        "watched_due_date": _iso_day(d.earliest_watched_due()),
        "paused_working_days": d.paused_working_days,
        "supplement_requested_at": d.supplement_requested_at,
        "missing_document_codes": list(d.missing_document_codes),
        "reception_returns": d.reception_returns,
        "processing_supplements": d.processing_supplements,
        "assignee": d.assignee,
        "result_issued_at": d.result_issued_at,
        "result_document_number": d.result_document_number,
        "completed_at": d.completed_at,
        "timeliness": d.timeliness.value,
        "rejection_reason": d.rejection_reason,
        "history": [{"at": h.at, "status": h.status.value, "actor": h.actor, "note": h.note} for h in d.history],
        "assignments": [asdict(x) for x in d.assignments],
        "transfers": [asdict(x) for x in d.transfers],
        "legal_due_date": d.legal_due_date.isoformat() if d.legal_due_date else None,
        "apologies": [{**asdict(x), "previous_due_date": x.previous_due_date.isoformat(),
                       "new_due_date": x.new_due_date.isoformat()} for x in d.apologies],
        "extensions": [{**asdict(x), "previous_due_date": x.previous_due_date.isoformat(),
                        "new_due_date": x.new_due_date.isoformat()} for x in d.extensions],
        "returned_to_desk_at": d.returned_to_desk_at,
        "slips": [{"form": x.form.value, "issued_at": x.issued_at, "issued_by": x.issued_by, "items": list(x.items),
                   "due_date": x.due_date.isoformat() if x.due_date else None} for x in d.slips],
    }


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso_day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def dossier_from_document(doc: dict[str, Any]) -> Dossier:
    delivery, a, p, dl = doc["delivery"], doc["applicant"], doc.get("proxy"), doc["deadline"]
    address = delivery.get("address")
    return Dossier(
        code=doc["_id"], procedure_code=doc["procedure_code"], procedure_name=doc["procedure_name"],
        unit_code=doc["unit_code"], units=tuple(doc["units"]),
        receiving_agency_code=doc["receiving_agency_code"], competent_agency_code=doc["competent_agency_code"],
        handling_agency_code=doc["handling_agency_code"],
        applicant=Applicant(kind=ApplicantKind(a["kind"]), id_number=a["id_number"], full_name=a["full_name"],
                            birth_date=a["birth_date"], nationality=a["nationality"],
                            representative_id=a["representative_id"], phone=a["phone"], email=a["email"],
                            verified=Verified(a["verified"])),
        proxy=None if p is None else Proxy(
            p["citizen_id"], p["full_name"], Authorisation(**p["authorisation"]) if p["authorisation"] else None),
        channel=Channel(doc["channel"]), payment_method=PaymentMethod(doc["payment_method"]),
        fee_category=doc["fee_category"], fee_vnd=int(doc["fee_vnd"]),
        delivery=Delivery(method=DeliveryMethod(delivery["method"]), address=Address(**address) if address else None,
                          recipient_name=delivery.get("recipient_name", ""),
                          recipient_phone=delivery.get("recipient_phone", "")),
        deadline=Deadline(DeadlineKind(dl["kind"]), int(dl["days"]),
                          time.fromisoformat(dl["cutoff"]) if dl.get("cutoff") else None),
        steps=tuple(ProcessStep(s["name"], s["owner"], Role(s["role"]), float(s["working_days"]))
                    for s in doc["steps"]),
        documents=tuple(SubmittedDocument(**x) for x in doc.get("documents", [])),
        submitted_at=doc["submitted_at"], status=DossierStatus(doc["status"]), fee_paid=bool(doc["fee_paid"]),
        accepted_at=doc.get("accepted_at"), due_date=_day(doc.get("due_date")), step_index=int(doc["step_index"]),
        paused_working_days=int(doc.get("paused_working_days", 0)),
        supplement_requested_at=doc.get("supplement_requested_at"),
        missing_document_codes=tuple(doc.get("missing_document_codes", [])),
        reception_returns=int(doc["reception_returns"]), processing_supplements=int(doc["processing_supplements"]),
        assignee=doc["assignee"], result_issued_at=doc.get("result_issued_at"),
        result_document_number=doc.get("result_document_number", ""), completed_at=doc.get("completed_at"),
        timeliness=Timeliness(doc.get("timeliness", Timeliness.UNSETTLED.value)),
        rejection_reason=doc.get("rejection_reason", ""), agencies=tuple(doc["agencies"]),
        history=[HistoryEntry(at=h["at"], status=DossierStatus(h["status"]), actor=h["actor"],
                              note=h.get("note", "")) for h in doc.get("history", [])],
        assignments=[Assignment(**x) for x in doc.get("assignments", [])],
        transfers=[Transfer(**x) for x in doc.get("transfers", [])],
        slips=[Slip(SlipForm(x["form"]), x["issued_at"], x["issued_by"], tuple(x["items"]), _day(x["due_date"]))
               for x in doc.get("slips", [])],
        legal_due_date=_day(doc.get("legal_due_date")),
        apologies=[Apology(**{**x, "previous_due_date": date.fromisoformat(x["previous_due_date"]),
                              "new_due_date": date.fromisoformat(x["new_due_date"])})
                   for x in doc.get("apologies", [])],
        extensions=[Extension(**{**x, "previous_due_date": date.fromisoformat(x["previous_due_date"]),
                                 "new_due_date": date.fromisoformat(x["new_due_date"])})
                    for x in doc.get("extensions", [])],
        returned_to_desk_at=doc.get("returned_to_desk_at"),
    )
