"""The unit file (`egov-units/1`, docs/CATALOGUE_FORMAT.md): checked whole, turned into a UnitTree.

Tiers are whatever the file lists, from the top: the parser only requires that a unit's parent is a
unit of a higher tier, so a two-tier file (province, commune) is as valid as a three-tier one.

The optional fields that only explain (`agency_code_rule`, `agency_code_note`, a unit's GSO `kind`) are
checked for shape and kept with the file as imported, not in the tree.
"""

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.procedures.domain.file_rules import Fields, Problems
from services.procedures.domain.units import Agency, AgencyKind, Unit, UnitTree

FORMAT = "egov-units/1"
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
TIER = re.compile(r"[a-z][a-z_]{0,31}")
UNIT_CODE = re.compile(r"[0-9]{1,10}")
# Agency codes begin dossier codes (`<agency>-YYMMDD-XXXX`): no dashes, no spaces.
AGENCY_CODE = re.compile(r"[0-9A-Z]{1,8}(\.[0-9A-Z]{1,8}){0,5}")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CODE_SOURCES = ("official", "derived")
LISTED_KINDS = tuple(k.value for k in AgencyKind if k is not AgencyKind.PEOPLES_COMMITTEE)


@dataclass(frozen=True)
class UnitFile:
    tree: UnitTree
    as_of: date
    source: str
    derived_agency_codes: frozenset[str]    # agency codes derived by a stated rule, not official ones
    document: Mapping[str, Any]             # the file as imported, notes included: how the database keeps it


def parse_units(data: Any) -> UnitFile:
    """The file's tree; FileRejected naming every problem (`units[3].parent`...) if any."""
    problems = Problems()
    top = Fields(problems, "", data)
    top.only("format", "version", "as_of", "source", "agency_code_rule", "tiers", "units", "agencies")
    top.text("agency_code_rule", required=False)
    if top.ok and top.data.get("format") != FORMAT:
        top.problem("format", f"must be {FORMAT!r}")
    version = top.text("version", VERSION, hint="a version name (letters, digits, . _ -)")
    as_of = _date(top, "as_of")
    source = top.text("source")
    tiers = top.strings("tiers")
    for index, tier in enumerate(tiers):
        if not TIER.fullmatch(tier):
            problems.add(f"tiers[{index}]", f"{tier!r} is not a tier name (lower-case letters and _)")
    units = _units(top, tiers)
    by_code = {u.code: u for u, _ in units}
    agencies, derived_agencies = _agencies(top, by_code)
    _check_agency_codes_unique(problems, units, agencies)
    problems.raise_any()
    tree = UnitTree.build(version, tiers, [u for u, _ in units], agencies)
    derived = frozenset(u.agency_code for u, is_derived in units if is_derived) | derived_agencies
    return UnitFile(tree, as_of, source, derived, copy.deepcopy(dict(data)))


def _date(fields: Fields, key: str) -> date:
    text = fields.text(key, ISO_DATE, hint="a date YYYY-MM-DD")
    try:
        return date.fromisoformat(text) if text else date.min
    except ValueError:
        fields.problem(key, f"{text!r} is not a calendar date")
        return date.min


def _units(top: Fields, tiers: tuple[str, ...]) -> list[tuple[Unit, bool]]:
    rows = list(top.objects("units"))
    declared: dict[str, str] = {}           # code → tier, for checking parents in any order
    for row in rows:
        code, tier = row.data.get("code"), row.data.get("tier")
        if isinstance(code, str) and isinstance(tier, str):
            declared.setdefault(code, tier)
    units: list[tuple[Unit, bool]] = []
    seen: set[str] = set()
    for row in rows:
        row.only("code", "name", "tier", "parent", "kind", "agency_code", "agency_name", "agency_code_source",
                 "agency_code_note")
        row.text("kind", required=False)
        row.text("agency_code_note", required=False)
        code = row.text("code", UNIT_CODE, hint="a GSO code (digits)")
        if code in seen:
            row.problem("code", f"{code!r} appears twice")
        seen.add(code)
        known_tier = row.data.get("tier") in tiers
        tier = row.choice("tier", tiers) if tiers else ""
        parent = row.data.get("parent")
        rank = tiers.index(tier) if tier in tiers else 0
        if not known_tier:
            pass                                 # its parent cannot be judged without its tier
        elif rank == 0 and parent is not None:
            row.problem("parent", f"a unit of the top tier ({tiers[0] if tiers else '?'}) has no parent")
        elif rank > 0:
            if not isinstance(parent, str) or parent not in declared:
                row.problem("parent", f"{parent!r} is not a unit of this file")
            elif declared[parent] not in tiers or tiers.index(declared[parent]) >= rank:
                row.problem("parent", f"unit {parent} is of tier {declared[parent]!r}, not above {tier!r}")
        agency_code = row.text("agency_code", AGENCY_CODE, hint="an agency code like 000.00.15.H57")
        source = row.choice("agency_code_source", CODE_SOURCES, required=False, default="official")
        units.append((Unit(code, row.text("name"), tier, parent if rank > 0 else None, agency_code,
                           row.text("agency_name")), source == "derived"))
    return units


def _agencies(top: Fields, units: Mapping[str, Unit]) -> tuple[list[Agency], frozenset[str]]:
    agencies, derived = [], set()
    for row in top.objects("agencies", required=False):
        row.only("agency_code", "name", "unit", "kind", "agency_code_source", "agency_code_note")
        row.text("agency_code_note", required=False)
        code = row.text("agency_code", AGENCY_CODE, hint="an agency code like 000.00.15.H57")
        unit = row.text("unit")
        if unit and unit not in units:
            row.problem("unit", f"{unit!r} is not a unit of this file")
        kind = AgencyKind(row.choice("kind", LISTED_KINDS))
        if row.choice("agency_code_source", CODE_SOURCES, required=False, default="official") == "derived":
            derived.add(code)
        agencies.append(Agency(code, row.text("name"), unit, kind))
    return agencies, frozenset(derived)


def _check_agency_codes_unique(problems: Problems, units: list[tuple[Unit, bool]], agencies: list[Agency]) -> None:
    owners: dict[str, str] = {}
    places = [(u.agency_code, f"units[{i}].agency_code") for i, (u, _) in enumerate(units)]
    places += [(a.agency_code, f"agencies[{i}].agency_code") for i, a in enumerate(agencies)]
    for code, place in places:
        if not code:
            continue
        if code in owners:
            problems.add(place, f"{code} is already the code of {owners[code]}")
        else:
            owners[code] = place.rsplit(".", 1)[0]

