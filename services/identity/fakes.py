"""In-memory twins of identity's account repository and its dossier filings (adapters/repository.py,
adapters/dossier_filings.py), with the MongoDB adapters' rules: a citizen ID, tax code, civil
servant ID or e-card serial taken twice raises Duplicate naming the key, a civil servant's
appointments read back as the database gives them, a filing is kept from its first dossier.
tests/contract/test_identity_repositories.py holds each twin and its adapter to the same contract;
tests/unit/identity/test_handlers*.py run the service layer on them.

And the stores registration.py, sign_in.py and civil_servants.py use: one-time code verifications,
rate-limit counters, session epochs, second factors and failed sign-ins. Their MongoDB TTL indexes
are not modelled: what has expired is judged by its time, as the adapters' readers do."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from services.common.memory_store import InMemoryStore
from services.identity.adapters.dossier_filings import DossierFilings
from services.identity.adapters.repository import (
    BUSINESSES,
    CITIZENS,
    CIVIL_SERVANTS,
    Duplicate,
    IdentityRepository,
)
from services.identity.adapters.second_factors import SecondFactors
from services.identity.adapters.sessions import SessionStore
from services.identity.adapters.sign_in_failures import FailureStore
from services.identity.adapters.verifications import Counters, VerificationStore
from services.identity.domain.business import Business
from services.identity.domain.citizen import Citizen
from services.identity.domain.civil_servant import CivilServant, appointments_of
from services.identity.domain.second_factor import SecondFactor
from services.identity.domain.sessions import Revocation
from services.identity.domain.sign_in_limits import FORGET_AFTER, Counted
from services.identity.domain.verification import MAX_CODE_ATTEMPTS, Verification


class InMemoryIdentityRepository:
    def __init__(self) -> None:
        self.citizens: dict[str, Citizen] = {}
        self.businesses: dict[str, Business] = {}
        self.civil_servants: dict[str, CivilServant] = {}

    def add_citizen(self, citizen: Citizen) -> None:
        if citizen.citizen_id in self.citizens:
            raise Duplicate(CITIZENS, "_id")
        self.citizens[citizen.citizen_id] = citizen

    def citizen(self, citizen_id: str) -> Citizen | None:
        return self.citizens.get(citizen_id)

    def recover_citizen(self, citizen: Citizen) -> None:
        held = self.citizens.get(citizen.citizen_id)
        if held is not None:
            self.citizens[citizen.citizen_id] = replace(
                held, phone=citizen.phone, email=citizen.email, notification_channels=citizen.notification_channels,
                password_hash=citizen.password_hash)

    def add_business(self, business: Business) -> None:
        if business.tax_code in self.businesses:
            raise Duplicate(BUSINESSES, "_id")
        self.businesses[business.tax_code] = business

    def business(self, tax_code: str) -> Business | None:
        return self.businesses.get(tax_code)

    def add_civil_servant(self, civil_servant: CivilServant) -> None:
        if civil_servant.civil_servant_id in self.civil_servants:
            raise Duplicate(CIVIL_SERVANTS, "_id")
        serial = civil_servant.ecard_serial
        if serial and any(held.ecard_serial == serial for held in self.civil_servants.values()):
            raise Duplicate(CIVIL_SERVANTS, "ecard_serial")
        self.civil_servants[civil_servant.civil_servant_id] = civil_servant

    def civil_servant(self, civil_servant_id: str) -> CivilServant | None:
        held = self.civil_servants.get(civil_servant_id)
        if held is None:
            return None
        claims = tuple(a.to_claim() for a in held.appointments)
        return replace(held, appointments=appointments_of(held.agency_code, held.role, claims))


@dataclass(frozen=True)
class Filing:
    first_dossier: str
    since: datetime


class InMemoryDossierFilings:
    def __init__(self) -> None:
        self.filings: dict[tuple[str, str], Filing] = {}

    def record(self, citizen_id: str, agency_code: str, dossier_code: str, at: datetime) -> None:
        self.filings.setdefault((citizen_id, agency_code), Filing(dossier_code, at))

    def has_filed_with(self, citizen_id: str, agency_code: str) -> bool:
        return (citizen_id, agency_code) in self.filings


class InMemoryVerifications:
    def __init__(self) -> None:
        self.verifications: dict[str, Verification] = {}

    def add(self, verification: Verification) -> None:
        if verification.verification_id in self.verifications:
            raise DuplicateKeyError(f"verification {verification.verification_id} exists")
        self.verifications[verification.verification_id] = verification

    def get(self, verification_id: str) -> Verification | None:
        return self.verifications.get(verification_id)

    def count_attempt(self, verification_id: str) -> None:
        held = self.verifications.get(verification_id)
        if held is not None:
            self.verifications[verification_id] = replace(held, attempts=held.attempts + 1)

    def spend(self, verification_id: str) -> bool:
        held = self.verifications.get(verification_id)
        if held is None or held.used or held.attempts >= MAX_CODE_ATTEMPTS:
            return False
        self.verifications[verification_id] = replace(held, used=True)
        return True


class InMemoryCounters:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def hit(self, counter_id: str, expires_at: datetime) -> int:
        self.counts[counter_id] = self.counts.get(counter_id, 0) + 1
        return self.counts[counter_id]


class InMemorySessions:
    def __init__(self) -> None:
        self.accounts: dict[str, tuple[int, datetime]] = {}     # account -> (epoch, revoked until)

    def epoch(self, account: str) -> int:
        return self.accounts[account][0] if account in self.accounts else 0

    def revoke(self, account: str, until: datetime) -> int:
        epoch, revoked_until = self.accounts.get(account, (0, until))
        self.accounts[account] = (epoch + 1, max(revoked_until, until))
        return epoch + 1

    def revoked(self, now: datetime) -> list[Revocation]:
        return [Revocation(account, epoch, until) for account, (epoch, until) in self.accounts.items() if until > now]


class InMemorySecondFactors:
    def __init__(self) -> None:
        self.factors: dict[str, SecondFactor] = {}

    def get(self, civil_servant_id: str) -> SecondFactor | None:
        return self.factors.get(civil_servant_id)

    def enroll(self, factor: SecondFactor) -> None:
        held = self.factors.get(factor.civil_servant_id)
        self.factors[factor.civil_servant_id] = SecondFactor(factor.civil_servant_id, factor.secret, -1,
                                                             held.dismissed_at if held else None)

    def use_step(self, civil_servant_id: str, step: int) -> bool:
        held = self.factors.get(civil_servant_id)
        if held is None or held.last_step >= step:
            return False
        self.factors[civil_servant_id] = replace(held, last_step=step)
        return True

    def dismiss(self, civil_servant_id: str, now: datetime) -> None:
        held = self.factors.get(civil_servant_id) or SecondFactor(civil_servant_id, "")
        first = min(held.dismissed_at, now) if held.dismissed_at else now
        self.factors[civil_servant_id] = replace(held, dismissed_at=first)


@dataclass(frozen=True)
class Failures:
    count: int
    last_failure: datetime
    expires_at: datetime


class InMemoryFailures:
    def __init__(self) -> None:
        self.failures: dict[str, Failures] = {}

    def wait(self, keys: list[Counted], now: datetime) -> tuple[timedelta, bool]:
        longest, seen = timedelta(0), False
        for counted in keys:
            held = self.failures.get(counted.key)
            if held is None:
                continue
            seen = True
            if held.expires_at > now:
                longest = max(longest, counted.backoff.wait(held.count, held.last_failure, now))
        return longest, seen

    def record(self, keys: list[Counted], now: datetime) -> None:
        for counted in keys:
            held = self.failures.get(counted.key)
            self.failures[counted.key] = Failures((held.count if held else 0) + 1, now, now + FORGET_AFTER)

    def clear(self, keys: list[str]) -> None:
        for key in keys:
            self.failures.pop(key, None)


def in_memory_store() -> InMemoryStore:
    """identity's store with every repository in memory."""
    return InMemoryStore("identity", {
        IdentityRepository: InMemoryIdentityRepository(), DossierFilings: InMemoryDossierFilings(),
        VerificationStore: InMemoryVerifications(), Counters: InMemoryCounters(), SessionStore: InMemorySessions(),
        SecondFactors: InMemorySecondFactors(), FailureStore: InMemoryFailures()})
