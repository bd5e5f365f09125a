"""The supervision database: each dossier's facts, and the counters per (scope, month).

`dossiers`: one document per dossier, the DossierFacts (services/supervision/domain/facts.py).
`counters`: `_id` "<scope>|<month>" (or "<scope>|open"), with `scope`, `bucket` and the counters;
histograms and appointment dates as nested documents (`days.3`, `due.2026-01-05`).

Handlers reach both through `tx.repository(...)`, queries through `store.repository(...)`; their
in-memory twins are in services/supervision/fakes.py, held to the same contract by
tests/contract/test_supervision_ports.py.
"""

from dataclasses import asdict, fields
from typing import Any

from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.supervision.domain.access import Kind, Scope
from services.supervision.domain.facts import Apology, DossierFacts
from services.supervision.domain.index import Buckets

DOSSIERS = "dossiers"
COUNTERS = "counters"
_FIELDS = {f.name for f in fields(DossierFacts)}
# Where each kind of scope is found on a dossier's document.
_DOSSIER_FIELD = {Kind.UNIT: "units", Kind.AGENCY: "competent_agency", Kind.RECEIVING: "receiving_agency",
                  Kind.PROCEDURE: "procedure_code"}


def ensure_indexes(db: Database[Any]) -> None:
    db[COUNTERS].create_index([("scope", ASCENDING), ("bucket", ASCENDING)])    # GetIndex's read: see find
    db[DOSSIERS].create_index([("units", ASCENDING), ("open", ASCENDING), ("due_date", ASCENDING)])
    db[DOSSIERS].create_index([("apology_units", ASCENDING), ("last_apology_on", ASCENDING)])


def counter_id(scope: str, bucket: str) -> str:
    return f"{scope}|{bucket}"


def to_doc(f: DossierFacts) -> dict[str, Any]:
    doc = asdict(f)
    doc["_id"] = doc.pop("code")
    doc["apologies"] = [asdict(a) for a in f.apologies]
    doc["extensions"] = [list(e) for e in f.extensions]
    doc["pauses"] = [list(p) for p in f.pauses]
    doc["units"] = list(f.units)
    doc["open"] = f.is_open             # for the overdue list's index
    doc["apology_units"] = list(f.units) if f.apologies else []
    doc["last_apology_on"] = max((a.on for a in f.apologies), default="")
    return doc


def from_doc(doc: dict[str, Any]) -> DossierFacts:
    values = {k: v for k, v in doc.items() if k in _FIELDS}
    values["code"] = doc["_id"]
    values["units"] = tuple(doc.get("units", ()))
    values["apologies"] = tuple(Apology(**a) for a in doc.get("apologies", ()))
    values["extensions"] = tuple((e[0], e[1]) for e in doc.get("extensions", ()))
    values["pauses"] = tuple((p[0], int(p[1])) for p in doc.get("pauses", ()))
    return DossierFacts(**values)


class DossierFactsRepository:
    """Each dossier's facts, and the dossiers the lists read (overdue, apologised)."""

    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._dossiers = db[DOSSIERS]
        self._session = session

    def find(self, code: str) -> DossierFacts | None:
        doc = self._dossiers.find_one({"_id": code}, session=self._session)
        return from_doc(doc) if doc else None

    def find_many(self, codes: list[str]) -> dict[str, DossierFacts]:
        """The facts of those of these dossiers that have any, by code: one query."""
        found = self._dossiers.find({"_id": {"$in": codes}}, session=self._session)
        return {doc["_id"]: from_doc(doc) for doc in found}

    def save(self, facts: DossierFacts) -> None:
        self._dossiers.replace_one({"_id": facts.code}, to_doc(facts), upsert=True, session=self._session)

    def save_many(self, facts: list[DossierFacts]) -> None:
        """Each replaced whole (or inserted), in one bulk write."""
        if facts:
            self._dossiers.bulk_write([ReplaceOne({"_id": f.code}, to_doc(f), upsert=True) for f in facts],
                                      ordered=False, session=self._session)

    def overdue(self, scope: Scope, before: str, limit: int) -> tuple[int, list[DossierFacts]]:
        """How many of the scope's open dossiers are due before `before` (YYYY-MM-DD), and the first
        `limit` of them by due date (then code)."""
        query = {_DOSSIER_FIELD[scope.kind]: scope.code, "open": True, "due_date": {"$lt": before, "$gt": ""}}
        total = self._dossiers.count_documents(query, session=self._session)
        found = self._dossiers.find(query, session=self._session).sort([("due_date", 1), ("_id", 1)]).limit(limit)
        return total, [from_doc(d) for d in found]

    def apologised_since(self, scope: Scope, since: str) -> list[DossierFacts]:
        """The scope's dossiers with an apology issued on or after `since` (YYYY-MM-DD), in no order."""
        field = "apology_units" if scope.kind is Kind.UNIT else _DOSSIER_FIELD[scope.kind]
        found = self._dossiers.find({field: scope.code, "last_apology_on": {"$gte": since}}, session=self._session)
        return [from_doc(d) for d in found]

    def procedure_name(self, procedure_code: str) -> str:
        """The name a dossier of the procedure carried, "" when none was seen."""
        doc = self._dossiers.find_one({"procedure_code": procedure_code}, {"procedure_name": 1},
                                      session=self._session)
        return str(doc.get("procedure_name", "")) if doc else ""


class CounterRepository:
    """The counters per scope and bucket (a month, or the in-progress snapshot)."""

    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._counters = db[COUNTERS]
        self._session = session

    def add(self, delta: Buckets) -> None:
        """Move every counter an event touched in one bulk write (unordered: each upsert is on its own
        document, so none waits for another; the transaction makes them all or none)."""
        if not delta:
            return
        self._counters.bulk_write(
            [UpdateOne({"_id": counter_id(scope, bucket)},
                       {"$inc": counters, "$setOnInsert": {"scope": scope, "bucket": bucket}}, upsert=True)
             for (scope, bucket), counters in sorted(delta.items())],
            ordered=False, session=self._session)

    def find(self, scopes: list[str], buckets: list[str]) -> dict[str, dict[str, Any]]:
        """The counter documents of every scope in every bucket, those that exist, by id; nested
        counters as nested dicts. Read through the (scope, bucket) index: on SecantusDB an `_id $in`
        of the same 322 ids (the city, its 22 children, 14 buckets) took 104 ms, this 33 ms."""
        found = self._counters.find({"scope": {"$in": scopes}, "bucket": {"$in": buckets}}, session=self._session)
        return {d["_id"]: d for d in found}
