"""The catalogue in force: the unit tree and every procedure ever imported (withdrawn ones flagged),
as one immutable snapshot a service replica reads from memory and replaces whole when an import
changes the version in force. It is the CatalogueReader the dossier rules use, and it answers the
catalogue's queries.

A procedure names tiers, not units: its entries (a procedure at one implementing unit) are computed here,
so listing a commune's procedures is a filter on the commune's tier, not a scan of stored rows.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.procedures.domain.procedure import EACH_UNIT, CatalogueEntry, Procedure
from services.procedures.domain.search import (
    PageToken,
    ProcedureIndex,
    fingerprint,
    keyword_words,
    page_size_of,
    resume_after,
)
from services.procedures.domain.units import Agency, Unit, UnitTree

EMPTY_TREE = UnitTree.build("", (), [], [])


@dataclass(frozen=True)
class CatalogueVersion:
    """What is in force: the catalogue's revision (one per import that changed it), the unit tree's
    version and the decision of the last catalogue import."""

    revision: int = 0
    units_version: str = ""
    decision: str = ""


@dataclass(frozen=True)
class ProcedureQuery:
    unit_code: str = ""
    agency_code: str = ""
    tier: str = ""
    field: str = ""
    keyword: str = ""
    service_level: int = 0
    include_withdrawn: bool = False


@dataclass(frozen=True)
class Listed:
    """A procedure found; with its entry when the query named a unit (or an agency, hence a unit)."""

    procedure: Procedure
    entry: CatalogueEntry | None = None


@dataclass(frozen=True)
class ProcedurePage:
    items: tuple[Listed, ...]
    next_page_token: str
    total_size: int


@dataclass(frozen=True)
class UnitPage:
    units: tuple[Unit, ...]
    next_page_token: str
    total_size: int


class Catalogue:
    def __init__(self, units: UnitTree, procedures: Iterable[Procedure], version: CatalogueVersion,
                 unit_history: Callable[[str], UnitTree | None] | None = None) -> None:
        self._units = units
        self.version = version
        self.index = ProcedureIndex(procedures)
        self._by_code = {p.code: p for p in self.index.procedures}
        self._unit_history = unit_history
        self._by_tier: dict[str, list[Unit]] = {tier: [] for tier in units.tiers}
        for unit in sorted(units.units.values(), key=lambda u: u.code):
            self._by_tier.setdefault(unit.tier, []).append(unit)

    @classmethod
    def empty(cls) -> "Catalogue":
        return cls(EMPTY_TREE, (), CatalogueVersion())

    # -- CatalogueReader ---------------------------------------------------------------------------
    @property
    def units(self) -> UnitTree:
        return self._units

    def procedure(self, code: str) -> Procedure | None:
        return self._by_code.get(code)

    def entry(self, procedure_code: str, unit_code: str) -> CatalogueEntry | None:
        procedure, unit = self._by_code.get(procedure_code), self._units.unit(unit_code)
        return CatalogueEntry.of(procedure, unit) if procedure and unit else None

    # -- lookups that refuse, naming the field -----------------------------------------------------
    def __len__(self) -> int:
        return len(self.index)

    def require_procedure(self, code: str) -> Procedure:
        procedure = self._by_code.get(code)
        if procedure is None:
            raise NotFound("procedure_code", f"no procedure {code}")
        return procedure

    def require_unit(self, code: str, units_version: str = "") -> Unit:
        tree = self.tree(units_version)
        unit = tree.unit(code)
        if unit is None:
            raise NotFound("unit_code", f"no unit {code} in the unit tree {tree.version or '(none imported)'}")
        return unit

    def require_entry(self, procedure_code: str, unit_code: str) -> CatalogueEntry:
        procedure = self.require_procedure(procedure_code)
        unit = self.require_unit(unit_code)
        entry = CatalogueEntry.of(procedure, unit)
        if entry is None:
            raise NotFound("unit_code", f"{unit.name} ({unit.code}) is a {unit.tier} unit and does not implement "
                                        f"procedure {procedure.code} (implemented by: {', '.join(procedure.tiers)})")
        return entry

    def tree(self, units_version: str = "") -> UnitTree:
        """The tree in force, or an earlier one by version (dossiers filed under it still name its units)."""
        if not units_version or units_version == self._units.version:
            return self._units
        older = self._unit_history(units_version) if self._unit_history else None
        if older is None:
            raise NotFound("units_version", f"no unit tree {units_version!r} was ever imported")
        return older

    def implementing_units(self, procedure: Procedure) -> list[Unit]:
        return [unit for tier in procedure.tiers for unit in self._by_tier.get(tier, ())]

    def agencies_of(self, unit_code: str, units_version: str = "") -> list[Agency]:
        tree = self.tree(units_version)
        return sorted((a for a in tree.agencies.values() if a.unit == unit_code), key=lambda a: a.agency_code)

    def entry_for_filing(self, procedure_code: str, agency_code: str = "") -> CatalogueEntry:
        """For a submission that names no unit: the entry at the filing civil servant's own unit, or the
        procedure's only implementing unit; refused when the unit cannot be told."""
        procedure = self._by_code.get(procedure_code)
        if procedure is None:
            raise InvalidArgument("procedure_code", f"no procedure {procedure_code!r} in the catalogue")
        own = self._units.unit_of_agency(agency_code) if agency_code else None
        entry = CatalogueEntry.of(procedure, own) if own else None
        if entry is not None:
            return entry
        units = self.implementing_units(procedure)
        if len(units) == 1:
            return CatalogueEntry(procedure, units[0], _competent(procedure, units[0]))
        raise FailedPrecondition("procedure_code", f"procedure {procedure.code} is implemented by {len(units)} "
                                                   "units: file it at the unit's desk, naming the unit")

    # -- queries -----------------------------------------------------------------------------------
    def list_procedures(self, query: ProcedureQuery, page_size: int = 0, page_token: str = "") -> ProcedurePage:
        size = page_size_of(page_size)
        query_words = keyword_words(query.keyword)
        if not 0 <= query.service_level <= 4:
            raise InvalidArgument("service_level", "must be 0 (any) or 1 to 4")
        unit = self.require_unit(query.unit_code) if query.unit_code else None
        found = self.index.with_words(query_words)
        if query.agency_code:
            agency = self._units.agency(query.agency_code)
            if agency is None:
                raise NotFound("agency_code", f"no agency {query.agency_code} in the unit tree {self._units.version}")
            at = self._units.unit(agency.unit)
            if at is None or (unit is not None and unit.code != at.code):
                found = 0
            else:
                unit = at
                competent = self.index.competent(at.tier, agency.agency_code)
                if agency.agency_code == at.agency_code:     # a People's Committee: its unit's own procedures
                    competent |= self.index.competent(at.tier, EACH_UNIT)
                found &= competent
        if query.tier:
            if query.tier not in self._units.tiers:
                raise InvalidArgument("tier", f"{query.tier!r} is not a tier of the unit tree in force "
                                              f"({', '.join(self._units.tiers) or 'none imported'})")
            found &= self.index.of_tier(query.tier)
        if unit is not None:
            found &= self.index.of_tier(unit.tier)
        if query.field:
            found &= self.index.in_field(query.field)
        if query.service_level:
            found &= self.index.of_level(query.service_level)
        if not query.include_withdrawn:
            found &= ~self.index.withdrawn
        key = fingerprint("procedures", query.unit_code, query.agency_code, query.tier, " ".join(query_words),
                          " ".join(query.field.split()), query.service_level, query.include_withdrawn)
        items: list[Listed] = []
        pages = self.index.after(found, resume_after(page_token, key))
        for procedure in pages:
            if len(items) == size:
                return ProcedurePage(tuple(items), PageToken(key, items[-1].procedure.code).encode(),
                                     found.bit_count())
            items.append(Listed(procedure, CatalogueEntry.of(procedure, unit) if unit else None))
        return ProcedurePage(tuple(items), "", found.bit_count())

    def list_units(self, tier: str = "", parent_code: str = "", units_version: str = "", page_size: int = 0,
                   page_token: str = "") -> UnitPage:
        size = page_size_of(page_size)
        tree = self.tree(units_version)
        if tier and tier not in tree.tiers:
            raise InvalidArgument("tier", f"{tier!r} is not a tier of unit tree {tree.version} "
                                          f"({', '.join(tree.tiers) or 'none imported'})")
        if parent_code and tree.unit(parent_code) is None:
            raise NotFound("parent_code", f"no unit {parent_code} in the unit tree {tree.version}")
        chosen = sorted((u for u in tree.units.values()
                         if (not tier or u.tier == tier) and (not parent_code or u.parent == parent_code)),
                        key=lambda u: (tree.tier_rank(u.tier), u.code))
        key = fingerprint("units", tree.version, tier, parent_code)
        after = resume_after(page_token, key)
        start = next((i + 1 for i, u in enumerate(chosen) if u.code == after), 0) if after else 0
        page = chosen[start:start + size]
        more = start + size < len(chosen)
        return UnitPage(tuple(page), PageToken(key, page[-1].code).encode() if more and page else "", len(chosen))

    def definition_agency(self, procedure: Procedure) -> str:
        """The competent agency when every implementing unit has the same one (a department's
        procedure), else "" (each unit's People's Committee)."""
        agencies = {_competent(procedure, unit) for unit in self.implementing_units(procedure)}
        return agencies.pop() if len(agencies) == 1 else ""


def _competent(procedure: Procedure, unit: Unit) -> str:
    competent = procedure.competent_agency.get(unit.tier, EACH_UNIT)
    return unit.agency_code if competent == EACH_UNIT else competent
