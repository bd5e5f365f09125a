"""Operator functions of the catalogue, over the CatalogueStore port: import a unit file or a
catalogue file (or plan it, for `--dry-run`), read the catalogue in force, wait until every running
replica serves a version. `egov-catalogue`, the local stack, the compose job and the benchmark all
call these; none of them writes the catalogue any other way.
"""

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.common.errors import InvalidArgument
from services.procedures.adapters.catalogue_store import CatalogueStore, Reader
from services.procedures.domain.catalogue import Catalogue, CatalogueVersion
from services.procedures.domain.catalogue_file import parse_catalogue
from services.procedures.domain.catalogue_import import Changed, plan_catalogue, plan_units
from services.procedures.domain.procedure import Procedure
from services.procedures.domain.unit_file import UnitFile, parse_units

DATA = Path(__file__).resolve().parent / "data"
# The shipped editions: a unit file and the folder of catalogue files written for it
# (services/procedures/data/README.md). Started with: Huế's three tiers of March 2025, which the district-tier
# procedures and the commune → district hand-over need; 2025-07 is the two-tier tree of 1 July 2025.
EDITIONS = ("2025-03", "2025-07")
DEFAULT_EDITION = "2025-03"
READER_SEEN_WITHIN = timedelta(seconds=15)   # a replica silent longer is taken for stopped


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ImportFile:
    """A file as read from disk: its JSON and its hash (recorded with the import)."""

    path: str
    data: Any
    sha256: str

    @classmethod
    def read(cls, path: Path) -> "ImportFile":
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InvalidArgument("FILE", f"{path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidArgument("FILE", f"{path} is not JSON in UTF-8: {exc}") from None
        return cls(str(path), data, hashlib.sha256(raw).hexdigest())


@dataclass(frozen=True)
class UnitsReport:
    version: str
    dry_run: bool
    applied: bool                       # False: dry run, or this tree was in force already
    tiers: tuple[str, ...]
    units: int
    agencies: int
    added_units: tuple[str, ...]
    removed_units: tuple[str, ...]
    renamed_units: tuple[str, ...]
    warnings: tuple[str, ...]
    in_force: CatalogueVersion


def import_units(store: CatalogueStore, file: ImportFile, dry_run: bool = False,
                 now: Callable[[], datetime] = _now) -> UnitsReport:
    unit_file = parse_units(file.data)
    tree = unit_file.tree
    in_force = store.version()
    current = store.unit_file(in_force.units_version) if in_force.units_version else None
    stored = store.unit_file(tree.version)
    plan = plan_units(current.tree if current else None, stored.tree if stored else None, tree, store.procedures())
    applied = not dry_run and not plan.unchanged
    if applied:
        in_force = store.put_units(unit_file, in_force, now())
    return UnitsReport(tree.version, dry_run, applied, tree.tiers, len(tree.units), len(tree.agencies),
                       plan.added_units, plan.removed_units, plan.renamed_units, plan.warnings, in_force)


@dataclass(frozen=True)
class CatalogueReport:
    decision: str
    dry_run: bool
    applied: bool                       # False: dry run, or nothing to change
    added: tuple[Procedure, ...]
    changed: tuple[Changed, ...]
    withdrawn: tuple[Procedure, ...]
    unchanged: int
    in_force: CatalogueVersion
    seconds: float = 0.0
    served_by: tuple[Reader, ...] = field(default=())


def import_catalogue(store: CatalogueStore, file: ImportFile, decision: str, dry_run: bool = False,
                     now: Callable[[], datetime] = _now) -> CatalogueReport:
    """Refused whole (nothing written) for a bad row, a decision that is not the file's, or units
    not imported yet."""
    return _Importer(store, now).run(file, decision, dry_run)


class _Importer:
    """Imports catalogue files one after the other, reading what the store holds once: the shipped
    data is a hundred files, and each import would otherwise read every procedure back."""

    def __init__(self, store: CatalogueStore, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now
        self.procedures = store.procedures()
        self.decisions = {r.decision.number: r.revision for r in store.revisions()}
        self.trees: dict[str, UnitFile | None] = {}

    def run(self, file: ImportFile, decision: str, dry_run: bool) -> CatalogueReport:
        started = time.perf_counter()
        in_force = self.store.version()
        if not in_force.units_version:
            raise InvalidArgument("units", "no unit tree is in force: import a unit file first "
                                           "(egov-catalogue units import FILE)")
        if in_force.units_version not in self.trees:
            self.trees[in_force.units_version] = self.store.unit_file(in_force.units_version)
        unit_file = self.trees[in_force.units_version]
        if unit_file is None:
            raise InvalidArgument("units", f"unit tree {in_force.units_version} is in force but not stored")
        parsed = parse_catalogue(file.data, unit_file.tree)
        if not decision.strip():
            raise InvalidArgument("decision", "is required: the number of the decision that publishes the file")
        if parsed.decision.number != decision.strip():
            raise InvalidArgument("decision", f"the file is published by decision {parsed.decision.number!r}, "
                                              f"not {decision.strip()!r}")
        plan = plan_catalogue(self.procedures, parsed, self.decisions)
        applied = not dry_run and not plan.is_empty
        if applied:
            in_force = self.store.publish(plan, in_force, self.now(), file.sha256)
            for procedure in (*plan.added, *(c.procedure for c in plan.changed), *plan.withdrawn):
                self.procedures[procedure.code] = procedure
            self.decisions[parsed.decision.number] = in_force.revision
        return CatalogueReport(decision.strip(), dry_run, applied, plan.added, plan.changed, plan.withdrawn,
                               plan.unchanged, in_force, time.perf_counter() - started)


def load_catalogue(store: CatalogueStore) -> Catalogue:
    """The catalogue in force as one snapshot; read again if an import lands while reading."""
    while True:
        version = store.version()
        unit_file = store.unit_file(version.units_version) if version.units_version else None
        procedures = store.procedures().values()
        if store.version() == version:
            if unit_file is None:
                return Catalogue.empty()

            def older(units_version: str) -> Any:
                kept = store.unit_file(units_version)
                return kept.tree if kept else None

            return Catalogue(unit_file.tree, procedures, version, older)


def entries_in_force(catalogue: Catalogue) -> int:
    return sum(len(catalogue.implementing_units(p)) for p in catalogue.index.procedures if not p.withdrawn)


def shipped_files(edition: str = DEFAULT_EDITION) -> tuple[Path, list[Path]]:
    """The unit file and the catalogue files (in name order) of a shipped edition."""
    if edition not in EDITIONS:
        raise InvalidArgument("edition", f"{edition!r} is not a shipped edition ({', '.join(EDITIONS)})")
    return DATA / "units" / f"hue-{edition}.json", sorted((DATA / "catalogue" / edition).glob("*.json"))


def import_shipped(store: CatalogueStore, edition: str = DEFAULT_EDITION) -> tuple[UnitsReport, list[CatalogueReport]]:
    """A shipped edition's unit file, then its catalogue files, each under its own decision: what
    `make run` and compose do at start. Idempotent, so every start may run it."""
    units_file, catalogue_files = shipped_files(edition)
    units = import_units(store, ImportFile.read(units_file))
    importer = _Importer(store, _now)
    reports = []
    for path in catalogue_files:
        file = ImportFile.read(path)
        number = (file.data.get("decision") or {}).get("number", "") if isinstance(file.data, dict) else ""
        reports.append(importer.run(file, str(number), dry_run=False))
    return units, reports


def wait_until_served(store: CatalogueStore, version: CatalogueVersion, timeout: float,
                      now: Callable[[], datetime] = _now) -> tuple[Reader, ...]:
    """The running replicas once all of them serve `version` (or later); TimeoutError naming the
    ones that do not. No replica running is not an error: each loads the version in force at start."""
    deadline = time.monotonic() + timeout
    while True:
        live = [r for r in store.readers() if now() - r.seen_at <= READER_SEEN_WITHIN]
        behind = [r for r in live if r.version.revision < version.revision or (
            r.version.revision == version.revision and r.version.units_version != version.units_version)]
        if not behind:
            return tuple(live)
        if time.monotonic() > deadline:
            names = ", ".join(f"{r.reader_id} (revision {r.version.revision})" for r in behind)
            raise TimeoutError(f"not serving revision {version.revision} after {timeout:.0f} s: {names}")
        time.sleep(0.1)
