"""The service layer of civil servants' accounts, operators only: registration with a second factor,
a second factor reset, a dismissal. Roles are appointments per agency (services/common/roles.py), kept in
the civil servant's record and carried in their token; the second factor lives in a collection of its own."""

from datetime import UTC, datetime, timedelta

from egov.identity.v1 import events_pb2 as events
from services.common.caller import Caller, CallerKind
from services.common.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from services.common.mongo_store import Transaction
from services.identity.adapters.password_hashing import PasswordHasher
from services.identity.adapters.repository import Duplicate, IdentityRepository
from services.identity.adapters.second_factors import SecondFactors
from services.identity.adapters.sessions import SessionStore
from services.identity.domain import commands
from services.identity.domain.civil_servant import Onboarded, appoint_civil_servant
from services.identity.domain.second_factor import SecondFactor, enroll
from services.identity.domain.sessions import account_of, revocation_end
from services.identity.handlers import UnitOfWork


def _operator(caller: Caller, what: str) -> None:
    if caller.kind is not CallerKind.OPERATOR:
        raise PermissionDenied("caller", f"only an operator may {what}")


def register_civil_servant(uow: UnitOfWork, passwords: PasswordHasher, command: commands.RegisterCivilServant,
                           caller: Caller) -> Onboarded:
    _operator(caller, "register civil servants")
    civil_servant = appoint_civil_servant(command.civil_servant_id, command.full_name, command.agency_code,
                                          command.role, command.ecard_serial, command.password, passwords.hash,
                                          command.appointments)
    factor = enroll(civil_servant.civil_servant_id)

    def store(tx: Transaction) -> None:
        tx.repository(IdentityRepository).add_civil_servant(civil_servant)
        tx.repository(SecondFactors).enroll(factor)
        tx.emit(events.CivilServantRegistered(civil_servant_id=civil_servant.civil_servant_id,
                                              agency_code=civil_servant.agency_code, role=civil_servant.role,
                                              appointments=[a.to_claim() for a in civil_servant.appointments]),
                subject=civil_servant.civil_servant_id)

    try:
        uow.transaction(store)
    except Duplicate as exc:
        if exc.key == "ecard_serial":
            raise AlreadyExists("ecard_serial", "this e-card is already assigned") from exc
        raise AlreadyExists("civil_servant_id", "a civil servant with this ID is already registered") from exc
    return Onboarded(civil_servant, factor)


def reset_second_factor(uow: UnitOfWork, token_lifetime: timedelta, command: commands.ResetSecondFactor,
                        caller: Caller, now: datetime | None = None) -> SecondFactor:
    """The new factor, to be shown to the civil servant this once."""
    _operator(caller, "reset a second factor")
    civil_servant = uow.repository(IdentityRepository).civil_servant(command.civil_servant_id.strip())
    if civil_servant is None:
        raise NotFound("civil_servant_id", "no civil servant is registered with this ID")
    factor = enroll(civil_servant.civil_servant_id)
    moment = now or datetime.now(UTC)

    def store(tx: Transaction) -> None:
        tx.repository(SecondFactors).enroll(factor)
        tx.repository(SessionStore).revoke(account_of(CallerKind.CIVIL_SERVANT, civil_servant.civil_servant_id),
                                           revocation_end(moment, token_lifetime))

    uow.transaction(store)
    return factor


def dismiss_civil_servant(uow: UnitOfWork, token_lifetime: timedelta, command: commands.DismissCivilServant,
                          caller: Caller, now: datetime | None = None) -> datetime:
    """When the civil servant was dismissed."""
    _operator(caller, "dismiss civil servants")
    if not command.reason.strip():
        raise InvalidArgument("reason", "is required: say why, for the record")
    civil_servant = uow.repository(IdentityRepository).civil_servant(command.civil_servant_id.strip())
    if civil_servant is None:
        raise NotFound("civil_servant_id", "no civil servant is registered with this ID")
    moment = now or datetime.now(UTC)

    def store(tx: Transaction) -> None:
        tx.repository(SecondFactors).dismiss(civil_servant.civil_servant_id, moment)
        tx.repository(SessionStore).revoke(account_of(CallerKind.CIVIL_SERVANT, civil_servant.civil_servant_id),
                                           revocation_end(moment, token_lifetime))
        tx.emit(events.CivilServantDismissed(civil_servant_id=civil_servant.civil_servant_id,
                                             agency_code=civil_servant.agency_code, reason=command.reason.strip()),
                subject=civil_servant.civil_servant_id)

    uow.transaction(store)
    return moment
