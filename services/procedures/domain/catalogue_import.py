"""What an import would change, worked out before anything is written, so `--dry-run` shows exactly
what the import does and an import that changes nothing writes nothing.

A catalogue file of scope `full` is the whole catalogue: what it omits is withdrawn. An `amendment`
adds or changes what it lists and withdraws the codes it names; an `excerpt` (some of a decision's
procedures) adds or changes what it lists and withdraws nothing. A withdrawn procedure stays, flagged,
so dossiers filed under it still read it; a later file that lists it again reinstates it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace

from services.common.errors import FailedPrecondition
from services.procedures.domain.catalogue_file import CatalogueFile, Decision, Scope, procedure_to_row
from services.procedures.domain.file_rules import FileRejected
from services.procedures.domain.procedure import EACH_UNIT, Procedure
from services.procedures.domain.units import UnitTree


@dataclass(frozen=True)
class Changed:
    procedure: Procedure             # the new definition
    fields: tuple[str, ...]          # the file's columns that differ from the definition in force


@dataclass(frozen=True)
class CataloguePlan:
    decision: Decision
    added: tuple[Procedure, ...]     # new, or reinstated after a withdrawal
    changed: tuple[Changed, ...]
    withdrawn: tuple[Procedure, ...]  # as they will read: flagged, with the withdrawing decision
    unchanged: int

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.withdrawn)


def plan_catalogue(in_force: Mapping[str, Procedure], file: CatalogueFile,
                   imported_decisions: Mapping[str, int]) -> CataloguePlan:
    """`in_force`: every procedure the store holds by code, withdrawn ones flagged;
    `imported_decisions`: decision number → the revision that imported it."""
    added: list[Procedure] = []
    changed: list[Changed] = []
    unchanged = 0
    for procedure in file.procedures:
        current = in_force.get(procedure.code)
        if current is None or current.withdrawn:
            added.append(procedure)
            continue
        differing = differences(current, procedure)
        if differing:
            changed.append(Changed(procedure, differing))
        else:
            unchanged += 1
    listed = {p.code for p in file.procedures}
    if file.scope == Scope.FULL:
        leaving = [p for code, p in sorted(in_force.items()) if code not in listed and not p.withdrawn]
    else:
        unknown = [(f"withdrawn[{i}]", f"no procedure {code} has ever been imported")
                   for i, code in enumerate(file.withdrawn) if code not in in_force]
        if unknown:
            raise FileRejected(unknown)
        leaving = [in_force[code] for code in file.withdrawn if not in_force[code].withdrawn]
    withdrawn = tuple(replace(p, withdrawn=True, withdrawn_by=file.decision.number) for p in leaving)
    plan = CataloguePlan(file.decision, tuple(added), tuple(changed), withdrawn, unchanged)
    earlier = imported_decisions.get(file.decision.number)
    if earlier is not None and not plan.is_empty:
        raise FailedPrecondition("decision", f"decision {file.decision.number} was imported as revision {earlier} "
                                             "and said otherwise; an amendment is published by a decision "
                                             "of its own number")
    return plan


def differences(current: Procedure, new: Procedure) -> tuple[str, ...]:
    before, after = procedure_to_row(current), procedure_to_row(new)
    return tuple(key for key in sorted({*before, *after}) if before.get(key) != after.get(key))


@dataclass(frozen=True)
class UnitsPlan:
    tree: UnitTree
    unchanged: bool                   # this very tree is already in force
    added_units: tuple[str, ...]      # unit codes, against the tree in force
    removed_units: tuple[str, ...]
    renamed_units: tuple[str, ...]
    warnings: tuple[str, ...]         # what the catalogue in force loses under this tree


def plan_units(in_force: UnitTree | None, same_version: UnitTree | None, new: UnitTree,
               procedures: Mapping[str, Procedure]) -> UnitsPlan:
    """`same_version`: the tree already stored under the new tree's version, if any."""
    if same_version is not None and same_version != new:
        raise FailedPrecondition("version", f"unit tree {new.version} was imported before with other content; "
                                            "a changed tree is published under a version of its own")
    old = in_force.units if in_force is not None else {}
    added = tuple(sorted(code for code in new.units if code not in old))
    removed = tuple(sorted(code for code in old if code not in new.units))
    renamed = tuple(sorted(code for code, unit in new.units.items()
                           if code in old and (old[code].name, old[code].agency_code) != (unit.name, unit.agency_code)))
    return UnitsPlan(new, in_force is not None and in_force == new, added, removed, renamed,
                     tuple(catalogue_gaps(new, procedures)))


def catalogue_gaps(tree: UnitTree, procedures: Mapping[str, Procedure]) -> list[str]:
    """Procedures in force that would have no implementing unit, or an agency the tree lacks: the
    catalogue decision for the new tree should follow (tiers are data, so this is not refused)."""
    gaps: list[str] = []
    for procedure in sorted(procedures.values(), key=lambda p: p.code):
        if procedure.withdrawn:
            continue
        lost = [t for t in procedure.tiers if t not in tree.tiers]
        if lost:
            gaps.append(f"procedure {procedure.code}: tier {', '.join(lost)} is not in unit tree {tree.version}")
        missing = sorted({a for a in procedure.competent_agency.values() if a != EACH_UNIT and tree.agency(a) is None})
        if missing:
            gaps.append(f"procedure {procedure.code}: agency {', '.join(missing)} is not in unit tree {tree.version}")
    return gaps
