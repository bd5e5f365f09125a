"""The service layer of registration and account recovery: a person proves they are who they say by
typing back a code that the national population database sent to the phone or e-mail address it holds
for them.

    RequestVerificationCode  rate limits -> the database sends a code (or not) -> a verification stored
    RegisterCitizen          the code checked -> the account, its event, the verification spent
    RecoverAccount           the code checked -> the owner's contact details and password, every
                             earlier session revoked, its event (no code, no password in it)

Every failed check (unknown ID, other name or birth date, deceased, no contact on file, wrong or
expired code) ends in the same answer at the same step; only after the code is proved does anyone
learn that an account already exists.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from egov.identity.v1 import events_pb2 as events
from services.common.caller import Caller, CallerKind
from services.common.citizen_id import check_citizen_id
from services.common.errors import AlreadyExists, InvalidArgument, NotFound
from services.common.mongo_store import Transaction
from services.identity.adapters.password_hashing import PasswordHasher
from services.identity.adapters.population import PopulationRegistry
from services.identity.adapters.repository import Duplicate, IdentityRepository
from services.identity.adapters.sessions import SessionStore
from services.identity.adapters.sign_in_failures import FailureStore
from services.identity.adapters.verifications import Counters, VerificationStore
from services.identity.domain import commands
from services.identity.domain import verification as codes
from services.identity.domain.citizen import (
    MIN_ACCOUNT_AGE,
    Citizen,
    CitizenApplication,
    age_on,
    check_application,
    open_account,
    parse_birth_date,
    recover_account,
)
from services.identity.domain.contact import channels_named
from services.identity.domain.names import normalize_full_name
from services.identity.domain.population import require_answer
from services.identity.domain.rate_limits import CodePolicy, Limit, over_limit
from services.identity.domain.sessions import Revocation, account_of, revocation_end
from services.identity.domain.sign_in_limits import cleared_keys
from services.identity.handlers import CITIZEN_ALREADY_REGISTERED, UnitOfWork
from services.identity.translation import address_message, channel_value, local_today

log = logging.getLogger(__name__)
_VERIFIERS = (CallerKind.ANONYMOUS, CallerKind.CIVIL_SERVANT, CallerKind.AGENCY, CallerKind.OPERATOR)


@dataclass(frozen=True)
class Person:
    citizen_id: str
    full_name: str
    birth_date: str


def check_person(citizen_id: str, full_name: str, birth_date: str, now: datetime) -> Person:
    """What can be said of the details alone, without asking anyone (so it reveals nothing)."""
    today = local_today(now)
    checked_id = check_citizen_id(citizen_id.strip())
    born = parse_birth_date(birth_date, today)
    check_citizen_id(checked_id, birth_year=born.year)
    if age_on(born, today) < MIN_ACCOUNT_AGE:
        raise InvalidArgument("birth_date", f"an account needs an age of at least {MIN_ACCOUNT_AGE}")
    return Person(checked_id, normalize_full_name(full_name), born.isoformat())


def request_verification_code(uow: UnitOfWork, population: PopulationRegistry, policy: CodePolicy,
                              command: commands.RequestVerificationCode, caller: Caller, client_address: str,
                              now: datetime | None = None) -> codes.Verification:
    """The verification stored, whatever the registry did (its id is what the person sends back)."""
    caller.require(*_VERIFIERS)
    moment = now or datetime.now(UTC)
    purpose = codes.purpose_named(command.purpose)
    person = check_person(command.citizen_id, command.full_name, command.birth_date, moment)
    counters = uow.repository(Counters)
    source_limits, source = policy.for_source(caller, client_address)
    _count(counters, source_limits, source, moment, "caller", "this caller")
    _count(counters, policy.per_person, person.citizen_id, moment, "citizen_id", "this citizen ID")

    code = f"{secrets.randbelow(10 ** codes.CODE_DIGITS):0{codes.CODE_DIGITS}d}"
    outcome = population.send_code(person.citizen_id, person.full_name, person.birth_date, code, purpose)
    require_answer(outcome)   # no answer at all is the same for everyone, so it may be said
    # Stored whatever the outcome: when the code was not sent, nobody knows it and it fails later
    # like any wrong code.
    verification = codes.issue(secrets.token_urlsafe(24), purpose, person.citizen_id, person.full_name,
                               person.birth_date, code, secrets.token_hex(16), moment)
    uow.repository(VerificationStore).add(verification)
    return verification


def _count(counters: Counters, limits: tuple[Limit, ...], key: str, now: datetime, field: str, who: str) -> None:
    for limit in limits:
        counter_id, ends = limit.window_of(key, now)
        refusal = over_limit(limit, counters.hit(counter_id, ends), ends, field, who)
        if refusal is not None:
            raise refusal


def prove(store: VerificationStore, verification_id: str, purpose: codes.Purpose, person: Person, code: str,
          now: datetime) -> codes.Verification:
    """The verification, if `code` proves possession for this person and purpose; else the one refusal
    (and the wrong try counted)."""
    verification = store.get(verification_id) if verification_id else None
    if verification is None:
        raise codes.refused()
    if not codes.code_accepted(verification, purpose, person.citizen_id, person.full_name, person.birth_date,
                               code, now):
        store.count_attempt(verification.verification_id)
        raise codes.refused()
    return verification


def register_citizen(uow: UnitOfWork, passwords: PasswordHasher, command: commands.RegisterCitizen,
                     caller: Caller, now: datetime | None = None) -> Citizen:
    caller.require(*_VERIFIERS)
    moment = now or datetime.now(UTC)
    application = check_application(CitizenApplication(
        citizen_id=command.citizen_id, full_name=command.full_name, birth_date=command.birth_date,
        phone=command.phone, email=command.email, address=command.address, password=command.password,
        notification_channels=channels_named(command.notification_channels),
    ), today=local_today(moment))
    person = Person(application.citizen_id, application.full_name, application.birth_date.isoformat())
    store = uow.repository(VerificationStore)
    verification = prove(store, command.verification_id.strip(), codes.Purpose.REGISTRATION, person,
                         command.verification_code.strip(), moment)
    if uow.repository(IdentityRepository).citizen(application.citizen_id) is not None:
        store.spend(verification.verification_id)   # proved: the owner may know, and recover instead
        raise AlreadyExists("citizen_id", f"{CITIZEN_ALREADY_REGISTERED}; if it was not you, recover the account "
                                          "with a code for ACCOUNT_RECOVERY")
    citizen = open_account(application, passwords.hash, moment)

    def store_account(tx: Transaction) -> None:
        if not tx.repository(VerificationStore).spend(verification.verification_id):
            raise codes.refused()   # spent by a concurrent request with the same code
        tx.repository(IdentityRepository).add_citizen(citizen)
        tx.emit(events.CitizenRegistered(
            citizen_id=citizen.citizen_id, full_name=citizen.full_name, phone=citizen.phone,
            email=citizen.email, address=address_message(citizen.address),
            notification_channels=[channel_value(c) for c in citizen.notification_channels],
        ), subject=citizen.citizen_id)

    try:
        uow.transaction(store_account)
    except Duplicate as exc:
        raise AlreadyExists("citizen_id", CITIZEN_ALREADY_REGISTERED) from exc
    return citizen


def recover_citizen_account(uow: UnitOfWork, passwords: PasswordHasher, token_lifetime: timedelta,
                            command: commands.RecoverAccount, caller: Caller,
                            now: datetime | None = None) -> Citizen:
    caller.require(*_VERIFIERS)
    moment = now or datetime.now(UTC)
    person = check_person(command.citizen_id, command.full_name, command.birth_date, moment)
    store = uow.repository(VerificationStore)
    verification = prove(store, command.verification_id.strip(), codes.Purpose.ACCOUNT_RECOVERY, person,
                         command.verification_code.strip(), moment)
    citizen = uow.repository(IdentityRepository).citizen(person.citizen_id)
    if citizen is None:
        store.spend(verification.verification_id)   # proved: the person may know
        raise NotFound("citizen_id", "no account is registered with this ID: register instead")
    recovered = recover_account(citizen, command.phone, command.email,
                                channels_named(command.notification_channels), command.new_password,
                                passwords.hash)
    account = account_of(CallerKind.CITIZEN, citizen.citizen_id)

    def store_recovery(tx: Transaction) -> None:
        if not tx.repository(VerificationStore).spend(verification.verification_id):
            raise codes.refused()
        tx.repository(IdentityRepository).recover_citizen(recovered)
        tx.repository(SessionStore).revoke(account, revocation_end(moment, token_lifetime))
        tx.emit(events.CitizenAccountRecovered(
            citizen_id=recovered.citizen_id, phone=recovered.phone, email=recovered.email,
            notification_channels=[channel_value(c) for c in recovered.notification_channels],
        ), subject=recovered.citizen_id)

    uow.transaction(store_recovery)
    uow.repository(FailureStore).clear(cleared_keys(account))    # the owner signs in at once, whoever failed before
    return recovered


def list_revocations(uow: UnitOfWork, command: commands.ListRevocations,
                     now: datetime | None = None) -> list[Revocation]:
    """For the gateways (internal bus only): accounts whose earlier sessions are revoked."""
    revoked = uow.repository(SessionStore).revoked(now or datetime.now(UTC))
    log.debug("revocation list for gateway %s: %d account(s)", command.gateway or "(unnamed)", len(revoked))
    return revoked
