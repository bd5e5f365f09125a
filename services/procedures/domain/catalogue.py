"""The catalogue of administrative procedures (TTHC): reference data read once at start-up.

A catalogue entry that breaks a rule stops the service from starting, with the entry and field
named, rather than surfacing later as a dossier that cannot be coded or costed.
"""

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "catalogue.json"

_PROCEDURE_CODE = re.compile(r"[12]\.[0-9]{6}")
# Agency codes become the first part of dossier codes (`<agency>-YYMMDD-XXXX`): no dashes, no spaces.
_AGENCY_CODE = re.compile(r"[0-9A-Z]+(\.[0-9A-Z]+)*")
_DOCUMENT_CODE = re.compile(r"[0-9A-Z]{1,32}")


class CatalogueError(ValueError):
    """The catalogue file breaks a rule; the message names the entry and the field."""


class AgencyLevel(StrEnum):
    PROVINCE = "AGENCY_LEVEL_PROVINCE"
    DISTRICT = "AGENCY_LEVEL_DISTRICT"
    COMMUNE = "AGENCY_LEVEL_COMMUNE"


@dataclass(frozen=True)
class RequiredDocument:
    code: str
    name: str
    mandatory: bool


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    agency_code: str
    agency_name: str
    agency_level: AgencyLevel
    service_level: int              # online public service level 1-4 (Decree 43/2011/NĐ-CP)
    fee_vnd: int
    legal_deadline_working_days: int
    required_documents: tuple[RequiredDocument, ...]
    field: str

    def document(self, code: str) -> RequiredDocument | None:
        return next((d for d in self.required_documents if d.code == code), None)

    @property
    def mandatory_documents(self) -> tuple[RequiredDocument, ...]:
        return tuple(d for d in self.required_documents if d.mandatory)


class Catalogue:
    def __init__(self, procedures: Iterable[Procedure]) -> None:
        self._by_code: dict[str, Procedure] = {}
        for procedure in procedures:
            if procedure.code in self._by_code:
                raise CatalogueError(f"procedure {procedure.code}: code appears twice")
            self._by_code[procedure.code] = procedure

    def __len__(self) -> int:
        return len(self._by_code)

    def find(self, code: str) -> Procedure | None:
        return self._by_code.get(code)

    def search(self, agency_code: str = "", service_level: int = 0, limit: int = 0) -> list[Procedure]:
        """Procedures in catalogue order; empty or zero arguments do not filter or limit."""
        found = [p for p in self._by_code.values()
                 if (not agency_code or p.agency_code == agency_code)
                 and (not service_level or p.service_level == service_level)]
        return found[:limit] if limit else found


def load_catalogue(path: Path = DEFAULT_PATH) -> Catalogue:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("procedures"), list):
        raise CatalogueError(f"{path}: expected an object with a 'procedures' list")
    return Catalogue(parse_procedure(entry, index) for index, entry in enumerate(data["procedures"]))


def parse_procedure(entry: Mapping[str, Any], index: int = 0) -> Procedure:
    where = f"procedure #{index} ({entry.get('code', '?')})"

    def text(key: str, pattern: re.Pattern[str] | None = None) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{where}: {key} must be a non-empty string")
        if pattern is not None and not pattern.fullmatch(value):
            raise CatalogueError(f"{where}: {key} {value!r} does not match {pattern.pattern}")
        return value

    def number(key: str, low: int, high: int) -> int:
        value = entry.get(key)
        # bool is an int in Python; a `true` fee is a mistake, not 1 VND
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise CatalogueError(f"{where}: {key} must be an integer in {low}..{high}")
        return value

    level = entry.get("agency_level")
    try:
        agency_level = AgencyLevel[str(level).upper()]
    except KeyError:
        raise CatalogueError(f"{where}: agency_level must be province, district or commune") from None
    documents = tuple(_parse_document(doc, where) for doc in entry.get("required_documents") or ())
    if not any(d.mandatory for d in documents):
        raise CatalogueError(f"{where}: required_documents must include a mandatory document")
    codes = [d.code for d in documents]
    if len(set(codes)) != len(codes):
        raise CatalogueError(f"{where}: required_documents has a repeated code")
    return Procedure(
        code=text("code", _PROCEDURE_CODE),
        name=text("name"),
        agency_code=text("agency_code", _AGENCY_CODE),
        agency_name=text("agency_name"),
        agency_level=agency_level,
        service_level=number("service_level", 1, 4),
        fee_vnd=number("fee_vnd", 0, 1_000_000_000),
        legal_deadline_working_days=number("legal_deadline_working_days", 1, 365),
        required_documents=documents,
        field=text("field"),
    )


def _parse_document(doc: Any, where: str) -> RequiredDocument:
    if not isinstance(doc, dict):
        raise CatalogueError(f"{where}: each required document must be an object")
    code, name, mandatory = doc.get("code"), doc.get("name"), doc.get("mandatory")
    if not isinstance(code, str) or not _DOCUMENT_CODE.fullmatch(code):
        raise CatalogueError(f"{where}: document code {code!r} does not match {_DOCUMENT_CODE.pattern}")
    if not isinstance(name, str) or not name.strip():
        raise CatalogueError(f"{where}: document {code} needs a name")
    if not isinstance(mandatory, bool):
        raise CatalogueError(f"{where}: document {code} needs mandatory true or false")
    return RequiredDocument(code=code, name=name, mandatory=mandatory)
