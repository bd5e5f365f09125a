"""In-memory twins of the procedures repositories (adapters/repository.py, adapters/directory.py)
and of the applicant verifier (identity's registries), with the real adapters' rules: a dossier code
or request key used twice raises DuplicateKeyError (the unique indexes), what is read is a copy,
each receiving unit numbers its dossiers per day from 1. tests/contract/test_procedures_ports.py
holds each repository twin and its MongoDB adapter to the same contract; the handler tests
(tests/unit/procedures/test_handlers*.py, test_queries.py) run the service layer and the reads
(queries.py) on them.

One thing only MongoDB has: a dossier document written before `watched_due_date` was stored, which
the adapter's overdue filter judges by its appointment; every dossier held here has its deadlines."""

import copy
from datetime import date, datetime

from pymongo.errors import DuplicateKeyError

from services.common.memory_store import InMemoryStore
from services.common.roles import Appointment, Role
from services.procedures.adapters.directory import Directory
from services.procedures.adapters.repository import CitizenRegistry, DossierRepository
from services.procedures.domain.desks import ANY_AGENCY, Desk
from services.procedures.domain.dossier import CLOCK_RUNNING, Dossier
from services.procedures.domain.queue import QueueQuery, queue_position
from services.procedures.reception import ApplicantVerifier, Verdict


class InMemoryDossiers:
    def __init__(self) -> None:
        self.dossiers: dict[str, tuple[Dossier, str]] = {}     # code -> (dossier, request key)
        self.counters: dict[str, int] = {}

    def get(self, code: str) -> Dossier | None:
        held = self.dossiers.get(code)
        return copy.deepcopy(held[0]) if held else None

    def find_by_request_key(self, request_key: str) -> Dossier | None:
        return next((copy.deepcopy(d) for d, key in self.dossiers.values() if key == request_key), None)

    def add(self, dossier: Dossier, request_key: str = "") -> None:
        key = request_key or f"dossier:{dossier.code}"
        if dossier.code in self.dossiers or any(k == key for _, k in self.dossiers.values()):
            raise DuplicateKeyError(f"dossier {dossier.code} ({key}) exists")
        self.dossiers[dossier.code] = (copy.deepcopy(dossier), key)

    def save(self, dossier: Dossier) -> None:
        if dossier.code in self.dossiers:      # update_one without upsert; the request key stays
            self.dossiers[dossier.code] = (copy.deepcopy(dossier), self.dossiers[dossier.code][1])

    def queue(self, query: QueueQuery, after: str, limit: int) -> list[Dossier]:
        found = sorted((d for d, _ in self.dossiers.values() if query.matches(d)), key=queue_position)
        return [copy.deepcopy(d) for d in found if queue_position(d) > after][:limit]

    def codes_to_watch(self, horizon: date, after: str, limit: int) -> list[str]:
        def watched(d: Dossier) -> bool:
            earliest = d.earliest_watched_due()
            return d.status in CLOCK_RUNNING and ((earliest is not None and earliest <= horizon)
                                                  or (d.due_date is not None and d.due_date <= horizon))
        return sorted(code for code, (d, _) in self.dossiers.items() if code > after and watched(d))[:limit]

    def next_sequence(self, agency_code: str, day: date) -> int:
        key = f"{agency_code}:{day.isoformat()}"
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]


class InMemoryCitizens:
    def __init__(self) -> None:
        self.citizens: dict[str, tuple[str, datetime]] = {}

    def record(self, citizen_id: str, full_name: str, registered_at: datetime) -> None:
        self.citizens[citizen_id] = (full_name, registered_at)

    def is_registered(self, citizen_id: str) -> bool:
        return citizen_id in self.citizens

    def full_name(self, citizen_id: str) -> str | None:
        held = self.citizens.get(citizen_id)
        return held[0] if held else None


class InMemoryDirectory:
    def __init__(self) -> None:
        self._desks: dict[str, Desk] = {}
        self.roster: dict[str, tuple[str, ...]] = {}

    def desk(self, agency_code: str) -> Desk | None:
        return self._desks.get(agency_code)

    def desk_for(self, competent_agency_code: str, unit_codes: tuple[str, ...]) -> Desk | None:
        found = [d for d in self._desks.values() if competent_agency_code in d.accepts or ANY_AGENCY in d.accepts]
        rank = {code: i for i, code in enumerate(unit_codes)}
        found.sort(key=lambda d: (rank.get(d.unit_code, len(rank)), d.agency_code))
        return found[0] if found else None

    def desks(self) -> list[Desk]:
        return [self._desks[code] for code in sorted(self._desks)]

    def put_desk(self, desk: Desk) -> None:
        self._desks[desk.agency_code] = desk

    def record_civil_servant(self, civil_servant_id: str, appointments: tuple[Appointment, ...]) -> None:
        self.roster[civil_servant_id] = tuple(a.to_claim() for a in appointments)

    def holds(self, civil_servant_id: str, role: Role, agency_code: str) -> bool:
        return Appointment(agency_code, role).to_claim() in self.roster.get(civil_servant_id, ())


class KnownApplicants(ApplicantVerifier):
    """Identity's registries as the verifier sees them: the people and businesses it knows."""

    def __init__(self, people: dict[str, tuple[str, str]] | None = None,
                 businesses: dict[str, str] | None = None) -> None:
        self.people = people or {}            # citizen id -> (full name, birth date)
        self.businesses = businesses or {}    # tax code -> name

    def person(self, citizen_id: str, full_name: str, birth_date: str) -> Verdict:
        if citizen_id not in self.people:
            return Verdict.NOT_FOUND
        return Verdict.MATCH if self.people[citizen_id] == (full_name, birth_date) else Verdict.MISMATCH

    def business(self, tax_code: str, name: str) -> Verdict:
        if tax_code not in self.businesses:
            return Verdict.NOT_FOUND
        return Verdict.MATCH if self.businesses[tax_code] == name else Verdict.MISMATCH


def in_memory_store() -> InMemoryStore:
    """The procedures service's store with every repository in memory."""
    return InMemoryStore("procedures", {DossierRepository: InMemoryDossiers(), CitizenRegistry: InMemoryCitizens(),
                                        Directory: InMemoryDirectory()})
