"""`egov-gateway apply -f members.yaml`: thin over gateway.members_file."""

from pathlib import Path
from typing import Annotated

import typer

from gateway import members_file, operations
from gateway.cli.registry import Wait, registry_of
from services.common.cli import REFUSED, Output, OutputOption, console, emit_one, err_console, refuse
from services.common.errors import DomainError


def apply(ctx: typer.Context,
          file: Annotated[Path, typer.Option("--file", "-f", help="members.yaml (format: gateway/members_file.py)")],
          dry_run: Annotated[bool, typer.Option("--dry-run", help="print the differences; change nothing")] = False,
          no_prune: Annotated[bool, typer.Option("--no-prune", help="add and change only; remove nothing")] = False,
          wait: Wait = 10.0, output: OutputOption = Output.TABLE) -> None:
    """Converge the registry to a file (members, subsystems, certificates, grants, limits, groups,
    external systems) and print the differences: + added, ~ changed, - removed. JSON: steps [{action,
    kind, target, detail}], dry_run, version, confirmed."""
    registry = registry_of(ctx)
    try:
        wanted = members_file.read(file, registry.load())
        applied = members_file.apply(registry, wanted, prune=not no_prune, dry_run=dry_run)
    except DomainError as exc:
        refuse(exc)
    confirmation = (operations.wait_until_loaded(registry, applied.version, wait)
                    if applied.version else operations.Confirmation(0))
    if output is not Output.TABLE:
        emit_one({"steps": [s.row() for s in applied.steps], "dry_run": dry_run, **confirmation.row()}, output)
    else:
        for step in applied.steps:
            console.print(step.line(), markup=False, highlight=False)
        if not applied.steps:
            console.print("nothing to change: the registry is as the file declares")
        elif dry_run:
            console.print(f"{len(applied.steps)} change(s); nothing changed (--dry-run)")
        else:
            console.print(f"{len(applied.steps)} change(s) applied (registry version {applied.version})"
                          + (f"; in force on {len(confirmation.in_force_on)} gateway(s)"
                             if confirmation.in_force_on else ""))
    if not confirmation.confirmed:
        err_console.print(f"not yet confirmed by: {', '.join(confirmation.behind)}")
        raise typer.Exit(code=REFUSED)
