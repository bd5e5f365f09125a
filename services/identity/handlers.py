"""The service layer of identity: one function per RPC; proto requests in, proto responses out.

Calls to the population and business registration databases (through the gateway's outbound
exchange) happen before, and outside, the transaction that stores the account or business and its
event; a retried transaction therefore never asks a registry twice.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

from pymongo.database import Database

from egov.common.v1 import caller_pb2 as common_pb
from egov.identity.v1 import events_pb2 as events
from egov.identity.v1 import identity_pb2 as pb
from services.common.caller import Caller, CallerKind
from services.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from services.common.mongo_store import Transaction
from services.identity.adapters.business_registry import BusinessRegistry
from services.identity.adapters.password_hashing import PasswordHasher
from services.identity.adapters.population import PopulationRegistry
from services.identity.adapters.repository import Duplicate, IdentityRepository
from services.identity.adapters.signing import TokenSigner
from services.identity.domain.business import Business, check_business, require_registered
from services.identity.domain.citizen import (
    CheckedApplication,
    Citizen,
    CitizenApplication,
    check_application,
    open_account,
)
from services.identity.domain.civil_servant import CivilServant, appoint_civil_servant
from services.identity.domain.contact import Address, NotificationChannel
from services.identity.domain.passwords import MAX_PASSWORD, unknown_account_hash
from services.identity.domain.population import require_match

T = TypeVar("T")
VIETNAM = timezone(timedelta(hours=7), "ICT")
WRONG_CREDENTIALS = "citizen ID or password is wrong"
CITIZEN_ALREADY_REGISTERED = "a citizen with this ID is already registered"
WRONG_CIVIL_SERVANT_CREDENTIALS = "civil servant ID or password is wrong"


class UnitOfWork(Protocol):
    db: Database[Any]

    def transaction(self, fn: Callable[[Transaction], T]) -> T: ...


# -- translation between the contract and the domain ----------------------------------------------
def _address(message: common_pb.Address) -> Address:
    return Address(street=message.street, commune=message.commune, district=message.district,
                   province=message.province)


def _address_message(address: Address) -> common_pb.Address:
    return common_pb.Address(street=address.street, commune=address.commune, district=address.district,
                             province=address.province)


def _channel(value: "common_pb.NotificationChannel.ValueType") -> NotificationChannel:
    name = common_pb.NotificationChannel.Name(value).removeprefix("NOTIFICATION_CHANNEL_")
    if name not in NotificationChannel.__members__:
        raise InvalidArgument("notification_channels", "each channel must be EMAIL, SMS or PUSH")
    return NotificationChannel[name]


def _channel_value(channel: NotificationChannel) -> "common_pb.NotificationChannel.ValueType":
    return common_pb.NotificationChannel.Value(f"NOTIFICATION_CHANNEL_{channel.value}")


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _citizen_message(citizen: Citizen) -> pb.Citizen:
    return pb.Citizen(
        citizen_id=citizen.citizen_id, full_name=citizen.full_name, birth_date=citizen.birth_date.isoformat(),
        phone=citizen.phone, email=citizen.email, address=_address_message(citizen.address),
        notification_channels=[_channel_value(c) for c in citizen.notification_channels],
        registered_at=_rfc3339(citizen.registered_at),
    )


def _business_message(business: Business) -> pb.Business:
    return pb.Business(tax_code=business.tax_code, name=business.name,
                       owner_citizen_id=business.owner_citizen_id, address=_address_message(business.address))


def _civil_servant_message(civil_servant: CivilServant) -> pb.CivilServant:
    return pb.CivilServant(civil_servant_id=civil_servant.civil_servant_id, full_name=civil_servant.full_name,
                           agency_code=civil_servant.agency_code, role=civil_servant.role,
                           ecard_serial=civil_servant.ecard_serial)


# -- citizens ---------------------------------------------------------------------------------------
def register_citizen(uow: UnitOfWork, population: PopulationRegistry, passwords: PasswordHasher,
                     request: pb.RegisterCitizenRequest, caller: Caller,
                     now: datetime | None = None) -> pb.RegisterCitizenResponse:
    caller.require(CallerKind.ANONYMOUS, CallerKind.CIVIL_SERVANT, CallerKind.AGENCY, CallerKind.OPERATOR)
    moment = now or datetime.now(UTC)
    application = check_application(CitizenApplication(
        citizen_id=request.citizen_id, full_name=request.full_name, birth_date=request.birth_date,
        phone=request.phone, email=request.email, address=_address(request.address),
        password=request.password,
        notification_channels=[_channel(c) for c in request.notification_channels],
    ), today=_local_today(moment))
    if IdentityRepository(uow.db).citizen(application.citizen_id) is not None:
        raise AlreadyExists("citizen_id", CITIZEN_ALREADY_REGISTERED)
    confirm_resident(population, application)
    citizen = open_account(application, passwords.hash, moment)

    def store(tx: Transaction) -> None:
        IdentityRepository(tx.db, tx.session).add_citizen(citizen)
        tx.emit(events.CitizenRegistered(
            citizen_id=citizen.citizen_id, full_name=citizen.full_name, phone=citizen.phone,
            email=citizen.email, address=_address_message(citizen.address),
            notification_channels=[_channel_value(c) for c in citizen.notification_channels],
        ), subject=citizen.citizen_id)

    try:
        uow.transaction(store)
    except Duplicate as exc:
        raise AlreadyExists("citizen_id", CITIZEN_ALREADY_REGISTERED) from exc
    return pb.RegisterCitizenResponse(citizen=_citizen_message(citizen))


def confirm_resident(population: PopulationRegistry, application: CheckedApplication) -> None:
    """The national population database must know this living person by this name and birth date."""
    require_match(population.verify(application.citizen_id, application.full_name,
                                    application.birth_date.isoformat()))


def _local_today(moment: datetime) -> date:
    """Ages and "not in the future" are judged by the date in Vietnam, where people live."""
    return moment.astimezone(VIETNAM).date()


def get_citizen(uow: UnitOfWork, request: pb.GetCitizenRequest, caller: Caller) -> pb.GetCitizenResponse:
    caller.require(CallerKind.CITIZEN, CallerKind.CIVIL_SERVANT, CallerKind.AGENCY, CallerKind.OPERATOR)
    if caller.kind is CallerKind.CITIZEN and caller.subject != request.citizen_id:
        raise PermissionDenied("citizen_id", "a citizen may look up only their own record")
    citizen = IdentityRepository(uow.db).citizen(request.citizen_id)
    if citizen is None:
        raise NotFound("citizen_id", "no citizen is registered with this ID")
    return pb.GetCitizenResponse(citizen=_citizen_message(citizen))


def sign_in(uow: UnitOfWork, signer: TokenSigner, passwords: PasswordHasher,
            request: pb.SignInRequest) -> pb.SignInResponse:
    citizen = IdentityRepository(uow.db).citizen(request.citizen_id)
    if not _credentials_hold(passwords, citizen.password_hash if citizen else None, request.password):
        raise Unauthenticated("password", WRONG_CREDENTIALS)
    token, expires = signer.issue(Caller(CallerKind.CITIZEN, subject=request.citizen_id))
    return pb.SignInResponse(access_token=token, expires_at=_rfc3339(expires))


def _credentials_hold(passwords: PasswordHasher, stored_hash: str | None, password: str) -> bool:
    """True only for an existing account and its password; an unknown account costs as much time."""
    if len(password) > MAX_PASSWORD:
        return False
    matches = passwords.matches(password, stored_hash or unknown_account_hash())
    return matches and stored_hash is not None


# -- businesses -------------------------------------------------------------------------------------
def register_business(uow: UnitOfWork, businesses: BusinessRegistry, request: pb.RegisterBusinessRequest,
                      caller: Caller) -> pb.RegisterBusinessResponse:
    caller.require(CallerKind.CITIZEN)
    business = check_business(request.tax_code, request.name, caller.subject, _address(request.address))
    if IdentityRepository(uow.db).citizen(caller.subject) is None:
        raise FailedPrecondition("caller", "only a registered citizen may register a business")
    require_registered(businesses.verify(business.tax_code, business.name))

    def store(tx: Transaction) -> None:
        IdentityRepository(tx.db, tx.session).add_business(business)
        tx.emit(events.BusinessRegistered(tax_code=business.tax_code, name=business.name,
                                          owner_citizen_id=business.owner_citizen_id),
                subject=business.tax_code)

    try:
        uow.transaction(store)
    except Duplicate as exc:
        raise AlreadyExists("tax_code", "a business with this tax code is already registered") from exc
    return pb.RegisterBusinessResponse(business=_business_message(business))


# -- civil servants ---------------------------------------------------------------------------------
def register_civil_servant(uow: UnitOfWork, passwords: PasswordHasher, request: pb.RegisterCivilServantRequest,
                           caller: Caller) -> pb.RegisterCivilServantResponse:
    if caller.kind is not CallerKind.OPERATOR:
        raise PermissionDenied("caller", "only an operator may register civil servants")
    civil_servant = appoint_civil_servant(request.civil_servant_id, request.full_name, request.agency_code,
                                          request.role, request.ecard_serial, request.password, passwords.hash)

    def store(tx: Transaction) -> None:
        IdentityRepository(tx.db, tx.session).add_civil_servant(civil_servant)
        tx.emit(events.CivilServantRegistered(civil_servant_id=civil_servant.civil_servant_id,
                                              agency_code=civil_servant.agency_code, role=civil_servant.role),
                subject=civil_servant.civil_servant_id)

    try:
        uow.transaction(store)
    except Duplicate as exc:
        if exc.key == "ecard_serial":
            raise AlreadyExists("ecard_serial", "this e-card is already assigned") from exc
        raise AlreadyExists("civil_servant_id", "a civil servant with this ID is already registered") from exc
    return pb.RegisterCivilServantResponse(civil_servant=_civil_servant_message(civil_servant))


def sign_in_civil_servant(uow: UnitOfWork, signer: TokenSigner, passwords: PasswordHasher,
                          request: pb.SignInCivilServantRequest) -> pb.SignInResponse:
    civil_servant = IdentityRepository(uow.db).civil_servant(request.civil_servant_id)
    holds = _credentials_hold(passwords, civil_servant.password_hash if civil_servant else None,
                              request.password)
    if civil_servant is None or not holds:
        raise Unauthenticated("password", WRONG_CIVIL_SERVANT_CREDENTIALS)
    token, expires = signer.issue(Caller(CallerKind.CIVIL_SERVANT, subject=civil_servant.civil_servant_id,
                                         agency_code=civil_servant.agency_code, role=civil_servant.role))
    return pb.SignInResponse(access_token=token, expires_at=_rfc3339(expires))
