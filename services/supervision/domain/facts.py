"""What the index knows of one dossier: facts folded from its events, each set once.

Every event adds facts (submitted on, accepted on, settled on with what timeliness, an apology by
its event id...) and never removes one, so applying an event again, or late, leaves the facts as
they were: the projection is idempotent and a rebuild from the archive reaches the same facts.
The one value that moves, the appointment date (a supplement, an apology, an extension move it),
is taken from the latest event by its occurrence time (the later date on a tie), so an old event
applied late cannot move it back, and the order events are handled in (workers run side by side)
never changes the result.
"""

from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import Any

# The one working-day calendar of the platform (Tết and the other holidays), plain Python.
from services.procedures.domain.working_days import working_days_between


class Channel:
    ONLINE = "online"
    DESK = "desk"
    POST = "post"


@dataclass(frozen=True)
class Apology:
    event_id: str
    on: str                       # date issued, YYYY-MM-DD (Vietnam time)
    responsible_agency: str
    reason: str
    previous_due_date: str
    new_due_date: str
    reappointment: int
    letter_number: str


@dataclass(frozen=True)
class DossierFacts:
    code: str
    procedure_code: str = ""
    procedure_name: str = ""
    competent_agency: str = ""
    receiving_agency: str = ""
    handling_agency: str = ""
    handling_at: str = ""         # occurrence time of the event that set handling_agency
    units: tuple[str, ...] = ()   # the implementing unit and every unit above it
    channel: str = ""
    submitted_on: str = ""        # YYYY-MM-DD; "" when only later events were seen
    has_fee: bool = False
    paid_online: bool = False
    accepted_on: str = ""
    due_date: str = ""
    due_at: str = ""              # occurrence time of the event that set due_date
    supplement_requested: bool = False
    by_post: bool = False
    returned_to_desk: bool = False
    settled_on: str = ""          # the result issued (Decision 766: settled)
    timeliness: str = ""          # early, on_time, late
    rejected_on: str = ""
    completed_on: str = ""
    apologies: tuple[Apology, ...] = ()
    extensions: tuple[tuple[str, str], ...] = ()   # (event id, date granted) of each extension
    pauses: tuple[tuple[str, int], ...] = ()       # (event id, working days) of each supplement pause
    overdue_responsible: str = ""         # the agency holding it when it went overdue

    @property
    def is_open(self) -> bool:
        return bool(self.submitted_on) and not (self.settled_on or self.rejected_on or self.completed_on)

    def with_ref(self, ref: "Ref") -> "DossierFacts":
        """Identity facts from any event's DossierRef, filled where still unknown."""
        changes: dict[str, Any] = {}
        for name in ("procedure_code", "procedure_name", "competent_agency", "receiving_agency", "channel"):
            if not getattr(self, name) and getattr(ref, name):
                changes[name] = getattr(ref, name)
        if not self.units and ref.units:
            changes["units"] = ref.units
        if ref.handling_agency and (ref.occurred_at, ref.handling_agency) > (self.handling_at, self.handling_agency):
            changes["handling_agency"] = ref.handling_agency
            changes["handling_at"] = ref.occurred_at
        return replace(self, **changes) if changes else self

    def with_due_date(self, due_date: str, occurred_at: str) -> "DossierFacts":
        if not due_date or (occurred_at, due_date) <= (self.due_at, self.due_date):
            return self     # older, or the same instant (the later date wins a tie, in any order)
        return replace(self, due_date=due_date, due_at=occurred_at)

    def with_apology(self, apology: Apology) -> "DossierFacts":
        if any(a.event_id == apology.event_id for a in self.apologies):
            return self
        return replace(self, apologies=tuple(sorted((*self.apologies, apology), key=lambda a: a.event_id)))

    def with_extension(self, event_id: str, on: str) -> "DossierFacts":
        if any(e == event_id for e, _ in self.extensions):
            return self
        return replace(self, extensions=tuple(sorted((*self.extensions, (event_id, on)))))

    def with_pause(self, event_id: str, working_days: int) -> "DossierFacts":
        if any(e == event_id for e, _ in self.pauses):
            return self
        return replace(self, pauses=tuple(sorted((*self.pauses, (event_id, working_days)))))

    @property
    def paused_days(self) -> int:
        return sum(days for _, days in self.pauses)

    def settle(self, on: str, timeliness: str) -> "DossierFacts":
        if self.settled_on:
            return self
        return replace(self, settled_on=on, timeliness=timeliness)

    @property
    def processing_days(self) -> int:
        """Working days from acceptance to the result, less the supplement pauses; -1 if unknown."""
        if not (self.accepted_on and self.settled_on):
            return -1
        return max(0, _working_days(self.accepted_on, self.settled_on) - self.paused_days)


@lru_cache(maxsize=65536)
def _working_days(start: str, end: str) -> int:
    return working_days_between(date.fromisoformat(start), date.fromisoformat(end))


@dataclass(frozen=True)
class Ref:
    """The parts of an event's DossierRef the index uses, in plain values."""

    code: str
    procedure_code: str
    procedure_name: str
    competent_agency: str
    receiving_agency: str
    handling_agency: str
    units: tuple[str, ...]
    channel: str
    occurred_at: str              # RFC 3339, Vietnam time

    @property
    def on(self) -> str:
        return self.occurred_at[:10]
