"""The catalogue store in memory: the same contract as MongoCatalogueStore (tests/unit/procedures/
catalogue_store_contract.py runs against both), for tests and tools that need no database."""

import threading
from dataclasses import replace
from datetime import datetime

from services.procedures.adapters.catalogue_store import (
    CatalogueStore,
    Reader,
    Revision,
    UnitsRecord,
    conflict,
)
from services.procedures.domain.catalogue import CatalogueVersion
from services.procedures.domain.catalogue_import import CataloguePlan
from services.procedures.domain.procedure import Procedure
from services.procedures.domain.unit_file import UnitFile


class InMemoryCatalogueStore(CatalogueStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = CatalogueVersion()
        self._trees: dict[str, tuple[UnitFile, datetime]] = {}
        self._procedures: dict[str, Procedure] = {}
        self._history: list[tuple[int, Procedure]] = []
        self._revisions: list[Revision] = []
        self._readers: dict[str, Reader] = {}

    def version(self) -> CatalogueVersion:
        return self._version

    def unit_file(self, version: str) -> UnitFile | None:
        kept = self._trees.get(version)
        return kept[0] if kept else None

    def unit_files(self) -> list[UnitsRecord]:
        return [UnitsRecord(f.tree.version, f.as_of, f.tree.tiers, len(f.tree.units), at)
                for f, at in sorted(self._trees.values(), key=lambda kept: kept[1])]

    def procedures(self) -> dict[str, Procedure]:
        return dict(self._procedures)

    def history(self, code: str) -> list[tuple[int, Procedure]]:
        return [(revision, p) for revision, p in self._history if p.code == code]

    def revisions(self) -> list[Revision]:
        return list(self._revisions)

    def readers(self) -> list[Reader]:
        return sorted(self._readers.values(), key=lambda r: r.reader_id)

    def put_units(self, file: UnitFile, expected: CatalogueVersion, at: datetime) -> CatalogueVersion:
        with self._lock:
            if self._version != expected:
                raise conflict(expected, self._version)
            self._trees.setdefault(file.tree.version, (file, at))
            self._version = replace(self._version, units_version=file.tree.version)
            return self._version

    def publish(self, plan: CataloguePlan, expected: CatalogueVersion, at: datetime,
                file_sha256: str) -> CatalogueVersion:
        with self._lock:
            if self._version != expected:
                raise conflict(expected, self._version)
            revision = self._version.revision + 1
            for procedure in (*plan.added, *(c.procedure for c in plan.changed), *plan.withdrawn):
                self._procedures[procedure.code] = procedure
                self._history.append((revision, procedure))
            self._revisions.append(Revision(
                revision, plan.decision, at, file_sha256, self._version.units_version,
                tuple(p.code for p in plan.added), tuple(c.procedure.code for c in plan.changed),
                tuple(p.code for p in plan.withdrawn)))
            self._version = CatalogueVersion(revision, self._version.units_version, plan.decision.number)
            return self._version

    def record_reader(self, reader_id: str, version: CatalogueVersion, at: datetime) -> None:
        self._readers[reader_id] = Reader(reader_id, version, at)
