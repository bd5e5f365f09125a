"""Who may read which part of the index, and which periods may be asked for.

A supervisor holds the appointment `supervisor@<code>` (services/common/roles.py): at a unit's GSO
code, or at its People's Committee's agency code, they supervise that unit and every unit below it
(and the agencies and desks of those units); at any other agency (a department), that agency alone.
Procedures are counted province-wide, so a procedure's figures are for supervisors of the top unit.
An agency system reaches these methods only with the gateway's grant of the method, which is its
right to read the whole index. Refusals name the field: unknown codes NOT_FOUND, outside the
caller's scope PERMISSION_DENIED.
"""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument, NotFound, PermissionDenied
from services.common.roles import Role
from services.procedures.domain.units import UnitTree


class Kind(StrEnum):
    UNIT = "unit"
    AGENCY = "agency"
    RECEIVING = "receiving"
    PROCEDURE = "procedure"


@dataclass(frozen=True)
class Scope:
    kind: Kind
    code: str

    @property
    def key(self) -> str:
        """The counters' scope key (services/supervision/domain/index.py)."""
        return f"{self.kind.value}:{self.code}"


@dataclass(frozen=True)
class Supervision:
    units: frozenset[str]        # units supervised with everything below them
    agencies: frozenset[str]     # agencies supervised alone
    everything: bool = False


def supervision_of(caller: Caller, tree: UnitTree) -> Supervision:
    if caller.kind in (CallerKind.AGENCY, CallerKind.OPERATOR):
        return Supervision(frozenset(), frozenset(), everything=True)
    if caller.kind is not CallerKind.CIVIL_SERVANT:
        raise PermissionDenied("caller", f"{caller.kind.value} may not read the index")
    units: set[str] = set()
    agencies: set[str] = set()
    for code in caller.agencies_with(Role.SUPERVISOR):
        unit = code if tree.unit(code) is not None else _committee_unit(tree, code)
        if unit is not None:
            units.add(unit)
        else:
            agencies.add(code)
    if not units and not agencies:
        raise PermissionDenied("caller", "reading the index needs a supervisor appointment (supervisor@<unit or "
                                         "agency code>)")
    return Supervision(frozenset(units), frozenset(agencies))


def _committee_unit(tree: UnitTree, agency_code: str) -> str | None:
    unit = tree.unit_of_agency(agency_code)
    return unit.code if unit is not None and unit.agency_code == agency_code else None


def check_scope(scope: Scope, caller: Caller, tree: UnitTree, field: str = "scope.code") -> Supervision:
    """The caller's supervision, once the scope is known to exist and to be within it."""
    if scope.kind is Kind.UNIT and tree.unit(scope.code) is None:
        raise NotFound(field, f"no unit {scope.code!r} in the units of {tree.version}")
    if scope.kind in (Kind.AGENCY, Kind.RECEIVING) and tree.agency(scope.code) is None:
        raise NotFound(field, f"no agency {scope.code!r} in the units of {tree.version}")
    seen = supervision_of(caller, tree)
    if not may_see(seen, scope, tree):
        raise PermissionDenied(field, f"{scope.kind.value} {scope.code} is outside the units you supervise")
    return seen


def may_see(seen: Supervision, scope: Scope, tree: UnitTree) -> bool:
    if seen.everything:
        return True
    if scope.kind is Kind.UNIT:
        return any(tree.is_within(scope.code, u) for u in seen.units)
    if scope.kind in (Kind.AGENCY, Kind.RECEIVING):
        agency = tree.agency(scope.code)
        return scope.code in seen.agencies or (
            agency is not None and any(tree.is_within(agency.unit, u) for u in seen.units))
    top = [u.code for u in tree.units.values() if u.parent is None]
    return any(u in seen.units for u in top)


def months_of(from_month: str, to_month: str, today: date, max_months: int) -> list[str]:
    """The months asked for, oldest first; refused when malformed, reversed, in the future or too long."""
    first, last = _month(from_month, "from_month"), _month(to_month, "to_month")
    if first > last:
        raise InvalidArgument("from_month", f"{from_month} is after to_month {to_month}")
    if last > (today.year, today.month):
        raise InvalidArgument("to_month", f"{to_month} is in the future (today is {today.isoformat()})")
    count = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    if count > max_months:
        raise InvalidArgument("from_month", f"the period is {count} months; at most {max_months} may be asked for")
    out, (y, m) = [], first
    for _ in range(count):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _month(value: str, field: str) -> tuple[int, int]:
    year, sep, month = value.partition("-")
    if not (sep and year.isdigit() and month.isdigit() and len(year) == 4 and 1 <= int(month) <= 12):
        raise InvalidArgument(field, f"must be a month YYYY-MM, got {value!r}")
    return int(year), int(month)
