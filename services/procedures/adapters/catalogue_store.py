"""Where the catalogue lives: the port, and its MongoDB adapter in the procedures service's database.

Every unit tree ever imported is kept by version (dossiers filed under an older tree still name its
units); every procedure ever imported is kept by code, its latest definition with its decision and,
once withdrawn, the decision that withdrew it; each definition is also kept in the history under the
revision that brought it. One document (`catalogue_state`) says what is in force: each replica of the
service polls it and reloads when it moves, so an import is served without a restart.

An import is one transaction that also moves the state document, conditional on the state it was
planned against: a crash loses the whole import or keeps all of it, and of two imports racing, the
second is refused and can simply be run again.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, InsertOne, MongoClient, ReplaceOne, UpdateOne
from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.common.errors import FailedPrecondition
from services.procedures.domain.catalogue import CatalogueVersion
from services.procedures.domain.catalogue_file import Decision, procedure_from_row, procedure_to_row
from services.procedures.domain.catalogue_import import CataloguePlan
from services.procedures.domain.procedure import Procedure
from services.procedures.domain.unit_file import UnitFile, parse_units

STATE, UNIT_TREES, PROCEDURES = "catalogue_state", "unit_trees", "catalogue_procedures"
HISTORY, REVISIONS, READERS = "catalogue_history", "catalogue_revisions", "catalogue_readers"
IN_FORCE = "in_force"


@dataclass(frozen=True)
class Revision:
    """One catalogue import that changed something."""

    revision: int
    decision: Decision
    imported_at: datetime
    file_sha256: str
    units_version: str
    added: tuple[str, ...]
    changed: tuple[str, ...]
    withdrawn: tuple[str, ...]


@dataclass(frozen=True)
class UnitsRecord:
    version: str
    as_of: date
    tiers: tuple[str, ...]
    units: int
    imported_at: datetime


@dataclass(frozen=True)
class Reader:
    """A running replica of the service and the version it serves."""

    reader_id: str
    version: CatalogueVersion
    seen_at: datetime


def conflict(expected: CatalogueVersion, found: CatalogueVersion) -> FailedPrecondition:
    return FailedPrecondition("catalogue", f"another import changed the catalogue while this one ran (revision "
                                           f"{expected.revision} → {found.revision}, units {expected.units_version!r} "
                                           f"→ {found.units_version!r}): run it again")


class CatalogueStore(ABC):
    @abstractmethod
    def version(self) -> CatalogueVersion:
        """What is in force; revision 0 and no units before anything is imported."""

    @abstractmethod
    def unit_file(self, version: str) -> UnitFile | None: ...

    @abstractmethod
    def unit_files(self) -> list[UnitsRecord]:
        """Every unit tree imported, oldest first."""

    @abstractmethod
    def procedures(self) -> dict[str, Procedure]:
        """Every procedure ever imported, by code: the latest definition, withdrawn ones flagged."""

    @abstractmethod
    def history(self, code: str) -> list[tuple[int, Procedure]]:
        """Every definition of procedure `code` with the revision that brought it, oldest first."""

    @abstractmethod
    def revisions(self) -> list[Revision]:
        """Every catalogue import that changed something, oldest first."""

    @abstractmethod
    def put_units(self, file: UnitFile, expected: CatalogueVersion, at: datetime) -> CatalogueVersion:
        """Keep the tree (if new) and put it in force; refused if the state is no longer `expected`."""

    @abstractmethod
    def publish(self, plan: CataloguePlan, expected: CatalogueVersion, at: datetime,
                file_sha256: str) -> CatalogueVersion:
        """Apply the plan as the next revision; refused if the state is no longer `expected`."""

    @abstractmethod
    def record_reader(self, reader_id: str, version: CatalogueVersion, at: datetime) -> None: ...

    @abstractmethod
    def readers(self) -> list[Reader]: ...


class MongoCatalogueStore(CatalogueStore):
    def __init__(self, client: MongoClient[Any], db_name: str) -> None:
        self._client = client
        self._db: Database[Any] = client[db_name]

    def ensure_indexes(self) -> None:
        self._db[HISTORY].create_index([("code", ASCENDING), ("revision", ASCENDING)])

    # -- reads -----------------------------------------------------------------------------------------
    def version(self, session: ClientSession | None = None) -> CatalogueVersion:
        doc = self._db[STATE].find_one({"_id": IN_FORCE}, session=session)
        if doc is None:
            return CatalogueVersion()
        return CatalogueVersion(int(doc["revision"]), doc["units_version"], doc.get("decision", ""))

    def unit_file(self, version: str) -> UnitFile | None:
        doc = self._db[UNIT_TREES].find_one({"_id": version})
        return parse_units(doc["file"]) if doc else None

    def unit_files(self) -> list[UnitsRecord]:
        return [UnitsRecord(d["_id"], date.fromisoformat(d["file"]["as_of"]), tuple(d["file"]["tiers"]),
                            len(d["file"]["units"]), d["imported_at"])
                for d in self._db[UNIT_TREES].find({}).sort("imported_at", ASCENDING)]

    def procedures(self) -> dict[str, Procedure]:
        return {doc["_id"]: _procedure(doc) for doc in self._db[PROCEDURES].find({})}

    def history(self, code: str) -> list[tuple[int, Procedure]]:
        return [(int(doc["revision"]), _procedure(doc))
                for doc in self._db[HISTORY].find({"code": code}).sort("revision", ASCENDING)]

    def revisions(self) -> list[Revision]:
        return [Revision(int(d["_id"]), _decision(d["decision"]),
                         d["imported_at"], d["file_sha256"], d["units_version"], tuple(d["added"]),
                         tuple(d["changed"]), tuple(d["withdrawn"]))
                for d in self._db[REVISIONS].find({}).sort("_id", ASCENDING)]

    def readers(self) -> list[Reader]:
        return [Reader(d["_id"], CatalogueVersion(int(d["revision"]), d["units_version"], d.get("decision", "")),
                       d["seen_at"]) for d in self._db[READERS].find({}).sort("_id", ASCENDING)]

    # -- writes ----------------------------------------------------------------------------------------
    def put_units(self, file: UnitFile, expected: CatalogueVersion, at: datetime) -> CatalogueVersion:
        version = file.tree.version

        def apply(session: ClientSession) -> CatalogueVersion:
            found = self.version(session)
            if found != expected:
                raise conflict(expected, found)
            if self._db[UNIT_TREES].find_one({"_id": version}, {"_id": 1}, session=session) is None:
                self._db[UNIT_TREES].insert_one({"_id": version, "file": dict(file.document), "imported_at": at},
                                                session=session)
            moved = replace(found, units_version=version)
            self._set_state(moved, at, session)
            return moved

        return self._transaction(apply)

    def publish(self, plan: CataloguePlan, expected: CatalogueVersion, at: datetime,
                file_sha256: str) -> CatalogueVersion:
        def apply(session: ClientSession) -> CatalogueVersion:
            found = self.version(session)
            if found != expected:
                raise conflict(expected, found)
            revision = found.revision + 1
            defined = [*plan.added, *(c.procedure for c in plan.changed)]
            # New codes are inserted (an upsert looks each one up first); reinstated and changed ones replaced.
            kept = {d["_id"] for d in self._db[PROCEDURES].find(
                {"_id": {"$in": [p.code for p in plan.added]}}, {"_id": 1}, session=session)}
            new = {p.code for p in plan.added} - kept
            writes: list[Any] = [InsertOne({"_id": p.code, **_document(p, revision)}) if p.code in new
                                 else ReplaceOne({"_id": p.code}, _document(p, revision)) for p in defined]
            writes += [UpdateOne({"_id": p.code}, {"$set": {"withdrawn": True, "withdrawn_by": p.withdrawn_by,
                                                            "revision": revision}}) for p in plan.withdrawn]
            if writes:
                self._db[PROCEDURES].bulk_write(writes, ordered=False, session=session)
                self._db[HISTORY].insert_many(
                    [{**_document(p, revision), "_id": f"{p.code}@{revision}", "code": p.code}
                     for p in (*defined, *plan.withdrawn)], ordered=False, session=session)
            d = plan.decision
            self._db[REVISIONS].insert_one({
                "_id": revision, "decision": {"number": d.number, "date": d.date.isoformat() if d.date else None,
                                              "issuer": d.issuer, "title": d.title, "recorded_in": d.recorded_in},
                "imported_at": at, "file_sha256": file_sha256, "units_version": found.units_version,
                "added": [p.code for p in plan.added], "changed": [c.procedure.code for c in plan.changed],
                "withdrawn": [p.code for p in plan.withdrawn]}, session=session)
            moved = CatalogueVersion(revision, found.units_version, d.number)
            self._set_state(moved, at, session)
            return moved

        return self._transaction(apply)

    def record_reader(self, reader_id: str, version: CatalogueVersion, at: datetime) -> None:
        self._db[READERS].replace_one({"_id": reader_id}, {
            "revision": version.revision, "units_version": version.units_version, "decision": version.decision,
            "seen_at": at}, upsert=True)

    def _set_state(self, version: CatalogueVersion, at: datetime, session: ClientSession) -> None:
        self._db[STATE].replace_one({"_id": IN_FORCE}, {
            "revision": version.revision, "units_version": version.units_version, "decision": version.decision,
            "changed_at": at}, upsert=True, session=session)

    def _transaction(self, apply: Any) -> CatalogueVersion:
        with self._client.start_session() as session:
            result: CatalogueVersion = session.with_transaction(apply)
            return result


def _decision(doc: dict[str, Any]) -> Decision:
    return Decision(doc["number"], date.fromisoformat(doc["date"]) if doc.get("date") else None, doc.get("issuer", ""),
                    doc.get("title", ""), doc.get("recorded_in", ""))


def _document(procedure: Procedure, revision: int) -> dict[str, Any]:
    return {"row": procedure_to_row(procedure), "decision": procedure.decision, "withdrawn": procedure.withdrawn,
            "withdrawn_by": procedure.withdrawn_by, "revision": revision}


def _procedure(doc: dict[str, Any]) -> Procedure:
    procedure = procedure_from_row(doc["row"], doc["decision"])
    if doc.get("withdrawn"):
        return replace(procedure, withdrawn=True, withdrawn_by=doc.get("withdrawn_by", ""))
    return procedure
