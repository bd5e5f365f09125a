"""Administrative units and competent agencies, as data (docs/CATALOGUE_FORMAT.md, `egov-units/1`).

Tiers are names the unit file lists from the top (`province, district, commune` before 1 July 2025,
`province, commune` after): no code here knows how many there are. A unit file is one version of the
tree; a dossier keeps the agency codes it was filed with, so importing a newer tree never moves a
dossier that exists.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class AgencyKind(StrEnum):
    PEOPLES_COMMITTEE = "peoples_committee"   # Ủy ban nhân dân of a territorial unit
    DEPARTMENT = "department"                 # Sở, ngành of the province
    SERVICE_CENTRE = "service_centre"         # Trung tâm phục vụ hành chính công: receives, decides nothing
    INSPECTORATE = "inspectorate"             # Thanh tra
    POLICE = "police"                         # Công an of the province
    BOARD = "board"                           # a management board (ban quản lý)
    OTHER = "other"


@dataclass(frozen=True)
class Unit:
    """A territorial unit: the city, a district-level unit, a commune-level unit (GSO codes)."""

    code: str
    name: str
    tier: str
    parent: str | None
    agency_code: str           # its People's Committee's electronic agency code
    agency_name: str


@dataclass(frozen=True)
class Agency:
    """A body with an electronic agency code, attached to the unit it belongs to."""

    agency_code: str
    name: str
    unit: str                  # the unit's GSO code
    kind: AgencyKind


@dataclass(frozen=True)
class UnitTree:
    version: str
    tiers: tuple[str, ...]
    units: Mapping[str, Unit]
    agencies: Mapping[str, Agency]          # by agency code; every unit's People's Committee included
    _children: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, version: str, tiers: tuple[str, ...], units: list[Unit], agencies: list[Agency]) -> "UnitTree":
        """The tree with each unit's People's Committee added to the agencies; the caller (the importer)
        has checked codes are unique, parents exist and tiers are known."""
        by_code = {u.code: u for u in units}
        every = {a.agency_code: a for a in agencies}
        for unit in units:
            every.setdefault(unit.agency_code, Agency(unit.agency_code, unit.agency_name, unit.code,
                                                      AgencyKind.PEOPLES_COMMITTEE))
        children: dict[str, list[str]] = {}
        for unit in units:
            if unit.parent is not None:
                children.setdefault(unit.parent, []).append(unit.code)
        return cls(version, tiers, by_code, every, {k: tuple(v) for k, v in children.items()})

    def unit(self, code: str) -> Unit | None:
        return self.units.get(code)

    def agency(self, agency_code: str) -> Agency | None:
        return self.agencies.get(agency_code)

    def unit_of_agency(self, agency_code: str) -> Unit | None:
        agency = self.agencies.get(agency_code)
        return self.units.get(agency.unit) if agency else None

    def children(self, code: str) -> tuple[str, ...]:
        return self._children.get(code, ())

    def ancestors(self, code: str) -> Iterator[Unit]:
        """The unit's parent, its parent's parent... up to the top."""
        unit = self.units.get(code)
        while unit is not None and unit.parent is not None:
            unit = self.units.get(unit.parent)
            if unit is not None:
                yield unit

    def is_within(self, code: str, scope: str) -> bool:
        """True when unit `code` is `scope` or below it."""
        return code == scope or any(u.code == scope for u in self.ancestors(code))

    def of_tier(self, tier: str) -> list[Unit]:
        return [u for u in self.units.values() if u.tier == tier]

    def tier_rank(self, tier: str) -> int:
        """0 for the top tier; ValueError for a tier this tree does not have."""
        return self.tiers.index(tier)
