"""A procedure (thủ tục hành chính) as a publishing decision defines it, and a catalogue entry: that
procedure implemented by one unit (docs/CATALOGUE_FORMAT.md, `egov-catalogue/1`).

A procedure names the tiers that implement it, not the units: an entry exists for every unit of those
tiers, computed rather than stored, so a commune-level procedure exists once per commune without a
row per commune, and a new unit file re-expands every procedure at once.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from services.common.errors import InvalidArgument
from services.common.roles import Role
from services.procedures.domain.units import Unit, UnitTree
from services.procedures.domain.working_days import add_working_days, is_working_day

# The competent agency of a tier given as this word is each implementing unit's People's Committee.
EACH_UNIT = "unit"


class OnlineMode(StrEnum):
    """Decree 42/2022/NĐ-CP: full-process online (filed, paid and returned online) or partly online."""

    FULL = "full"
    PARTIAL = "partial"
    UNSTATED = "unstated"          # the source does not say (the national records do not): never guessed


class ApplicantKind(StrEnum):
    CITIZEN = "citizen"            # Vietnamese citizen (12-digit personal identification number)
    FOREIGNER = "foreigner"        # passport number and nationality
    ORGANISATION = "organisation"  # enterprise or organisation, by its registration code


class SubmissionChannel(StrEnum):
    DESK = "desk"
    ONLINE = "online"
    POST = "post"


class DeadlineKind(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"
    SAME_DAY = "same_day"          # settled the day received; the next working day if after the cutoff


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    days: float = 0                # whole or half days (2.5); 0 for same-day
    cutoff: time | None = None     # SAME_DAY only

    @property
    def whole_days(self) -> int:
        """The days counted to the appointment date: a half day ends on the day it falls in."""
        return math.ceil(self.days)

    def due(self, received: datetime) -> date:
        """The appointment date for a dossier received (accepted) at `received`, local time."""
        day = received.date()
        if self.kind is DeadlineKind.WORKING_DAYS:
            return add_working_days(day, self.whole_days)
        if self.kind is DeadlineKind.CALENDAR_DAYS:
            # Civil Code 2015 art. 148(5): a period ending on a day off ends on the next working day.
            return next_working_day(day + timedelta(days=self.whole_days), include=True)
        if is_working_day(day) and (self.cutoff is None or received.time() < self.cutoff):
            return day
        return next_working_day(day)

    def describe(self) -> str:
        if self.kind is DeadlineKind.WORKING_DAYS:
            return f"{_vietnamese_number(self.days)} ngày làm việc"
        if self.kind is DeadlineKind.CALENDAR_DAYS:
            return f"{_vietnamese_number(self.days)} ngày"
        cutoff = f" (sau {self.cutoff:%H:%M} trả trong ngày làm việc tiếp theo)" if self.cutoff else ""
        return f"trong ngày{cutoff}"


def _vietnamese_number(value: float) -> str:
    return f"{value:g}".replace(".", ",")          # 2,5: the decimal comma


def next_working_day(day: date, include: bool = False) -> date:
    """The first working day after `day` (or `day` itself when `include` and it is one)."""
    if include and is_working_day(day):
        return day
    return add_working_days(day, 1)


@dataclass(frozen=True)
class FeeCategory:
    """A reduction or an exemption for a category of applicant (amount 0: exempt)."""

    category: str                  # e.g. student, merit, child, poor
    name: str                      # as the fee's legal basis names it, in Vietnamese
    amount_vnd: int


@dataclass(frozen=True)
class FeeSchedule:
    amount_vnd: int                # the general case; 0 for a procedure without fee
    categories: tuple[FeeCategory, ...] = ()
    basis: str = ""
    note: str = ""                 # the published remark, e.g. that the People's Council sets the amount

    def fee_for(self, category: str) -> int:
        """The fee an applicant of `category` pays ("" for the general case); a category the
        procedure does not have is refused, naming the field."""
        if not category:
            return self.amount_vnd
        for entry in self.categories:
            if entry.category == category:
                return entry.amount_vnd
        known = ", ".join(c.category for c in self.categories) or "none"
        raise InvalidArgument("fee_category", f"this procedure has no fee category {category!r} (it has: {known})")


@dataclass(frozen=True)
class RequiredDocument:
    code: str
    name: str
    mandatory: bool
    form: str = ""                 # the form's number, e.g. "Mẫu số 03/2013/TT-LLTP"
    copies: int = 0                # how many; 0: not stated
    original: bool | None = None   # True: the original (bản chính); False: a copy (bản sao); None: not stated


@dataclass(frozen=True)
class ProcessStep:
    """One step of the internal process (quy trình nội bộ): who owns it and how long it may take."""

    name: str
    owner: str                     # "receiving", "competent", or a tier name for a hand-over between tiers
    role: Role
    working_days: float            # halves allowed


@dataclass(frozen=True)
class Procedure:
    code: str                      # national code, e.g. "2.000488"
    name: str
    field: str
    tiers: tuple[str, ...]
    competent_agency: Mapping[str, str]   # tier → agency code, or EACH_UNIT
    online: OnlineMode
    channels: tuple[SubmissionChannel, ...]
    deadline: Deadline
    fee: FeeSchedule
    documents: tuple[RequiredDocument, ...]
    applicants: tuple[ApplicantKind, ...]
    process: tuple[ProcessStep, ...]
    extension_working_days: int = 0       # 0: no extension allowed
    legal_basis: tuple[str, ...] = ()
    source: str = ""
    decision: str = ""                    # the publishing decision this definition comes from
    withdrawn: bool = False               # takes no new dossiers; readable for those filed under it
    withdrawn_by: str = ""                # the decision that withdrew it
    service_level: int = 0                # 1-4 under the repealed Decree 43/2011 where the source gives it

    @property
    def level(self) -> int:
        """The online service level older callers read: as the source gave it, else derived from the
        Decree 42/2022 mode (full-process online 4, partly online 3, not online at all 2)."""
        if self.service_level:
            return self.service_level
        if self.online is OnlineMode.FULL:
            return 4
        return 3 if SubmissionChannel.ONLINE in self.channels else 2

    def document(self, code: str) -> RequiredDocument | None:
        return next((d for d in self.documents if d.code == code), None)

    @property
    def mandatory_documents(self) -> tuple[RequiredDocument, ...]:
        return tuple(d for d in self.documents if d.mandatory)


@dataclass(frozen=True)
class CatalogueEntry:
    """A procedure implemented by one unit, and the agency competent to settle it there."""

    procedure: Procedure
    unit: Unit
    competent_agency_code: str

    @classmethod
    def of(cls, procedure: Procedure, unit: Unit) -> "CatalogueEntry | None":
        if unit.tier not in procedure.tiers:
            return None
        competent = procedure.competent_agency.get(unit.tier, EACH_UNIT)
        return cls(procedure, unit, unit.agency_code if competent == EACH_UNIT else competent)


class CatalogueReader(Protocol):
    """What the dossier rules read of the catalogue in force."""

    @property
    def units(self) -> UnitTree: ...

    def procedure(self, code: str) -> Procedure | None:
        """In force or withdrawn: dossiers filed under a withdrawn procedure still read it."""

    def entry(self, procedure_code: str, unit_code: str) -> CatalogueEntry | None:
        """None when there is no such procedure or unit, or the unit does not implement it."""
