"""The catalogue as the operator reads it: reports and records as plain rows, with the field names
`egov-catalogue --output json` prints (stable, documented in docs/ONE_STOP.md)."""

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from services.procedures.adapters.catalogue_store import CatalogueStore
from services.procedures.catalogue_admin import (
    READER_SEEN_WITHIN,
    CatalogueReport,
    UnitsReport,
    entries_in_force,
    load_catalogue,
)
from services.procedures.desk_admin import DeskChange
from services.procedures.domain.catalogue import Catalogue, ProcedureQuery
from services.procedures.domain.catalogue_file import procedure_to_row
from services.procedures.domain.desks import Desk
from services.procedures.domain.procedure import CatalogueEntry, Procedure
from services.procedures.domain.units import Unit

Row = dict[str, Any]


def units_report(report: UnitsReport) -> Row:
    changes = (f"{report.units} units, {report.agencies} agencies, tiers {' > '.join(report.tiers)}; "
               f"+{len(report.added_units)} -{len(report.removed_units)} ~{len(report.renamed_units)} units")
    return {"file": "units", "version": report.version, "dry_run": report.dry_run, "applied": report.applied,
            "summary": changes if report.applied or report.dry_run else "already in force",
            "tiers": list(report.tiers), "units": report.units, "agencies": report.agencies,
            "added_units": list(report.added_units), "removed_units": list(report.removed_units),
            "renamed_units": list(report.renamed_units), "warnings": list(report.warnings),
            "in_force": asdict(report.in_force)}


def catalogue_report(report: CatalogueReport) -> Row:
    summary = (f"+{len(report.added)} added, ~{len(report.changed)} changed, -{len(report.withdrawn)} withdrawn, "
               f"{report.unchanged} unchanged")
    return {"file": "catalogue", "version": report.decision, "decision": report.decision,
            "dry_run": report.dry_run, "applied": report.applied,
            "summary": summary if report.applied or report.dry_run else f"nothing to change ({summary})",
            "added": [_named(p) for p in report.added],
            "changed": [{**_named(c.procedure), "fields": list(c.fields)} for c in report.changed],
            "withdrawn": [_named(p) for p in report.withdrawn], "unchanged": report.unchanged,
            "in_force": asdict(report.in_force), "seconds": round(report.seconds, 3),
            "served_by": [r.reader_id for r in report.served_by]}


def _named(procedure: Procedure) -> Row:
    return {"code": procedure.code, "name": procedure.name}


def unit_row(unit: Unit) -> Row:
    return {"code": unit.code, "name": unit.name, "tier": unit.tier, "parent": unit.parent,
            "agency_code": unit.agency_code, "agency_name": unit.agency_name}


def all_units(catalogue: Catalogue, tier: str, parent: str, version: str) -> list[Unit]:
    found: list[Unit] = []
    token = ""
    while True:
        page = catalogue.list_units(tier, parent, version, page_size=500, page_token=token)
        found += page.units
        token = page.next_page_token
        if not token:
            return found


def unit_versions(store: CatalogueStore) -> list[Row]:
    in_force = store.version().units_version
    return [{"version": r.version, "as_of": r.as_of, "tiers": list(r.tiers), "units": r.units,
             "imported_at": r.imported_at, "in_force": r.version == in_force} for r in store.unit_files()]


def procedure_rows(catalogue: Catalogue, query: ProcedureQuery, limit: int) -> list[Row]:
    rows: list[Row] = []
    token = ""
    while len(rows) < limit:
        page = catalogue.list_procedures(query, page_size=min(500, limit - len(rows)), page_token=token)
        for item in page.items:
            agency = item.entry.competent_agency_code if item.entry else catalogue.definition_agency(item.procedure)
            p = item.procedure
            rows.append({"code": p.code, "name": p.name, "field": p.field, "tiers": list(p.tiers),
                         "unit": item.entry.unit.code if item.entry else None,
                         "competent_agency": agency or "each unit", "deadline": p.deadline.describe(),
                         "fee_vnd": p.fee.amount_vnd, "online": p.online.value, "decision": p.decision,
                         "withdrawn": p.withdrawn})
        token = page.next_page_token
        if not token:
            break
    return rows


def procedure_document(catalogue: Catalogue, code: str, unit_code: str) -> Row:
    """The procedure as its file row, with where it stands; at a unit, with the entry's agency."""
    entry: CatalogueEntry | None = catalogue.require_entry(code, unit_code) if unit_code else None
    procedure = entry.procedure if entry else catalogue.require_procedure(code)
    document: Row = {**procedure_to_row(procedure), "decision": procedure.decision,
                     "withdrawn": procedure.withdrawn, "withdrawn_by": procedure.withdrawn_by}
    if entry is not None:
        document["unit"] = unit_row(entry.unit)
        document["competent_agency_code"] = entry.competent_agency_code
    else:
        document["implementing_units"] = len(catalogue.implementing_units(procedure))
    return document


def revision_rows(store: CatalogueStore) -> list[Row]:
    return [{"revision": r.revision, "decision": r.decision.number, "decision_date": r.decision.date,
             "imported_at": r.imported_at, "units_version": r.units_version, "added": len(r.added),
             "changed": len(r.changed), "withdrawn": len(r.withdrawn), "file_sha256": r.file_sha256}
            for r in store.revisions()]


def status(store: CatalogueStore) -> Row:
    now = datetime.now(UTC)
    live = [r for r in store.readers() if now - r.seen_at <= READER_SEEN_WITHIN]
    catalogue = load_catalogue(store)
    return {"in_force": asdict(catalogue.version), "units": len(catalogue.units.units),
            "procedures": sum(1 for p in catalogue.index.procedures if not p.withdrawn),
            "withdrawn": sum(1 for p in catalogue.index.procedures if p.withdrawn),
            "entries": entries_in_force(catalogue),
            "replicas": [{"replica": r.reader_id, "revision": r.version.revision,
                          "units_version": r.version.units_version, "seen_at": r.seen_at} for r in live]}


def desk_row(desk: Desk) -> Row:
    return {"agency_code": desk.agency_code, "name": desk.name, "unit_code": desk.unit_code,
            "accepts": list(desk.accepts)}


def desk_change(change: DeskChange) -> Row:
    return {**desk_row(change.desk), "applied": change.applied, "changed": change.changed,
            "before": desk_row(change.before) if change.before else None}
