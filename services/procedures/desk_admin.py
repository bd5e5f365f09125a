"""Operator work on desks (`egov-catalogue desks`): which agencies each receiving unit receives for.

A plain function over a port, as the catalogue's import is: the Mongo adapter is the procedures
database's directory (adapters/directory.py); fakes.InMemoryDirectory keeps the same rules for tests.
The in-cluster RPC `procedures.configure_desk` applies the same check (domain/desks.py).
"""

from dataclasses import dataclass
from typing import Protocol

from services.procedures.domain.desks import Desk, check_desk
from services.procedures.domain.units import UnitTree


class DeskDirectory(Protocol):
    def desk(self, agency_code: str) -> Desk | None: ...

    def put_desk(self, desk: Desk) -> None: ...

    def desks(self) -> list[Desk]:
        """Every configured desk, by agency code."""


@dataclass(frozen=True)
class DeskChange:
    desk: Desk
    before: Desk | None
    applied: bool

    @property
    def changed(self) -> bool:
        return self.before != self.desk


def configure_desk(directory: DeskDirectory, units: UnitTree, desk: Desk, dry_run: bool = False) -> DeskChange:
    """Check the desk against the unit tree in force and put it, unless nothing changes or `dry_run`."""
    desk = check_desk(Desk(desk.agency_code.strip(), desk.name.strip(), desk.unit_code.strip(),
                           tuple(dict.fromkeys(a.strip() for a in desk.accepts))), units)
    before = directory.desk(desk.agency_code)
    applied = not dry_run and before != desk
    if applied:
        directory.put_desk(desk)
    return DeskChange(desk, before, applied)
