"""egov-catalogue: the administrative units and the procedure catalogue, imported from files and read
back (docs/ONE_STOP.md, formats in docs/CATALOGUE_FORMAT.md).

    egov-catalogue units import services/procedures/data/units/hue-2025-03.json --dry-run
    egov-catalogue units list --tier district
    egov-catalogue import decision-1234.json --decision "1234/QĐ-UBND" --dry-run
    egov-catalogue list --unit 19786 --keyword "dang ky khai sinh"
    egov-catalogue show 1.001193 --unit 19786 --output json
    egov-catalogue desks configure 000.00.31.H57 --name "Bộ phận Một cửa quận Thuận Hóa" --unit 474 --accepts "*"
    egov-catalogue desks list

Works on the procedures service's database (--mongo-uri, EGOV_MONGO_URI, or var/run/env of `make run`);
running replicas of the service pick an import up within a second, without a restart (`--wait`).
Conventions of every egov-* command: services/common/cli.py.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from services.common.cli import (
    MongoUriOption,
    Output,
    OutputOption,
    apply_connection_settings,
    emit,
    emit_one,
    err_console,
    refuse,
)
from services.common.config import database_name, mongo_uri
from services.common.errors import DomainError
from services.procedures import catalogue_admin as admin
from services.procedures import catalogue_views as views
from services.procedures import desk_admin
from services.procedures.adapters.catalogue_store import MongoCatalogueStore
from services.procedures.adapters.directory import Directory
from services.procedures.domain.catalogue import ProcedureQuery
from services.procedures.domain.desks import Desk
from services.procedures.domain.file_rules import FileRejected

app = typer.Typer(help="Administrative units and the procedure catalogue: import, list, show.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
units_app = typer.Typer(help="The unit tree (province, district, commune... as the file says).", no_args_is_help=True)
app.add_typer(units_app, name="units")
desks_app = typer.Typer(help="Receiving desks and the agencies each receives for.", no_args_is_help=True)
app.add_typer(desks_app, name="desks")
T = TypeVar("T")

DryRunOption = Annotated[bool, typer.Option("--dry-run", help="show what would change; change nothing")]
FileArgument = Annotated[Path, typer.Argument(help="the JSON file (docs/CATALOGUE_FORMAT.md)")]


@contextmanager
def _databases(mongo: str) -> Iterator[tuple[MongoCatalogueStore, Directory]]:
    """The catalogue store and the desks' directory, both in the procedures service's database; a refusal
    printed (every problem of a rejected file) with exit code 1."""
    apply_connection_settings(mongo_uri=mongo)
    client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=5000, tz_aware=True)
    try:
        yield MongoCatalogueStore(client, database_name("procedures")), Directory(client[database_name("procedures")])
    except FileRejected as exc:
        for place, message in exc.problems:
            err_console.print(f"refused: {place}: {message}", markup=False, highlight=False)
        err_console.print("nothing was imported", markup=False, highlight=False)
        raise typer.Exit(code=1) from None
    except DomainError as exc:
        refuse(exc)
    except PyMongoError as exc:
        refuse(f"database: {exc}")
    except TimeoutError as exc:
        refuse(f"wait: {exc}")
    finally:
        client.close()


def _run(mongo: str, work: Callable[[MongoCatalogueStore], T]) -> T:
    with _databases(mongo) as (store, _):
        return work(store)


# -- units -------------------------------------------------------------------------------------------
@units_app.command("import")
def units_import(file: FileArgument, dry_run: DryRunOption = False, output: OutputOption = Output.TABLE,
                 mongo: MongoUriOption = "") -> None:
    """Import a unit file (egov-units/1) and put its tree in force. Idempotent."""
    report = _run(mongo, lambda store: admin.import_units(store, admin.ImportFile.read(file), dry_run))
    emit_one(views.units_report(report), output, title="unit file")


@units_app.command("list")
def units_list(tier: Annotated[str, typer.Option(help="only this tier")] = "",
               parent: Annotated[str, typer.Option(help="only the units directly under this unit code")] = "",
               version: Annotated[str, typer.Option(help="an earlier unit tree (default: in force)")] = "",
               output: OutputOption = Output.TABLE, mongo: MongoUriOption = "") -> None:
    """Units of the tree in force (or of an earlier version), top tier first."""
    found = _run(mongo, lambda store: views.all_units(admin.load_catalogue(store), tier, parent, version))
    emit([views.unit_row(u) for u in found], output, key="units",
         columns=[("code", "code"), ("name", "name"), ("tier", "tier"), ("parent", "parent"),
                  ("agency_code", "agency code")])


@units_app.command("versions")
def units_versions(output: OutputOption = Output.TABLE, mongo: MongoUriOption = "") -> None:
    """Every unit tree imported, oldest first, and which is in force."""
    rows = _run(mongo, views.unit_versions)
    emit(rows, output, key="versions")


# -- catalogue ---------------------------------------------------------------------------------------
@app.command("import")
def catalogue_import(
        file: FileArgument,
        decision: Annotated[str, typer.Option("--decision", help="number of the decision publishing the file, "
                                                                 "e.g. \"1234/QĐ-UBND\" (must match the file)")],
        dry_run: DryRunOption = False,
        wait: Annotated[float, typer.Option(help="seconds to wait until every running replica serves it")] = 0,
        output: OutputOption = Output.TABLE, mongo: MongoUriOption = "") -> None:
    """Import a catalogue file (egov-catalogue/1) published by DECISION: added, changed and withdrawn
    procedures, all or nothing. Idempotent: the same file again changes nothing."""

    def work(store: MongoCatalogueStore) -> admin.CatalogueReport:
        report = admin.import_catalogue(store, admin.ImportFile.read(file), decision, dry_run)
        if wait > 0 and not dry_run:
            from dataclasses import replace
            report = replace(report, served_by=admin.wait_until_served(store, report.in_force, wait))
        return report

    report = _run(mongo, work)
    emit_one(views.catalogue_report(report), output, title=f"decision {report.decision}")


@app.command("import-shipped")
def import_shipped(
        edition: Annotated[str, typer.Option(help="2025-03 (three tiers, the default) or 2025-07 (two tiers)")]
        = admin.DEFAULT_EDITION,
        output: OutputOption = Output.TABLE, mongo: MongoUriOption = "") -> None:
    """Import a shipped edition: its unit file, then its catalogue files (services/procedures/data; what
    `make run` and compose's catalogue-import job do at start). Idempotent."""
    units, catalogues = _run(mongo, lambda store: admin.import_shipped(store, edition))
    emit([views.units_report(units), *(views.catalogue_report(r) for r in catalogues)], output, key="imports",
         columns=[("file", "file"), ("version", "version / decision"), ("applied", "applied"),
                  ("summary", "summary")])


@app.command("list")
def catalogue_list(
        unit: Annotated[str, typer.Option(help="procedures implemented by this unit (GSO code)")] = "",
        agency: Annotated[str, typer.Option(help="procedures this agency settles")] = "",
        tier: Annotated[str, typer.Option(help="procedures of this tier")] = "",
        field: Annotated[str, typer.Option(help="procedures of this field (lĩnh vực), accents optional")] = "",
        keyword: Annotated[str, typer.Option(help="words of the code, name or field, accents optional")] = "",
        withdrawn: Annotated[bool, typer.Option("--withdrawn", help="include withdrawn procedures")] = False,
        limit: Annotated[int, typer.Option(min=1, help="at most this many")] = 1000,
        output: OutputOption = Output.TABLE, mongo: MongoUriOption = "") -> None:
    """Procedures of the catalogue in force, in code order."""
    query = ProcedureQuery(unit_code=unit, agency_code=agency, tier=tier, field=field, keyword=keyword,
                           include_withdrawn=withdrawn)
    rows = _run(mongo, lambda store: views.procedure_rows(admin.load_catalogue(store), query, limit))
    emit(rows, output, key="procedures",
         columns=[("code", "code"), ("name", "name"), ("field", "field"), ("tiers", "tiers"),
                  ("competent_agency", "competent agency"), ("deadline", "deadline"), ("fee_vnd", "fee (VND)"),
                  ("withdrawn", "withdrawn")])


@app.command("show")
def catalogue_show(code: Annotated[str, typer.Argument(help="national procedure code, e.g. 1.001193")],
                   unit: Annotated[str, typer.Option(help="as implemented by this unit")] = "",
                   output: OutputOption = Output.TABLE, mongo: MongoUriOption = "") -> None:
    """One procedure: its definition, or its entry at a unit; withdrawn ones too."""
    document = _run(mongo, lambda store: views.procedure_document(admin.load_catalogue(store), code, unit))
    emit_one(document, output, title=code)


@app.command("revisions")
def catalogue_revisions(output: OutputOption = Output.TABLE, mongo: MongoUriOption = "") -> None:
    """Every catalogue import that changed something, with its decision."""
    rows = _run(mongo, views.revision_rows)
    emit(rows, output, key="revisions")


@app.command("status")
def catalogue_status(output: OutputOption = Output.TABLE, mongo: MongoUriOption = "") -> None:
    """The version in force and the version each running replica of the service serves."""
    emit_one(_run(mongo, views.status), output, title="catalogue")


# -- desks ------------------------------------------------------------------------------------------
@desks_app.command("configure")
def desks_configure(
        agency_code: Annotated[str, typer.Argument(help="the receiving unit's electronic agency code; dossier "
                                                        "codes it receives start with it")],
        name: Annotated[str, typer.Option(help="the desk's name as printed on its slips")],
        unit: Annotated[str, typer.Option(help="the unit (GSO code) the desk sits in")],
        accepts: Annotated[list[str], typer.Option(help="an agency code it receives for; repeat it; * for every "
                                                        "agency (Decree 118/2025)")],
        dry_run: DryRunOption = False, output: OutputOption = Output.TABLE, mongo: MongoUriOption = "") -> None:
    """Configure a desk: the agencies whose procedures it receives, checked against the unit tree in force.
    Idempotent; running replicas use it from the next filing."""
    with _databases(mongo) as (store, directory):
        change = desk_admin.configure_desk(directory, admin.load_catalogue(store).units,
                                           Desk(agency_code, name, unit, tuple(accepts)), dry_run)
    emit_one(views.desk_change(change), output, title=f"desk {change.desk.agency_code}")


@desks_app.command("list")
def desks_list(output: OutputOption = Output.TABLE, mongo: MongoUriOption = "") -> None:
    """Every configured desk. An agency with none receives its own procedures only."""
    with _databases(mongo) as (_, directory):
        rows = [views.desk_row(d) for d in directory.desks()]
    emit(rows, output, key="desks", columns=[("agency_code", "agency code"), ("name", "name"),
                                             ("unit_code", "unit"), ("accepts", "receives for")])


if __name__ == "__main__":
    app()
