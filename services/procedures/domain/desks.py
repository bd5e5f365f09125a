"""Receiving units (bộ phận một cửa) and what each desk receives (docs/ONE_STOP.md, "Desks").

The receiving unit is the public administration service centre or a commune's one-stop desk; it
receives for competent agencies and decides nothing. A desk is configured with the agencies whose
procedures it accepts (`*`: every agency of the province, as Decree 118/2025 allows). An agency
without a configured desk receives its own procedures and nothing else.
"""

import re
from dataclasses import dataclass

from services.common.errors import FailedPrecondition, InvalidArgument
from services.procedures.domain.procedure import CatalogueEntry
from services.procedures.domain.units import UnitTree

ANY_AGENCY = "*"
_AGENCY_CODE = re.compile(r"[0-9A-Z]+(\.[0-9A-Z]+)*")


@dataclass(frozen=True)
class Desk:
    agency_code: str               # the receiving unit's electronic code: dossier codes start with it
    name: str
    unit_code: str                 # the territorial unit it sits in
    accepts: tuple[str, ...]       # agency codes whose procedures it receives, or ANY_AGENCY

    def receives_for(self, agency_code: str) -> bool:
        return ANY_AGENCY in self.accepts or agency_code in self.accepts


def own_desk(units: UnitTree, agency_code: str) -> Desk | None:
    """The implicit desk of an agency nobody configured: it receives its own procedures."""
    agency = units.agency(agency_code)
    if agency is None:
        return None
    return Desk(agency_code, agency.name, agency.unit, (agency_code,))


def check_desk(desk: Desk, units: UnitTree) -> Desk:
    """A configuration refers only to agencies and units of the tree in force."""
    if not _AGENCY_CODE.fullmatch(desk.agency_code):
        raise InvalidArgument("agency_code", "an electronic agency code such as 000.00.31.H57")
    if units.agency(desk.agency_code) is None:
        raise InvalidArgument("agency_code", f"no agency {desk.agency_code} in unit tree {units.version}")
    if not desk.name.strip():
        raise InvalidArgument("name", "is required")
    if units.unit(desk.unit_code) is None:
        raise InvalidArgument("unit_code", f"no unit {desk.unit_code} in unit tree {units.version}")
    if not desk.accepts:
        raise InvalidArgument("accepts", "name at least one agency code, or * for every agency")
    for index, code in enumerate(desk.accepts):
        if code != ANY_AGENCY and units.agency(code) is None:
            raise InvalidArgument(f"accepts[{index}]", f"no agency {code} in unit tree {units.version}")
    return desk


def check_receives(desk: Desk, entry: CatalogueEntry) -> None:
    if not desk.receives_for(entry.competent_agency_code):
        raise FailedPrecondition(
            "procedure_code",
            f"desk {desk.agency_code} ({desk.name}) does not receive for {entry.competent_agency_code}, "
            f"the agency competent for procedure {entry.procedure.code} in unit {entry.unit.code}")
